//go:build linux

// Command demo brings up what the e2e suite tests against (package
// e2e/harness), installs the Helm chart the same way, applies every example
// and prints what happened to each. Then it keeps the cluster running until
// SIGTERM or SIGINT (make demo-down), or tears it down at once with -exit.
//
// hack/demo.sh runs it inside a network namespace of its own; it refuses to
// run anywhere else.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const (
	chart            = "charts/hostprocess-admission"
	releaseName      = "hostprocess-admission"
	releaseNamespace = "hostprocess-system"

	// The nodes kwok simulates.
	windowsNodes = 2
	linuxNodes   = 1
)

// nodeValues are the chart values for the tainted Windows nodes, on top of
// examples/config.yaml: the webhook's default toleration for HostProcess
// pods, also added to the templates of new HostProcess workloads
// (defaults.workloadTemplates, so that the DaemonSet controller places
// examples/admitted/csi-proxy.yaml's pods on the Windows nodes), and the
// executor DaemonSet (in the release namespace, which the webhook never sees)
// with its own.
var nodeValues = []string{
	"--set-json", `config.defaults.tolerations=[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]`,
	"--set", "config.defaults.workloadTemplates=true",
	"--set", "executor.enabled=true",
	"--set-json", `executor.tolerations=[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]`,
}

// ReadyLine is printed once the cluster is up and the examples are applied;
// hack/demo.sh waits for it.
const ReadyLine = "demo: ready"

