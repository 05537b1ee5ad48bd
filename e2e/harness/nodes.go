//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// The binaries and the file of bin/ that StartNodes runs, built by
// hack/build-control-plane.sh.
const (
	KubeScheduler         = "kube-scheduler"
	KubeControllerManager = "kube-controller-manager"
	Kwok                  = "kwok"
	// KwokStages is kwok's own default stages (node-initialize,
	// node-heartbeat-with-lease, pod-ready, pod-complete, pod-delete) of the
	// pinned version, which kwokctl would give it; the kwok binary has none
	// built in.
	KwokStages = "kwok-stages.yaml"
)

// The simulated nodes.
const (
	// WindowsTaintKey and WindowsTaintValue make the taint
	// os=windows:NoSchedule that AKS-style clusters put on Windows node
	// pools, so that Linux pods without a nodeSelector stay off them.
	WindowsTaintKey   = "os"
	WindowsTaintValue = "windows"
	// KwokLabel selects the nodes kwok manages
	// (--manage-nodes-with-label-selector=type=kwok).
	KwokLabel      = "type"
	KwokLabelValue = "kwok"
)

// WindowsToleration tolerates the Windows nodes' taint.
var WindowsToleration = corev1.Toleration{Key: WindowsTaintKey, Operator: corev1.TolerationOpEqual, Value: WindowsTaintValue, Effect: corev1.TaintEffectNoSchedule}

// Controllers are the kube-controller-manager controllers StartNodes runs:
// those that turn workloads into pods, delete what they own and what is in a
// deleted namespace, and the node lifecycle controller, which lifts the
// node.kubernetes.io/not-ready:NoSchedule taint that the API server's
// TaintNodesByCondition admission puts on every new Node, once kwok reports
// it Ready. Left out are the EndpointSlice controllers, which would point the
// webhook's Service at the pod IPs kwok makes up for the chart's Deployment
// pods (nothing listens there) next to the harness's own slice, and the
// ServiceAccount token controller: every controller runs with the admin
// credentials, and the API server's ServiceAccount admission is off
// (envtest), so no token Secret is needed.
var Controllers = []string{
	"daemonset-controller",
	"deployment-controller",
	"replicaset-controller",
	"garbage-collector-controller",
	"namespace-controller",
	"node-lifecycle-controller",
}

// Nodes is the scheduling half of a cluster: kube-scheduler,
// kube-controller-manager (Controllers) and kwok from bin/, and the nodes
// kwok simulates. The DaemonSet, Deployment and ReplicaSet controllers
// create pods, the scheduler binds them, and kwok marks the pods bound to
// its nodes Running and Ready (and deletes them when asked), keeps the
// nodes Ready with leases, and runs nothing.
type Nodes struct {
	Cluster *Cluster
	// Windows and Linux are the names of the nodes, in order.
	Windows, Linux []string
	// Dir holds the components' logs.
	Dir string
	// Scheduler, ControllerManager and Kwok are the processes.
	Scheduler, ControllerManager, Kwok *Process
}

