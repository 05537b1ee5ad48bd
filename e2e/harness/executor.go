//go:build linux

package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// Executor is the chart's executor container, run for one node as the
// node-side process its DaemonSet pod on that node would be: bin/
// hostprocess-admission with the container's args, the pod's environment
// (NODE_NAME from spec.nodeName), its ConfigMap volumes kept in sync, and a
// token of the DaemonSet's ServiceAccount bound to that pod, which names the
// node (so the chart's ValidatingAdmissionPolicies apply as on a real node).
// Its Linux backend keeps the node's local groups in GroupFile
// (--group-file) instead of the Windows group store.
type Executor struct {
	Release *Release
	// Node is the node the executor runs for.
	Node string
	// Pod is the DaemonSet's pod on Node.
	Pod *corev1.Pod
	// Args are the arguments the process runs with.
	Args []string
	// Env is what the process gets on top of the harness's environment.
	Env []string
	// Dir holds the volumes, the kubeconfig, the token, the state and the log.
	Dir string
	// GroupFile is the group(5) file that stands for the node's local groups.
	GroupFile string
	// LogFile collects the output of every start.
	LogFile string
	// Volumes keeps the ConfigMap volumes in sync.
	Volumes *VolumeSync
	// Process is the current process (nil before Start).
	Process *Process
}

// ExecutorDaemonSet returns the release's executor DaemonSet (the chart
// renders it with executor.enabled=true).
func (r *Release) ExecutorDaemonSet() (*appsv1.DaemonSet, error) {
	ds := &appsv1.DaemonSet{}
	return ds, r.find("DaemonSet", "", ds)
}

// PrepareExecutor sets up the executor for node from the DaemonSet's pod on
// it, which the DaemonSet controller must have created. Nothing of the chart
// is changed, except in the args: each volume's mountPath is replaced by a
// local directory, the Windows --state-file by a local file, the metrics
// address is bound to the network's address, and --kubeconfig and
// --group-file are added.
func (r *Release) PrepareExecutor(ctx context.Context, node string) (*Executor, error) {
	ds, err := r.ExecutorDaemonSet()
	if err != nil {
		return nil, err
	}
	pods, err := r.Cluster.Clientset.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: metav1.FormatLabelSelector(ds.Spec.Selector),
		FieldSelector: "spec.nodeName=" + node,
	})
	if err != nil {
		return nil, err
	}
	if len(pods.Items) != 1 {
		return nil, fmt.Errorf("DaemonSet %s has %d pods on node %s, want 1", ds.Name, len(pods.Items), node)
	}
	pod := &pods.Items[0]
	if len(pod.Spec.Containers) != 1 {
		return nil, fmt.Errorf("pod %s has %d containers, the harness runs exactly one", pod.Name, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if _, err := testenv.Bin(Binary); err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}
	e := &Executor{Release: r, Node: node, Pod: pod, Dir: filepath.Join(r.Cluster.Dir, "executor-"+node)}
	if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, err
	}
	e.LogFile = filepath.Join(e.Dir, "executor.log")
	e.GroupFile = filepath.Join(e.Dir, "group")

	e.Volumes = &VolumeSync{Client: r.Cluster.Clientset, Interval: 500 * time.Millisecond}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s names no volume", m.Name)
		}
		// The API server adds the ServiceAccount token volume only with its
		// ServiceAccount admission, which envtest turns off.
		if v.ConfigMap == nil {
			return nil, fmt.Errorf("volume %s: only configMap volumes are supported for the executor", v.Name)
		}
		dir := filepath.Join(e.Dir, "volumes", v.Name)
		if err := e.Volumes.Add(r.Namespace, v, dir); err != nil {
			return nil, err
		}
		mounts[m.MountPath] = dir
	}
	for _, a := range c.Args {
		switch {
		case strings.HasPrefix(a, "--kubeconfig"), strings.HasPrefix(a, "--group-file"):
			return nil, fmt.Errorf("container args already set %s", a)
		case strings.HasPrefix(a, "--state-file="):
			// A Windows path on the node.
			a = "--state-file=" + filepath.Join(e.Dir, "executor-state.json")
		case strings.HasPrefix(a, "--metrics-bind-address=:"):
			a = "--metrics-bind-address=" + net.JoinHostPort(r.Cluster.Network.Address, strings.TrimPrefix(a, "--metrics-bind-address=:"))
		}
		e.Args = append(e.Args, replaceMountPaths(a, mounts))
	}
	for _, ev := range c.Env {
		value := ev.Value
		if f := ev.ValueFrom; f != nil {
			if f.FieldRef == nil {
				return nil, fmt.Errorf("env %s: only fieldRef is supported", ev.Name)
			}
			switch f.FieldRef.FieldPath {
			case "spec.nodeName":
				value = pod.Spec.NodeName
			case "metadata.name":
				value = pod.Name
			case "metadata.namespace":
				value = pod.Namespace
			default:
				return nil, fmt.Errorf("env %s: fieldRef %s is not supported", ev.Name, f.FieldRef.FieldPath)
			}
		}
		e.Env = append(e.Env, ev.Name+"="+value)
	}
	kubeconfig, err := e.writeKubeconfig(ctx)
	if err != nil {
		return nil, err
	}
	e.Args = append(e.Args, "--kubeconfig="+kubeconfig, "--group-file="+e.GroupFile)
	return e, nil
}

// writeKubeconfig requests a token of the pod's ServiceAccount bound to the
// pod, as the kubelet's projected token is, so that it carries the node's
// name (authentication.kubernetes.io/node-name).
func (e *Executor) writeKubeconfig(ctx context.Context) (string, error) {
	r := e.Release
	sa := e.Pod.Spec.ServiceAccountName
	tr, err := r.Cluster.Clientset.CoreV1().ServiceAccounts(r.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptr.To(int64(TokenLifetime.Seconds())),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: e.Pod.Name, UID: e.Pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s bound to pod %s: %w", r.Namespace, sa, e.Pod.Name, err)
	}
	return writeTokenKubeconfig(e.Dir, r.Namespace, r.Cluster.Config.Host, r.Cluster.Config.CAData, tr.Status.Token)
}

// SetGroupFile makes the next Start keep the node's local groups in path.
func (e *Executor) SetGroupFile(path string) {
	for i, a := range e.Args {
		if strings.HasPrefix(a, "--group-file=") {
			e.Args[i] = "--group-file=" + path
		}
	}
	e.GroupFile = path
}

// Start syncs the volumes and starts the executor.
func (e *Executor) Start(ctx context.Context) error {
	if e.Process != nil && e.Process.Running() {
		return fmt.Errorf("executor already running (pid %d)", e.Process.Pid())
	}
	if e.Volumes.cancel == nil {
		if err := e.Volumes.Start(ctx); err != nil {
			return err
		}
	}
	bin, err := testenv.Bin(Binary)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Release.Cluster.Log, "starting the executor for node %s: %s %s %s\n", e.Node, strings.Join(e.Env, " "), bin, strings.Join(e.Args, " "))
	p, err := StartProcess("executor-"+e.Node, e.LogFile, bin, e.Args, e.Env)
	if err != nil {
		return err
	}
	e.Process = p
	return nil
}

// Stop stops the executor (SIGTERM: it ends its runs and flushes its
// reports) and the volume sync.
func (e *Executor) Stop(grace time.Duration) {
	if e.Process != nil {
		e.Process.Stop(grace)
	}
	e.Volumes.Stop()
}

// Logs returns the output of every start so far.
func (e *Executor) Logs() string {
	b, err := os.ReadFile(e.LogFile)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
