//go:build !windows

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/executor"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// The chart is rendered as docs/install.md installs it.
const (
	executorRelease   = "hostprocess-admission"
	executorNamespace = "hostprocess-system"
	executorSA        = "hostprocess-admission-executor"
)

// renderExecutorChart renders the chart with executor.enabled=true and the
// executor values of executor/testdata/chart-values.yaml, checked against
// the chart's values.schema.json. Until the executor's schema is merged into
// the chart, a copy of the chart gets executor/testdata/chart-schema.json.
func renderExecutorChart(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := copyDir(t, filepath.Join(root, "charts", "hostprocess-admission"))
	schemaPath := filepath.Join(chart, "values.schema.json")
	var schema map[string]any
	readJSON(t, schemaPath, &schema)
	props := schema["properties"].(map[string]any)
	if _, ok := props["executor"]; !ok {
		var fragment map[string]any
		readJSON(t, filepath.Join(root, "executor", "testdata", "chart-schema.json"), &fragment)
		props["executor"] = fragment
		data, err := json.MarshalIndent(schema, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	values := []string{"-f", filepath.Join(root, "executor", "testdata", "chart-values.yaml"), "--set", "executor.enabled=true"}
	executorHelm(t, append([]string{"lint", chart, "--namespace", executorNamespace}, values...)...)
	out := executorHelm(t, append([]string{"template", executorRelease, chart, "--namespace", executorNamespace}, values...)...)
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatal(err)
		}
		if obj != nil {
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
}

func executorHelm(t *testing.T, args ...string) string {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.RequireBin(t, testenv.Helm), args...)
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"), "KUBECONFIG="+filepath.Join(home, "none"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func findObject[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			var v T
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &v, true); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return &v
		}
	}
	t.Fatalf("no %s %s in the rendered chart", kind, name)
	return nil
}