func main() {
	state := flag.String("state", "", "directory for the kubeconfig and the helm homes the user gets (required)")
	exit := flag.Bool("exit", false, "tear everything down after applying the examples")
	verbose := flag.Bool("v", false, "print the harness's own progress (control plane, webhook command line)")
	flag.Parse()
	if *state == "" {
		fmt.Fprintln(os.Stderr, "demo: -state is required")
		os.Exit(2)
	}
	if err := run(*state, *exit, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(state string, exit, verbose bool) error {
	network, err := harness.NetworkFromEnv()
	if err != nil {
		return err
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var log io.Writer = io.Discard
	if verbose {
		log = os.Stdout
	}
	step("starting etcd and kube-apiserver from bin/ in network namespace %s", network.Name)
	cluster, err := harness.StartCluster(network, log)
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the webhook, the nodes and the control plane")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping:", err)
		}
	}()
	step("starting kube-controller-manager, kube-scheduler and kwok; registering %d Windows nodes (tainted %s=%s:NoSchedule) and %d Linux node",
		windowsNodes, harness.WindowsTaintKey, harness.WindowsTaintValue, linuxNodes)
	nodes, err := cluster.StartNodes(ctx, windowsNodes, linuxNodes)
	if err != nil {
		return err
	}

	examples, configFile, err := harness.LoadExamples(root)
	if err != nil {
		return err
	}
	values, err := harness.ConfigValues(filepath.Join(root, configFile), cluster.Dir)
	if err != nil {
		return err
	}
	step("helm install %s %s -n %s --create-namespace -f <%s as the chart's config values> %s", releaseName, chart, releaseNamespace, configFile, strings.Join(nodeValues, " "))
	release, res := cluster.HelmInstall(ctx, chart, releaseName, releaseNamespace, append([]string{"-f", values}, nodeValues...)...)
	if res.Failed() {
		return fmt.Errorf("%s", res)
	}
	step("running the chart's webhook container (bin/hostprocess-admission serve with the Deployment's args and a token of its ServiceAccount)")
	webhook, err := release.PrepareWebhook(ctx)
	if err != nil {
		return err
	}
	if err := webhook.Start(ctx); err != nil {
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := webhook.WaitReady(readyCtx); err != nil {
		return err
	}
	if err := release.WaitCABundle(readyCtx, releaseName+"-cert"); err != nil {
		return err
	}
	go webhook.RefreshToken(ctx, time.Hour)
	step("the webhook serves %s:9443; the API server calls it as %s.%s.svc through the chart's Service", network.Address, releaseName, releaseNamespace)

	fmt.Println()
	s := summary{templateDefaults: map[string][]string{}}
	for _, ex := range examples {
		applyExample(ctx, cluster, ex, &s)
	}
	fmt.Println()
	fmt.Println(s)
	fmt.Println()
	if err := showException(ctx, cluster, root, "hostprocess-examples"); err != nil {
		return err
	}
	fmt.Println()
	if err := showScheduling(ctx, cluster, nodes, s.templateDefaults); err != nil {
		return err
	}
	fmt.Println()

	if exit {
		return nil
	}
	if err := writeAccess(cluster, state); err != nil {
		return err
	}
	fmt.Printf(`The cluster keeps running. Its API server listens inside network namespace %[1]s only:

  export KUBECONFIG=%[2]s/kubeconfig
  ip netns exec %[1]s %[3]s/bin/kubectl get pods -A

or let the wrappers in %[2]s/bin run kubectl and helm there for you:

  export PATH=%[2]s/bin:$PATH
  kubectl apply -f my-hostprocess-pod.yaml
  helm upgrade %[4]s %[5]s -n %[6]s --reuse-values --set config.mode=warn

The webhook's log: %[7]s
Stop everything with: make demo-down
`, network.Name, state, root, releaseName, filepath.Join(root, chart), releaseNamespace, webhook.LogFile)
	fmt.Println(ReadyLine)

	select {
	case <-ctx.Done():
	case <-webhook.Process.Exited():
		return fmt.Errorf("the webhook exited: %v\n%s", webhook.Process.ExitErr(), webhook.Logs())
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

type summary struct {
	admitted, warned, rejectedByWebhook, rejectedByAPIServer, other int
	// templateDefaults is what the webhook added to the pod templates of
	// the admitted workloads (templateDefaults), by workloadKey.
	templateDefaults map[string][]string
}

// workloadKey names a workload in summary.templateDefaults.
func workloadKey(kind, namespace, name string) string {
	return kind + " " + namespace + "/" + name
}

func (s summary) String() string {
	total := s.admitted + s.rejectedByWebhook + s.rejectedByAPIServer + s.other
	out := fmt.Sprintf("Summary: %d manifests applied: %d admitted (%d with warnings), %d rejected by the webhook, %d rejected by the API server's own validation",
		total, s.admitted, s.warned, s.rejectedByWebhook, s.rejectedByAPIServer)
	if s.other > 0 {
		out += fmt.Sprintf(", %d failed otherwise", s.other)
	}
	return out
}

// applyExample applies one file and prints the outcome the user would see.
func applyExample(ctx context.Context, c *harness.Cluster, ex harness.Example, s *summary) {
	fmt.Printf("$ kubectl apply -f %s\n", ex.Path)
	res := c.Kubectl(ctx, "apply", "-f", ex.Path)
	warnings := res.Warnings()
	if !res.Failed() {
		s.admitted++
		if len(warnings) > 0 {
			s.warned++
		}
		fmt.Printf("  admitted: %s\n", strings.TrimSpace(res.Stdout))
		for _, w := range warnings {
			fmt.Printf("  Warning: %s\n", w)
		}
		if ex.Kind == "Pod" {
			sel := c.Kubectl(ctx, "get", "pod", ex.Name, "-n", ex.Namespace, "-o", "jsonpath={.spec.nodeSelector}")
			if !sel.Failed() {
				fmt.Printf("  nodeSelector: %s\n", sel.Stdout)
			}
		}
		added, err := templateDefaults(ctx, c, ex.Path)
		if err != nil {
			fmt.Printf("  (reading its pod template back: %v)\n", err)
		}
		if len(added) > 0 {
			s.templateDefaults[workloadKey(ex.Kind, ex.Namespace, ex.Name)] = added
			fmt.Printf("  added to its pod template by the webhook (defaults.workloadTemplates): %s\n", strings.Join(added, "; "))
		}
		return
	}
	msg := res.Errors()
	switch {
	case strings.Contains(msg, "admission webhook "):
		s.rejectedByWebhook++
		// kubectl's prefix names the file again; the webhook's message is
		// the part that matters.
		if i := strings.Index(msg, "admission webhook "); i >= 0 {
			msg = msg[i:]
		}
		fmt.Printf("  rejected: %s\n", msg)
	case strings.Contains(msg, " is invalid: "):
		s.rejectedByAPIServer++
		fmt.Printf("  rejected by the API server's own validation (before any validating webhook runs):\n    %s\n",
			strings.ReplaceAll(msg, "\n", "\n    "))
	default:
		s.other++
		fmt.Printf("  failed: %s\n", msg)
	}
	for _, w := range warnings {
		fmt.Printf("  Warning: %s\n", w)
	}
}

// templateDefaults returns what the mutating webhook added to the pod
// template of the workload in file under defaults.workloadTemplates: the
// node selector entries and the tolerations that the object in the cluster
// has and the file's first object does not. It returns nothing for Pods and
// for kinds without a pod template.
func templateDefaults(ctx context.Context, c *harness.Cluster, file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	objs, err := harness.DecodeObjects(string(data))
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	u := objs[0]
	k := policy.KindFor(u.GroupVersionKind().GroupKind())
	if k == nil || !k.Workload() {
		return nil, nil
	}
	written, live := k.New(), k.New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, written); err != nil {
		return nil, err
	}
	args := []string{"get", k.GroupResource().String(), u.GetName(), "-o", "json"}
	if u.GetNamespace() != "" {
		args = append(args, "-n", u.GetNamespace())
	}
	res := c.Kubectl(ctx, args...)
	if res.Failed() {
		return nil, fmt.Errorf("%s", res)
	}
	if err := json.Unmarshal([]byte(res.Stdout), live); err != nil {
		return nil, err
	}
	before, after := k.Extract(written).Spec, k.Extract(live).Spec
	if before == nil || after == nil {
		return nil, nil
	}
	var added []string
	for _, key := range slices.Sorted(maps.Keys(after.NodeSelector)) {
		if _, ok := before.NodeSelector[key]; !ok {
			added = append(added, fmt.Sprintf("nodeSelector %s: %s", key, after.NodeSelector[key]))
		}
	}
	for _, t := range after.Tolerations {
		if slices.ContainsFunc(before.Tolerations, func(b corev1.Toleration) bool { return b.MatchToleration(&t) }) {
			continue
		}
		j, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		added = append(added, "toleration "+string(j))
	}
	return added, nil
}

// writeAccess copies the admin kubeconfig into state and writes kubectl and
// helm wrappers that run bin/kubectl and bin/helm inside the network
// namespace with it.
func writeAccess(c *harness.Cluster, state string) error {
	if err := os.MkdirAll(filepath.Join(state, "bin"), 0o755); err != nil {
		return err
	}
	kc, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(state, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	bin, err := testenv.BinDir()
	if err != nil {
		return err
	}
	for _, name := range []string{testenv.Kubectl, testenv.Helm} {
		script := fmt.Sprintf(`#!/bin/sh
# Runs bin/%[1]s inside the demo's network namespace, where its API server is.
export KUBECONFIG=%[2]s
export HELM_CONFIG_HOME=%[3]s/helm/config HELM_CACHE_HOME=%[3]s/helm/cache HELM_DATA_HOME=%[3]s/helm/data
exec ip netns exec %[4]s %[5]s "$@"
`, name, kubeconfig, state, c.Network.Name, filepath.Join(bin, name))
		if err := os.WriteFile(filepath.Join(state, "bin", name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// settleTimeout bounds the wait for the controllers, the scheduler and kwok
// to place the HostProcess pods; settleQuiet is how long nothing may change
// for them to count as placed.
const (
	settleTimeout = 90 * time.Second
	settleQuiet   = 3 * time.Second
)

// isHostProcess reports whether the pod spec sets windowsOptions.hostProcess
// at the pod level or in any container.
func isHostProcess(spec *corev1.PodSpec) bool {
	hp := func(w *corev1.WindowsSecurityContextOptions) bool {
		return w != nil && w.HostProcess != nil && *w.HostProcess
	}
	if spec.SecurityContext != nil && hp(spec.SecurityContext.WindowsOptions) {
		return true
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			if c.SecurityContext != nil && hp(c.SecurityContext.WindowsOptions) {
				return true
			}
		}
	}
	return false
}

// hostProcessPods lists every HostProcess pod and a summary of where each is,
// which is the same from one call to the next once nothing moves.
func hostProcessPods(ctx context.Context, c *harness.Cluster) ([]corev1.Pod, string, error) {
	list, err := c.Clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, "", err
	}
	var pods []corev1.Pod
	var state strings.Builder
	for _, p := range list.Items {
		if !isHostProcess(&p.Spec) {
			continue
		}
		pods = append(pods, p)
		fmt.Fprintf(&state, "%s/%s %s %s %s;", p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase, unschedulable(&p))
	}
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	return pods, state.String(), nil
}

// placed reports whether every pod is Running on a node or found
// unschedulable by the scheduler.
func placed(pods []corev1.Pod) bool {
	for _, p := range pods {
		if (p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning) && unschedulable(&p) == "" {
			return false
		}
	}
	return true
}

func unschedulable(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message
		}
	}
	return ""
}

// showScheduling waits until the controllers, the scheduler and kwok have
// placed the HostProcess pods, prints where each runs, why HostProcess
// workloads lack pods or how the webhook's template defaults placed them,
// and the Scheduling line.
func showScheduling(ctx context.Context, c *harness.Cluster, nodes *harness.Nodes, templateDefaults map[string][]string) error {
	step("waiting for the controllers, the scheduler and kwok to place the HostProcess pods")
	deadline := time.Now().Add(settleTimeout)
	var (
		pods        []corev1.Pod
		last        string
		stableSince time.Time
	)
	for {
		ps, state, err := hostProcessPods(ctx, c)
		if err != nil {
			return err
		}
		if state != last {
			last, stableSince = state, time.Now()
		}
		pods = ps
		if placed(ps) && time.Since(stableSince) >= settleQuiet {
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("  (still moving after %s; showing them as they are)\n", settleTimeout)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}

	osOf := map[string]string{}
	for _, n := range nodes.Windows {
		osOf[n] = "windows"
	}
	for _, n := range nodes.Linux {
		osOf[n] = "linux"
	}
	fmt.Printf("\nWhere the HostProcess pods run (kwok simulates %s: windows, tainted %s=%s:NoSchedule; %s: linux):\n",
		strings.Join(nodes.Windows, ", "), harness.WindowsTaintKey, harness.WindowsTaintValue, strings.Join(nodes.Linux, ", "))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  POD\tNODE\tOS\tSTATUS")
	onWindows, onLinux := 0, 0
	for _, p := range pods {
		node, nodeOS, status := "-", "-", string(p.Status.Phase)
		if p.Spec.NodeName != "" {
			node, nodeOS = p.Spec.NodeName, osOf[p.Spec.NodeName]
		}
		if msg := unschedulable(&p); msg != "" && p.Spec.NodeName == "" {
			status = "Pending: " + msg
		}
		if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			switch nodeOS {
			case "windows":
				onWindows++
			case "linux":
				onLinux++
			}
		}
		fmt.Fprintf(tw, "  %s/%s\t%s\t%s\t%s\n", p.Namespace, p.Name, node, nodeOS, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := explainWorkloads(ctx, c, templateDefaults); err != nil {
		return err
	}
	fmt.Printf("\nScheduling: %d HostProcess pods running on Windows nodes, %d on Linux nodes\n", onWindows, onLinux)
	return nil
}

// explainWorkloads prints, for each HostProcess DaemonSet or Deployment
// with fewer pods than it wants, why: a DaemonSet whose template does not
// tolerate the Windows taint gets no pod there (the DaemonSet controller
// decides from the template; the webhook's default toleration is for pods,
// and for templates only under defaults.workloadTemplates), and a ReplicaSet
// whose pods the webhook denies says so in its events. For each HostProcess
// DaemonSet whose template the webhook defaulted (templateDefaults, by
// workloadKey) it prints what that did.
func explainWorkloads(ctx context.Context, c *harness.Cluster, templateDefaults map[string][]string) error {
	taint := corev1.Taint{Key: harness.WindowsTaintKey, Value: harness.WindowsTaintValue, Effect: corev1.TaintEffectNoSchedule}
	dss, err := c.Clientset.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ds := range dss.Items {
		if !isHostProcess(&ds.Spec.Template.Spec) {
			continue
		}
		if ds.Status.NumberReady == ds.Status.DesiredNumberScheduled && ds.Status.DesiredNumberScheduled > 0 {
			if added := templateDefaults[workloadKey("DaemonSet", ds.Namespace, ds.Name)]; len(added) > 0 {
				fmt.Printf("  DaemonSet %s/%s: %d of %d pods ready: the webhook added %s to its template (defaults.workloadTemplates), so the DaemonSet controller placed its pods on the Windows nodes\n",
					ds.Namespace, ds.Name, ds.Status.NumberReady, ds.Status.DesiredNumberScheduled, strings.Join(added, " and "))
			}
			continue
		}
		tolerates := false
		for _, t := range ds.Spec.Template.Spec.Tolerations {
			if t.ToleratesTaint(klog.Background(), &taint, false) {
				tolerates = true
			}
		}
		why := "no node fits its template"
		if !tolerates {
			why = fmt.Sprintf("its template does not tolerate the Windows nodes' taint %s=%s:NoSchedule (the DaemonSet controller decides per node from the template; the webhook's default toleration is added to pods, and to templates only under defaults.workloadTemplates)",
				taint.Key, taint.Value)
		}
		fmt.Printf("  DaemonSet %s/%s: %d of %d pods ready: %s\n", ds.Namespace, ds.Name, ds.Status.NumberReady, ds.Status.DesiredNumberScheduled, why)
	}
	deps, err := c.Clientset.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, d := range deps.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if !isHostProcess(&d.Spec.Template.Spec) || d.Status.ReadyReplicas >= want {
			continue
		}
		why := ""
		events, err := c.Clientset.CoreV1().Events(d.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=ReplicaSet,reason=FailedCreate"})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if strings.HasPrefix(e.InvolvedObject.Name, d.Name+"-") {
				why = ": the ReplicaSet controller's pods are refused: " + strings.TrimPrefix(e.Message, "(combined from similar events): ")
			}
		}
		fmt.Printf("  Deployment %s/%s: %d of %d pods ready%s\n", d.Namespace, d.Name, d.Status.ReadyReplicas, want, why)
	}
	return nil
}