// StartNodes starts kube-controller-manager, kube-scheduler and kwok
// against the cluster's admin kubeconfig, then registers windows Windows
// nodes (win-node-1, ...: labelled kubernetes.io/os=windows, tainted
// os=windows:NoSchedule) and linux Linux nodes (linux-node-1, ...), and waits
// until kwok reports every node Ready. Neither component elects a leader
// (a lost lease would end them during an API server outage) nor serves
// HTTPS. Stop stops them and deletes the nodes.
func (c *Cluster) StartNodes(ctx context.Context, windows, linux int) (*Nodes, error) {
	start := time.Now()
	n := &Nodes{Cluster: c, Dir: filepath.Join(c.Dir, "nodes")}
	for i := 1; i <= windows; i++ {
		n.Windows = append(n.Windows, "win-node-"+strconv.Itoa(i))
	}
	for i := 1; i <= linux; i++ {
		n.Linux = append(n.Linux, "linux-node-"+strconv.Itoa(i))
	}
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		return nil, err
	}
	bins := map[string]string{}
	for _, name := range []string{KubeScheduler, KubeControllerManager, Kwok} {
		path, err := testenv.Bin(name)
		if err != nil {
			return nil, err
		}
		bins[name] = path
	}
	binDir, err := testenv.BinDir()
	if err != nil {
		return nil, err
	}
	stages := filepath.Join(binDir, KwokStages)
	if _, err := os.Stat(stages); err != nil {
		return nil, fmt.Errorf("%w: %v (run make tools)", testenv.ErrMissingBinary, err)
	}
	kubeconfig := c.Env.Kubeconfig
	fmt.Fprintf(c.Log, "starting kube-controller-manager (%s), kube-scheduler and kwok...\n", strings.Join(Controllers, ","))
	components := []struct {
		name string
		out  **Process
		args []string
	}{{
		KubeControllerManager, &n.ControllerManager, []string{
			"--kubeconfig=" + kubeconfig,
			"--controllers=" + strings.Join(Controllers, ","),
			"--leader-elect=false",
			"--secure-port=0",
			// Pods of a deleted DaemonSet or Deployment go at once.
			"--concurrent-gc-syncs=5",
		},
	}, {
		KubeScheduler, &n.Scheduler, []string{
			"--kubeconfig=" + kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
		},
	}, {
		Kwok, &n.Kwok, []string{
			"--kubeconfig=" + kubeconfig,
			"--config=" + stages,
			"--manage-nodes-with-label-selector=" + KwokLabel + "=" + KwokLabelValue,
			// No kubelet-like server (logs, exec, port-forward): nothing
			// asks for one.
			"--node-port=0",
		},
	}}
	for _, comp := range components {
		p, err := StartProcess(comp.name, filepath.Join(n.Dir, comp.name+".log"), bins[comp.name], comp.args, nil)
		if err != nil {
			n.stopProcesses()
			return nil, err
		}
		*comp.out = p
	}
	for _, name := range n.Windows {
		if err := n.register(ctx, name, "windows"); err != nil {
			n.stopProcesses()
			return nil, err
		}
	}
	for _, name := range n.Linux {
		if err := n.register(ctx, name, "linux"); err != nil {
			n.stopProcesses()
			return nil, err
		}
	}
	if err := n.waitReady(ctx); err != nil {
		n.stopProcesses()
		return nil, err
	}
	fmt.Fprintf(c.Log, "nodes Ready in %s: Windows %s, Linux %s\n", time.Since(start).Round(time.Millisecond),
		strings.Join(n.Windows, ", "), strings.Join(n.Linux, ", "))
	return n, nil
}

// register creates the Node as a kubelet would register it, for kwok.
func (n *Nodes) register(ctx context.Context, name, osName string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				corev1.LabelOSStable:   osName,
				corev1.LabelArchStable: "amd64",
				corev1.LabelHostname:   name,
				KwokLabel:              KwokLabelValue,
			},
			// kwokctl's nodes carry it; kwok does not need it.
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{OperatingSystem: osName, Architecture: "amd64"}},
	}
	if osName == "windows" {
		node.Spec.Taints = []corev1.Taint{{Key: WindowsTaintKey, Value: WindowsTaintValue, Effect: corev1.TaintEffectNoSchedule}}
	}
	_, err := n.Cluster.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	return nil
}

// waitReady waits until every node has the condition Ready=True and no
// longer the not-ready taint.
func (n *Nodes) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var notReady []string
		for _, name := range n.All() {
			node, err := n.Cluster.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !NodeReady(node) || notReadyTainted(node) {
				notReady = append(notReady, name)
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		for _, p := range []*Process{n.ControllerManager, n.Scheduler, n.Kwok} {
			if !p.Running() {
				return fmt.Errorf("%s exited: %v\n%s", p.Name, p.ExitErr(), tail(p.Logs(), 4000))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes %s not Ready (%w); kwok's log:\n%s", strings.Join(notReady, ", "), ctx.Err(), tail(n.Kwok.Logs(), 4000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func notReadyTainted(node *corev1.Node) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady {
			return true
		}
	}
	return false
}

// All returns the Windows nodes, then the Linux nodes.
func (n *Nodes) All() []string {
	return append(append([]string(nil), n.Windows...), n.Linux...)
}

// IsWindows reports whether name is one of the Windows nodes.
func (n *Nodes) IsWindows(name string) bool {
	for _, w := range n.Windows {
		if w == name {
			return true
		}
	}
	return false
}

// Logs returns the logs of the three components, for failure reports.
func (n *Nodes) Logs() map[string]string {
	out := map[string]string{}
	for _, p := range []*Process{n.ControllerManager, n.Scheduler, n.Kwok} {
		if p != nil {
			out[p.Name] = tail(p.Logs(), 20000)
		}
	}
	return out
}

// Stop deletes the nodes (while kwok still runs, so the pods bound to them
// go too), then stops the components.
func (n *Nodes) Stop(ctx context.Context) error {
	var errs []error
	for _, name := range n.All() {
		err := n.Cluster.Clientset.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting node %s: %w", name, err))
		}
	}
	n.stopProcesses()
	return errors.Join(errs...)
}

func (n *Nodes) stopProcesses() {
	for _, p := range []*Process{n.Kwok, n.Scheduler, n.ControllerManager} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
}