func TestExecutorChartDaemonSetIsAdmittedByTheWebhooksPolicy(t *testing.T) {
	objs := renderExecutorChart(t)
	ds := findObject[appsv1.DaemonSet](t, objs, "DaemonSet", executorSA)

	cfg, err := config.Decode([]byte(`apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
namespaceRules:
- namespaces: [hostprocess-system]
  allowedUsers: ['NT AUTHORITY\SYSTEM']
  allowedImages: ['ghcr.io/hostprocess-admission/hostprocess-admission:*']
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := policy.Extract(ds)
	if err != nil {
		t.Fatal(err)
	}
	in := policy.Input{Namespace: policy.Namespace{Name: executorNamespace}, Spec: tmpl.Spec, SpecPath: tmpl.SpecPath}
	res := p.Evaluate(in)
	if !res.HostProcess || !res.Allowed() || len(res.Warnings) != 0 {
		t.Errorf("Evaluate = %+v, want a HostProcess pod template admitted without warnings", res)
	}
	if ops := p.Default(in); ops != nil {
		t.Errorf("the webhook would add %v to the executor's pods; the chart should set it", ops)
	}
	// The namespace rule is what admits it.
	in.Namespace.Name = "elsewhere"
	res = p.Evaluate(in)
	if len(res.Violations) != 1 || res.Violations[0].Rule != policy.RuleNamespace {
		t.Errorf("in another namespace: %+v, want one namespace violation", res.Violations)
	}
}

func TestExecutorChartWiring(t *testing.T) {
	objs := renderExecutorChart(t)
	ds := findObject[appsv1.DaemonSet](t, objs, "DaemonSet", executorSA)
	spec := ds.Spec.Template.Spec
	c := spec.Containers[0]
	if spec.SecurityContext.WindowsOptions == nil || *spec.SecurityContext.WindowsOptions.HostProcess != true ||
		*spec.SecurityContext.WindowsOptions.RunAsUserName != `NT AUTHORITY\SYSTEM` || !spec.HostNetwork ||
		!reflect.DeepEqual(spec.NodeSelector, map[string]string{"kubernetes.io/os": "windows"}) || spec.ServiceAccountName != executorSA {
		t.Errorf("pod spec: windowsOptions %+v, hostNetwork %t, nodeSelector %v, serviceAccount %s", spec.SecurityContext.WindowsOptions, spec.HostNetwork, spec.NodeSelector, spec.ServiceAccountName)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "NODE_NAME" || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("env = %+v, want NODE_NAME from spec.nodeName", c.Env)
	}

	// Every argument is a flag of the executor command, and the directories
	// it names are the mounted ConfigMaps, which the chart renders.
	cmd := newExecutorCommand()
	if c.Args[0] != "executor" {
		t.Fatalf("args = %v", c.Args)
	}
	if err := cmd.ParseFlags(c.Args[1:]); err != nil {
		t.Fatalf("args %v: %v", c.Args, err)
	}
	flag := func(name string) string { return cmd.Flags().Lookup(name).Value.String() }
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" || !m.ReadOnly {
			t.Errorf("mount %s: subPath %q, readOnly %t; want a read-only directory", m.Name, m.SubPath, m.ReadOnly)
		}
		mounts[m.MountPath] = m.Name
	}
	configMaps := map[string]string{}
	for _, v := range spec.Volumes {
		configMaps[v.Name] = v.ConfigMap.Name
	}
	if got, want := configMaps[mounts[flag("tasks-dir")]], "hostprocess-admission-executor-tasks"; got != want {
		t.Errorf("--tasks-dir %s is ConfigMap %q, want %q", flag("tasks-dir"), got, want)
	}
	if got, want := configMaps[mounts[filepath.Dir(flag("config"))]], "hostprocess-admission-config"; got != want || filepath.Base(flag("config")) != "config.yaml" {
		t.Errorf("--config %s is in ConfigMap %q, want config.yaml of %q", flag("config"), got, want)
	}
	if flag("namespace") != executorNamespace || flag("metrics-bind-address") != ":9090" {
		t.Errorf("--namespace %s --metrics-bind-address %s", flag("namespace"), flag("metrics-bind-address"))
	}
	webhookConfig := findObject[corev1.ConfigMap](t, objs, "ConfigMap", "hostprocess-admission-config")
	if _, err := config.Decode([]byte(webhookConfig.Data["config.yaml"])); err != nil {
		t.Errorf("the configuration the executor reads: %v", err)
	}

	// The example task loads.
	tasks := findObject[corev1.ConfigMap](t, objs, "ConfigMap", "hostprocess-admission-executor-tasks")
	if len(tasks.Data) != 1 {
		t.Fatalf("tasks ConfigMap data = %v, want the one example", tasks.Data)
	}
	specs, err := executor.ParseTasks("windows-version.yaml", []byte(tasks.Data["windows-version.yaml"]))
	if err != nil || len(specs) != 1 || specs[0].Name != "windows-version" {
		t.Errorf("example task: %+v, %v", specs, err)
	}
}

// TestExecutorReportsWithTheChartsRBAC runs the executor command as the
// chart's ServiceAccount, with the token of an executor pod on win-rbac where
// a HostProcess container finds it, against a real API server with the
// chart's RBAC and admission policies; then, with the tokens of executor pods
// on two nodes and a token bound to no node, it checks that each node's own
// writes work and that every write about another node, and every write of a
// token that names no node, is refused with a message naming the node.
func TestExecutorReportsWithTheChartsRBAC(t *testing.T) {
	objs := renderExecutorChart(t)
	env := testenv.Start(t, testenv.WithLogger(logr.Discard()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: executorNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
		"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true}
	for _, o := range objs {
		if kinds[o.GetKind()] && strings.Contains(o.GetName(), "executor") || o.GetName() == "hostprocess-admission-config" {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatalf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
	const (
		nodeName  = "win-rbac"
		otherNode = "win-other"
		linuxNode = "linux-1"
	)
	for _, n := range []string{nodeName, otherNode, linuxNode} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// The ServiceAccount's files, where a HostProcess container has them,
	// with the token the kubelet of win-rbac gets for its executor pod.
	token := executorPodToken(ctx, t, admin, nodeName)
	sandbox := t.TempDir()
	saDir := filepath.Join(sandbox, filepath.FromSlash(executor.ServiceAccountDir))
	if err := os.MkdirAll(saDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"token": token, "ca.crt": string(env.Config.CAData), "namespace": executorNamespace} {
		if err := os.WriteFile(filepath.Join(saDir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(executor.SandboxMountPointEnv, sandbox)
	t.Setenv("KUBERNETES_SERVICE_HOST", u.Hostname())
	t.Setenv("KUBERNETES_SERVICE_PORT", u.Port())

	// The API server loads new admission policies within seconds; a token
	// that names no node is refused once they are.
	nodeless := tokenClient(t, env.Config, nodelessToken(ctx, t, admin))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := nodeless.CoreV1().ConfigMaps(executorNamespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-executor-status-" + nodeName}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the executor's ValidatingAdmissionPolicies were not in force after 30s")
		}
	}

	tasksDir := t.TempDir()
	task := "apiVersion: executor.hostprocess.dev/v1alpha1\nkind: Task\nname: hello\ncommand: [/bin/sh, -c, echo hello]\n"
	if err := os.WriteFile(filepath.Join(tasksDir, "hello.yaml"), []byte(task), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = runExecutor(ctx, &stdout, &stderr, executorOptions{tasksDir: tasksDir, nodeName: nodeName, metricsAddress: "0",
		reloadInterval: executor.DefaultReloadInterval, once: true})
	if err != nil {
		t.Fatalf("executor --once: %v\n%s", err, stderr.String())
	}
	wantLog := fmt.Sprintf("executor: reporting to Kubernetes at https://%s: Events on node win-rbac, status in ConfigMap hostprocess-system/hostprocess-executor-status-win-rbac\n", u.Host)
	if stderr.String() != wantLog {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), wantLog)
	}
	if !strings.Contains(stdout.String(), `"event":"runFinished"`) {
		t.Errorf("no runFinished JSON line:\n%s", stdout.String())
	}
	events, err := admin.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + nodeName})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) != 1 || events.Items[0].Reason != "TaskSucceeded" || !strings.HasPrefix(events.Items[0].Message, `Task "hello" succeeded after `) {
		t.Errorf("Events = %+v, want one TaskSucceeded for hello", events.Items)
	}
	cm, err := admin.CoreV1().ConfigMaps(executorNamespace).Get(ctx, "hostprocess-executor-status-win-rbac", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st executor.TaskStatus
	if err := json.Unmarshal([]byte(cm.Data["hello"]), &st); err != nil || st.SuccessCount != 1 || st.LastRun.Output.Text != "hello\n" {
		t.Errorf("status of hello = %q (%v)", cm.Data["hello"], err)
	}

	// Each node's own writes, as ensureLocalGroups reports them on Windows,
	// with the token of its own executor pod.
	cfg, _, err := executor.InClusterConfig()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	other := tokenClient(t, env.Config, executorPodToken(ctx, t, admin, otherNode))
	groupsValue := config.LocalGroupsReadyValue([]string{"hpc-agents"})
	for node, client := range map[string]kubernetes.Interface{nodeName: sa, otherNode: other} {
		rep, err := executor.NewKubeReporter(executor.KubeReporterOptions{Client: client, Node: node, Namespace: executorNamespace})
		if err != nil {
			t.Fatal(err)
		}
		_ = rep.RunFinished(ctx, executor.RunReport{Node: node, Task: executor.BuiltinEnsureLocalGroups, Outcome: executor.OutcomeSucceeded,
			LocalGroups: &executor.LocalGroupsStatus{Ready: true, LabelValue: groupsValue}})
		if err := rep.Flush(ctx); err != nil {
			t.Fatalf("reporting ensureLocalGroups of %s with its own token: %v", node, err)
		}
		n, err := admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Labels[executor.LocalGroupsReadyLabel] != groupsValue {
			t.Errorf("labels of %s = %v, want %s=%s", node, n.Labels, executor.LocalGroupsReadyLabel, groupsValue)
		}
		status, err := admin.CoreV1().ConfigMaps(executorNamespace).Get(ctx, executor.StatusConfigMapName(node), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(status.Data[executor.BuiltinEnsureLocalGroups]), &st); err != nil || st.SuccessCount != 1 {
			t.Errorf("status of ensureLocalGroups on %s = %q (%v)", node, status.Data[executor.BuiltinEnsureLocalGroups], err)
		}
		evs, err := admin.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + node + ",reason=TaskSucceeded"})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(evs.Items); n == 0 {
			t.Errorf("no TaskSucceeded Event on %s", node)
		}
	}

	// Nothing more: RBAC refuses the rest, the admission policies what RBAC
	// cannot tell apart. Requests are dry runs.
	dry := []string{metav1.DryRunAll}
	labelPatch := func(key, value string) []byte {
		return []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value))
	}
	webhookConfig, err := admin.CoreV1().ConfigMaps(executorNamespace).Get(ctx, "hostprocess-admission-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webhookConfig.Data = map[string]string{"config.yaml": "exemptions: {namespaces: [everywhere]}"}
	otherStatus, err := admin.CoreV1().ConfigMaps(executorNamespace).Get(ctx, executor.StatusConfigMapName(otherNode), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherStatus.Data = map[string]string{"forged": `{"successCount":1000}`}
	// win-rbac's status as it is now, so that an update of it is judged by
	// the admission policies rather than refused as stale.
	cm, err = admin.CoreV1().ConfigMaps(executorNamespace).Get(ctx, executor.StatusConfigMapName(nodeName), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["forged"] = `{"successCount":1000}`
	nodeEvent := func(node, instance string) *eventsv1.Event {
		return &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: node + ".forged", Namespace: "default"}, EventTime: metav1.NowMicro(),
			ReportingController: executor.ReportingController, ReportingInstance: instance, Action: executor.EventAction,
			Reason: "TaskSucceeded", Type: corev1.EventTypeNormal, Note: "forged",
			Regarding: corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node}}
	}
	createEvent := func(client kubernetes.Interface, e *eventsv1.Event) func() error {
		return func() error {
			_, err := client.EventsV1().Events("default").Create(ctx, e, metav1.CreateOptions{DryRun: dry})
			return err
		}
	}
	podEvent := nodeEvent(nodeName, "hostprocess-executor-"+nodeName)
	podEvent.Regarding = corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "web"}
	const nodelessMessage = "the node executor's token names no node (authentication.kubernetes.io/node-name): only the token of an executor pod on a node (Kubernetes 1.30 and later) may write"
	const ownStatus = "the node executor of win-rbac may write only its own status ConfigMap hostprocess-executor-status-win-rbac, not "
	denied := []struct {
		name    string
		call    func() error
		forbids string
	}{
		{"rewriting the webhook's configuration", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Update(ctx, webhookConfig, metav1.UpdateOptions{DryRun: dry})
			return err
		}, ownStatus + "hostprocess-admission-config"},
		{"creating another ConfigMap", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{DryRun: dry})
			return err
		}, ownStatus + "other"},
		{"replacing another node's status ConfigMap", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Update(ctx, otherStatus, metav1.UpdateOptions{DryRun: dry})
			return err
		}, ownStatus + "hostprocess-executor-status-win-other"},
		{"creating the status ConfigMap of a node that has none yet", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: executor.StatusConfigMapName(linuxNode)}}, metav1.CreateOptions{DryRun: dry})
			return err
		}, ownStatus + "hostprocess-executor-status-linux-1"},
		{"reading another node's status ConfigMap with an empty patch", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Patch(ctx, otherStatus.Name, types.MergePatchType, []byte("{}"), metav1.PatchOptions{})
			return err
		}, ownStatus + "hostprocess-executor-status-win-other"},
		{"reading another node's status ConfigMap", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Get(ctx, otherStatus.Name, metav1.GetOptions{})
			return err
		}, `User "system:serviceaccount:hostprocess-system:hostprocess-admission-executor" cannot get resource "configmaps"`},
		{"reading the webhook's configuration", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).Get(ctx, "hostprocess-admission-config", metav1.GetOptions{})
			return err
		}, `cannot get resource "configmaps"`},
		{"posting an Event about another node", createEvent(sa, nodeEvent(otherNode, "hostprocess-executor-"+nodeName)),
			"the node executor of win-rbac may post Events only about its own Node win-rbac, not about Node win-other"},
		{"posting an Event about a Pod", createEvent(sa, podEvent),
			"the node executor of win-rbac may post Events only about its own Node win-rbac, not about Pod web"},
		{"posting an Event as another node's executor", createEvent(sa, nodeEvent(nodeName, "hostprocess-executor-"+otherNode)),
			"the node executor of win-rbac may post Events only as reportingController hostprocess.dev/executor, reportingInstance hostprocess-executor-win-rbac"},
		{"labelling another Windows node", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, otherNode, types.MergePatchType, labelPatch(executor.LocalGroupsReadyLabel, "false"), metav1.PatchOptions{DryRun: dry})
			return err
		}, "the node executor of win-rbac may label only its own node win-rbac, not win-other"},
		{"labelling a Linux node", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, linuxNode, types.MergePatchType, labelPatch(executor.LocalGroupsReadyLabel, groupsValue), metav1.PatchOptions{DryRun: dry})
			return err
		}, "the node executor of win-rbac may label only its own node win-rbac, not linux-1"},
		{"the other node's executor writing win-rbac's status", func() error {
			_, err := other.CoreV1().ConfigMaps(executorNamespace).Update(ctx, cm, metav1.UpdateOptions{DryRun: dry})
			return err
		}, "the node executor of win-other may write only its own status ConfigMap hostprocess-executor-status-win-other, not hostprocess-executor-status-win-rbac"},
		{"the other node's executor posting an Event about win-rbac", createEvent(other, nodeEvent(nodeName, "hostprocess-executor-"+otherNode)),
			"the node executor of win-other may post Events only about its own Node win-other, not about Node win-rbac"},
		{"the other node's executor labelling win-rbac", func() error {
			_, err := other.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, labelPatch(executor.LocalGroupsReadyLabel, "false"), metav1.PatchOptions{DryRun: dry})
			return err
		}, "the node executor of win-other may label only its own node win-other, not win-rbac"},
		{"a token bound to no node writing a status ConfigMap", func() error {
			_, err := nodeless.CoreV1().ConfigMaps(executorNamespace).Update(ctx, cm, metav1.UpdateOptions{DryRun: dry})
			return err
		}, nodelessMessage},
		{"a token bound to no node posting an Event", createEvent(nodeless, nodeEvent(nodeName, "hostprocess-executor-"+nodeName)), nodelessMessage},
		{"a token bound to no node labelling a node", func() error {
			_, err := nodeless.CoreV1().Nodes().Patch(ctx, linuxNode, types.MergePatchType, labelPatch(executor.LocalGroupsReadyLabel, "false"), metav1.PatchOptions{DryRun: dry})
			return err
		}, nodelessMessage},
		{"setting another node label", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, labelPatch("node-role.kubernetes.io/control-plane", ""), metav1.PatchOptions{DryRun: dry})
			return err
		}, "the node executor may change only the label hostprocess.dev/local-groups-ready of a Node"},
		{"setting the label to another value", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, labelPatch(executor.LocalGroupsReadyLabel, "true"), metav1.PatchOptions{DryRun: dry})
			return err
		}, `the label hostprocess.dev/local-groups-ready must be "false" or the 16 hexadecimal digits that stand for the allowed local groups`},
		{"tainting a node", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{DryRun: dry})
			return err
		}, "the node executor may change only the label hostprocess.dev/local-groups-ready of a Node"},
		{"listing ConfigMaps", func() error {
			_, err := sa.CoreV1().ConfigMaps(executorNamespace).List(ctx, metav1.ListOptions{})
			return err
		}, `configmaps is forbidden: User "system:serviceaccount:hostprocess-system:hostprocess-admission-executor" cannot list resource "configmaps"`},
		{"deleting its ConfigMap", func() error {
			return sa.CoreV1().ConfigMaps(executorNamespace).Delete(ctx, cm.Name, metav1.DeleteOptions{DryRun: dry})
		}, `cannot delete resource "configmaps"`},
		{"reading Secrets", func() error {
			_, err := sa.CoreV1().Secrets(executorNamespace).List(ctx, metav1.ListOptions{})
			return err
		}, `cannot list resource "secrets"`},
		{"posting Events elsewhere", func() error {
			_, err := sa.CoreV1().Events(executorNamespace).Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{DryRun: dry})
			return err
		}, `cannot create resource "events"`},
		{"changing node status", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, []byte(`{"status":{"capacity":{"cpu":"1000"}}}`), metav1.PatchOptions{DryRun: dry}, "status")
			return err
		}, `cannot patch resource "nodes/status"`},
	}
	// Each admission policy (ConfigMaps, Events, Nodes) is loaded on its own:
	// wait until the node-less token is refused by every one of them.
	var probes []func() error
	for _, tc := range denied {
		if tc.forbids == nodelessMessage {
			probes = append(probes, tc.call)
		}
	}
	if len(probes) != 3 {
		t.Fatalf("%d node-less cases, want 3 (ConfigMap, Event, Node)", len(probes))
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		inForce := true
		for _, probe := range probes {
			if err := probe(); err == nil || !strings.Contains(err.Error(), nodelessMessage) {
				inForce = false
			}
		}
		if inForce {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the executor's ConfigMap, Event and Node policies were not all in force after 30s")
		}
	}
	for _, tc := range denied {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			err := tc.call()
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.forbids) {
				t.Errorf("error = %v, want it forbidden: %s", err, tc.forbids)
			}
		})
	}
}

// executorPodToken creates an executor pod on node (no kubelet runs it) and
// returns a token of the executor's ServiceAccount bound to it, as the
// kubelet of node gets for the pod: the API server puts the node's name in
// it (authentication.kubernetes.io/node-name).
func executorPodToken(ctx context.Context, t *testing.T, admin kubernetes.Interface, node string) string {
	t.Helper()
	pod, err := admin.CoreV1().Pods(executorNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "executor-" + node},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: executorSA,
			Containers: []corev1.Container{{Name: "executor", Image: "hostprocess-admission"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := admin.CoreV1().ServiceAccounts(executorNamespace).CreateToken(ctx, executorSA, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// nodelessToken is a token of the executor's ServiceAccount bound to no pod,
// as kubectl create token mints it: it names no node.
func nodelessToken(ctx context.Context, t *testing.T, admin kubernetes.Interface) string {
	t.Helper()
	tr, err := admin.CoreV1().ServiceAccounts(executorNamespace).CreateToken(ctx, executorSA, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

func tokenClient(t *testing.T, admin *rest.Config, token string) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestExecutorWithoutCredentialsReportsJSONOnly(t *testing.T) {
	t.Setenv(executor.SandboxMountPointEnv, "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	tasksDir := t.TempDir()
	task := "apiVersion: executor.hostprocess.dev/v1alpha1\nkind: Task\nname: hello\ncommand: [/bin/sh, -c, echo hello]\n"
	if err := os.WriteFile(filepath.Join(tasksDir, "hello.yaml"), []byte(task), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := runExecutor(context.Background(), &stdout, &stderr, executorOptions{tasksDir: tasksDir, nodeName: "n1", metricsAddress: "0",
		reloadInterval: executor.DefaultReloadInterval, once: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "executor: not reporting to Kubernetes (no Events, status ConfigMap or node label), only JSON lines and metrics: no credentials: " +
		"unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%q\nwant:\n%q", stderr.String(), want)
	}
	if !strings.Contains(stdout.String(), `"event":"runFinished"`) {
		t.Errorf("no runFinished JSON line:\n%s", stdout.String())
	}
}

func TestExecutorRefusesAKubeconfigItCannotUse(t *testing.T) {
	err := runExecutor(context.Background(), io.Discard, io.Discard, executorOptions{tasksDir: t.TempDir(), nodeName: "n1", metricsAddress: "0",
		reloadInterval: executor.DefaultReloadInterval, once: true, kubeconfig: filepath.Join(t.TempDir(), "missing")})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 2 || !strings.HasPrefix(err.Error(), "--kubeconfig: ") {
		t.Errorf("error = %v, want exit code 2 naming --kubeconfig", err)
	}
}

// TestExecutorGroupFile runs ensureLocalGroups once with --group-file, the
// Linux backend the e2e suite runs for a simulated Windows node: the group of
// the configuration is added to the file and the run succeeds.
func TestExecutorGroupFile(t *testing.T) {
	t.Setenv(executor.SandboxMountPointEnv, "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\nallowedLocalGroups: [hostprocess-agents]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	groups := filepath.Join(dir, "group")
	if err := os.WriteFile(groups, []byte("root:x:0:\nusers:x:100:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	err := runExecutor(context.Background(), &stdout, io.Discard, executorOptions{tasksDir: t.TempDir(), configPath: cfg, groupFile: groups,
		nodeName: "n1", metricsAddress: "0", reloadInterval: executor.DefaultReloadInterval, once: true})
	if err != nil {
		t.Fatalf("runExecutor: %v\n%s", err, stdout.String())
	}
	got, err := os.ReadFile(groups)
	if err != nil {
		t.Fatal(err)
	}
	if want := "root:x:0:\nusers:x:100:\nhostprocess-agents:x:1000:\n"; string(got) != want {
		t.Errorf("group file = %q, want %q", got, want)
	}
	if want := `"localGroups":{"ready":true,"labelValue":"837ede1743fd81fb","created":["hostprocess-agents"]}`; !strings.Contains(stdout.String(), want) {
		t.Errorf("no %s in the JSON lines:\n%s", want, stdout.String())
	}
}

// TestExecutorStateFolderPreparedByAnotherUser runs executor --once twice
// with a --state-file whose folder a user of the node prepared: it never
// exits for it, says why on stderr, and a once task is never skipped unless
// the state that says it ran is the executor's own.
func TestExecutorStateFolderPreparedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a folder to another user needs root")
	}
	t.Setenv(executor.SandboxMountPointEnv, "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	const noCredentials = "executor: not reporting to Kubernetes (no Events, status ConfigMap or node label), only JSON lines and metrics: no credentials: " +
		"unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined\n"
	cases := []struct {
		name    string
		prepare func(t *testing.T, dir, file string)
		// wantStderr is the first start's stderr after the credentials
		// line; the second start's is the same when the state is kept in
		// memory, and empty when it was replaced.
		wantStderr func(dir, file string) string
		// secondRuns is whether the once task runs again at the second start.
		secondRuns bool
	}{
		{
			name: "a folder owned by another user: the state is kept in memory and the task runs at each start",
			prepare: func(t *testing.T, dir, _ string) {
				if err := os.Mkdir(dir, 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(dir, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			},
			wantStderr: func(dir, _ string) string {
				return "executor: state folder " + dir + " is owned by uid 65534, not by the executor (uid 0) or root: refusing to use it; " +
					"once tasks are remembered in memory only, and run again when the executor restarts\n"
			},
			secondRuns: true,
		},
		{
			name: "a planted temporary file: not written through, and the state is saved",
			prepare: func(t *testing.T, dir, file string) {
				if err := os.Mkdir(dir, 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(dir, "..", "target"), file+".tmp"); err != nil {
					t.Fatal(err)
				}
			},
			wantStderr: func(string, string) string { return "" },
		},
		{
			name: "a state file that is not JSON: replaced, the task runs once more and then not again",
			prepare: func(t *testing.T, dir, file string) {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantStderr: func(_, file string) string {
				return "executor: state file " + file + " could not be read (invalid character 'n' looking for beginning of object key string): " +
					"replaced by an empty state, so its once tasks run again\n"
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "hostprocess-admission")
			file := filepath.Join(dir, "executor-state.json")
			tc.prepare(t, dir, file)
			tasksDir := t.TempDir()
			task := "apiVersion: executor.hostprocess.dev/v1alpha1\nkind: Task\nname: hello\ntrigger: once\ncommand: [/bin/sh, -c, echo hello]\n"
			if err := os.WriteFile(filepath.Join(tasksDir, "hello.yaml"), []byte(task), 0o600); err != nil {
				t.Fatal(err)
			}
			for start, wantRun := range []bool{true, tc.secondRuns} {
				var stdout, stderr bytes.Buffer
				err := runExecutor(context.Background(), &stdout, &stderr, executorOptions{tasksDir: tasksDir, stateFile: file, nodeName: "n1",
					metricsAddress: "0", reloadInterval: executor.DefaultReloadInterval, once: true})
				if err != nil {
					t.Fatalf("start %d: runExecutor = %v, want no error\n%s", start+1, err, stderr.String())
				}
				want := tc.wantStderr(dir, file)
				if start == 1 && !tc.secondRuns {
					want = ""
				}
				if got := stderr.String(); got != noCredentials+want {
					t.Errorf("start %d: stderr:\n%s\nwant:\n%s", start+1, got, noCredentials+want)
				}
				if ran := strings.Contains(stdout.String(), `"event":"runFinished"`); ran != wantRun {
					t.Errorf("start %d: the once task ran: %t, want %t\n%s", start+1, ran, wantRun, stdout.String())
				}
			}
			if _, err := os.Lstat(filepath.Join(root, "target")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file was written through the planted link: %v", err)
			}
		})
	}
}
