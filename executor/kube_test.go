//go:build !windows

package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

const kubeTestNamespace = "hostprocess-system"

// kubeTest is one control plane shared by the subtests of TestKubeReporter,
// each of which uses a node of its own.
type kubeTest struct {
	env    *testenv.Env
	client kubernetes.Interface
}

func TestKubeReporter(t *testing.T) {
	env := testenv.Start(t, testenv.WithLogger(logr.Discard()))
	client, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	k := &kubeTest{env: env, client: client}
	ctx := testCtx(t)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kubeTestNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("posts an Event per run on the Node and keeps the last run and counts per task in the status ConfigMap", k.testRunsAreReported)
	t.Run("labels the node local-groups-ready with the value of the groups when ensureLocalGroups finds every group and false when not", k.testLocalGroupsLabel)
	t.Run("writes what an outage kept back on the next report", k.testOutageIsRetried)
	t.Run("runs the tasks and writes the JSON lines when the API server refuses its token", k.testBadToken)
	t.Run("lets a status write in flight finish at Flush, so that its runs are counted once", k.testFlushDuringWrite)
	t.Run("counts a run once when the API server made its status write but the answer was lost", k.testLostAnswer)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// node creates a Windows Node object.
func (k *kubeTest) node(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := k.client.CoreV1().Nodes().Create(testCtx(t), &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"kubernetes.io/os": "windows"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// reporter is a KubeReporter for node with the admin client.
func (k *kubeTest) reporter(t *testing.T, client kubernetes.Interface, node string, log *syncBuffer) *KubeReporter {
	t.Helper()
	r, err := NewKubeReporter(KubeReporterOptions{Client: client, Node: node, Namespace: kubeTestNamespace, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Flush(ctx)
	})
	return r
}

// clientThrough is an admin client whose requests pass through wrap's
// transport.
func (k *kubeTest) clientThrough(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(k.env.Config)
	cfg.WrapTransport = wrap
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// events returns the Events about node through core/v1, as kubectl sees them,
// oldest first.
func (k *kubeTest) events(t *testing.T, node string) []corev1.Event {
	t.Helper()
	list, err := k.client.CoreV1().Events(EventsNamespace).List(testCtx(t), metav1.ListOptions{FieldSelector: "involvedObject.name=" + node})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// status returns the node's status ConfigMap.
func (k *kubeTest) status(t *testing.T, node string) *corev1.ConfigMap {
	t.Helper()
	cm, err := k.client.CoreV1().ConfigMaps(kubeTestNamespace).Get(testCtx(t), StatusConfigMapName(node), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// eventSummary is what the tests compare of an Event.
type eventSummary struct {
	Type, Reason, Message string
	Object                corev1.ObjectReference
	Controller, Action    string
}

func summarize(events []corev1.Event) []eventSummary {
	out := make([]eventSummary, 0, len(events))
	for _, e := range events {
		out = append(out, eventSummary{Type: e.Type, Reason: e.Reason, Message: e.Message, Object: e.InvolvedObject,
			Controller: e.ReportingController, Action: e.Action})
	}
	return out
}

// took is how an Event note writes the duration of r.
func took(r RunReport) string {
	return time.Duration(r.DurationSeconds * float64(time.Second)).Round(time.Millisecond).String()
}

// writeHelperTasks writes the task files: "fail" prints 100 bytes and exits
// 3, keeping the last 16; "ok" prints "fine" and exits 0. Both run at each
// start (onChange).
func writeHelperTasks(t *testing.T, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	task := func(name, text, count, code, extra string) string {
		return fmt.Sprintf(`apiVersion: executor.hostprocess.dev/v1alpha1
kind: Task
name: %s
command: [%q, print, %q, %q, %q]
env: [{name: %s, value: "1"}]
trigger: onChange
timeout: 1m
%s`, name, exe, text, count, code, helperEnv, extra)
	}
	files := map[string]string{
		"fail.yaml": task("fail", "0123456789", "10", "3", "maxOutputBytes: 16\n"),
		"ok.yaml":   task("ok", "fine", "1", "0", ""),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// runOnce runs the tasks of dir once, as executor --once does.
func runOnce(t *testing.T, dir, node string, rep Reporter) []RunReport {
	t.Helper()
	backend, err := NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	reports, err := RunOnce(testCtx(t), Options{TasksDir: dir, Node: node, Backend: backend, Reporter: rep})
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if len(reports) != 2 || reports[0].Task != "fail" || reports[1].Task != "ok" {
		t.Fatalf("runs = %+v, want fail then ok", reports)
	}
	return reports
}

func (k *kubeTest) testRunsAreReported(t *testing.T) {
	const nodeName = "win-reports"
	node := k.node(t, nodeName)
	dir := t.TempDir()
	writeHelperTasks(t, dir)

	// Two runs of each task, by two executors one after the other: the
	// second continues the counts the first left in the ConfigMap.
	first := runOnce(t, dir, nodeName, k.reporter(t, k.client, nodeName, &syncBuffer{}))
	cm := k.status(t, nodeName)
	firstVersion := cm.ResourceVersion
	second := runOnce(t, dir, nodeName, k.reporter(t, k.client, nodeName, &syncBuffer{}))

	ref := corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: nodeName, UID: node.UID}
	ev := func(typ, reason, msg string) eventSummary {
		return eventSummary{Type: typ, Reason: reason, Message: msg, Object: ref, Controller: ReportingController, Action: EventAction}
	}
	want := []eventSummary{
		ev("Warning", "TaskFailed", fmt.Sprintf(`Task "fail" failed after %s, exit code 3`, took(first[0]))),
		ev("Normal", "TaskSucceeded", fmt.Sprintf(`Task "ok" succeeded after %s, exit code 0`, took(first[1]))),
		ev("Warning", "TaskFailed", fmt.Sprintf(`Task "fail" failed after %s, exit code 3`, took(second[0]))),
		ev("Normal", "TaskSucceeded", fmt.Sprintf(`Task "ok" succeeded after %s, exit code 0`, took(second[1]))),
	}
	if got := summarize(k.events(t, nodeName)); !equalJSON(got, want) {
		t.Errorf("Events:\n%s\nwant:\n%s", jsonText(got), jsonText(want))
	}

	cm = k.status(t, nodeName)
	if cm.ResourceVersion == firstVersion {
		t.Errorf("the second executor did not write the ConfigMap")
	}
	failStatus := TaskStatus{SuccessCount: 0, FailureCount: 2, LastRun: second[0]}
	okStatus := TaskStatus{SuccessCount: 2, FailureCount: 0, LastRun: second[1]}
	wantData := map[string]string{"fail": jsonText(failStatus), "ok": jsonText(okStatus)}
	if !equalJSON(cm.Data, wantData) {
		t.Errorf("ConfigMap data:\n%s\nwant:\n%s", jsonText(cm.Data), jsonText(wantData))
	}
	// The same, spelled out for the fields that matter most.
	var got TaskStatus
	if err := json.Unmarshal([]byte(cm.Data["fail"]), &got); err != nil {
		t.Fatal(err)
	}
	if got.LastRun.Outcome != OutcomeFailed || got.LastRun.ExitCode == nil || *got.LastRun.ExitCode != 3 ||
		got.LastRun.Output != (Output{Text: "4567890123456789", TotalBytes: 100, Truncated: true}) {
		t.Errorf("last run of fail = %s %v %+v, want Failed, exit code 3, the last 16 of 100 bytes", got.LastRun.Outcome, got.LastRun.ExitCode, got.LastRun.Output)
	}
	if got.LastRun.Started.IsZero() || got.LastRun.DurationSeconds <= 0 {
		t.Errorf("last run of fail lacks its accounting or times: %s", cm.Data["fail"])
	}
	if cm.Labels[StatusComponentLabel] != "executor-status" || cm.Annotations[StatusNodeAnnotation] != nodeName || !equalJSON(cm.OwnerReferences, []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: nodeName, UID: node.UID}}) {
		t.Errorf("ConfigMap labels %v, annotations %v, owners %v", cm.Labels, cm.Annotations, cm.OwnerReferences)
	}

	// Nothing new: no write. A task that leaves: its key goes.
	version := cm.ResourceVersion
	r := k.reporter(t, k.client, nodeName, &syncBuffer{})
	ctx := testCtx(t)
	_ = r.TasksLoaded(ctx, LoadReport{Node: nodeName, Tasks: []string{"fail", "ok"}})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v := k.status(t, nodeName).ResourceVersion; v != version {
		t.Errorf("the ConfigMap was written (resourceVersion %s, was %s) though nothing changed", v, version)
	}
	r = k.reporter(t, k.client, nodeName, &syncBuffer{})
	_ = r.TasksLoaded(ctx, LoadReport{Node: nodeName, Tasks: []string{"ok"}})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if data := k.status(t, nodeName).Data; !equalJSON(data, map[string]string{"ok": wantData["ok"]}) {
		t.Errorf("after fail left, ConfigMap data = %s", jsonText(data))
	}
}

func (k *kubeTest) testLocalGroupsLabel(t *testing.T) {
	const nodeName = "win-groups"
	k.node(t, nodeName)
	// ensureLocalGroups with an in-memory group store, run by the scheduler
	// as on Windows.
	run := func(groups *fakeGroups) RunReport {
		t.Helper()
		spec := EnsureLocalGroupsTask([]string{"hpc-a", "hpc-b"})
		spec.builtin = func(ctx context.Context) (builtinResult, error) {
			return ensureLocalGroups(ctx, groups, []string{"hpc-a", "hpc-b"})
		}
		rep := k.reporter(t, k.client, nodeName, &syncBuffer{})
		s := NewScheduler(SchedulerOptions{Backend: &fakeBackend{clock: newFakeClock()}, Reporter: rep, Node: nodeName})
		r := s.RunDue(testCtx(t), []TaskSpec{spec})[0]
		if err := s.Stop(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	labels := func() map[string]string {
		n, err := k.client.CoreV1().Nodes().Get(testCtx(t), nodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Labels
	}

	r := run(&fakeGroups{existing: map[string]bool{"hpc-a": true}})
	if r.Outcome != OutcomeSucceeded || !r.LocalGroups.Ready {
		t.Fatalf("ensureLocalGroups = %s %+v, want Succeeded and ready", r.Outcome, r.LocalGroups)
	}
	if got, want := labels(), map[string]string{"kubernetes.io/os": "windows", LocalGroupsReadyLabel: "a65938344d47109f"}; !equalJSON(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}

	r = run(&fakeGroups{existing: map[string]bool{"hpc-a": true}, createErr: map[string]error{"hpc-b": errors.New("Access is denied.")}})
	if r.Outcome != OutcomeFailed || r.LocalGroups.Ready {
		t.Fatalf("ensureLocalGroups = %s %+v, want Failed and not ready", r.Outcome, r.LocalGroups)
	}
	if got, want := labels(), map[string]string{"kubernetes.io/os": "windows", LocalGroupsReadyLabel: "false"}; !equalJSON(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	want := eventSummary{Type: "Warning", Reason: "TaskFailed", Message: fmt.Sprintf(`Task "ensureLocalGroups" failed after %s: local groups missing: "hpc-b"`, took(r)),
		Object: corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: nodeName}, Controller: ReportingController, Action: EventAction}
	events := summarize(k.events(t, nodeName))
	if len(events) != 2 {
		t.Fatalf("%d Events, want 2", len(events))
	}
	events[1].Object.UID = ""
	if !equalJSON(events[1], want) {
		t.Errorf("Event %s, want %s", jsonText(events[1]), jsonText(want))
	}
	var st TaskStatus
	if err := json.Unmarshal([]byte(k.status(t, nodeName).Data[BuiltinEnsureLocalGroups]), &st); err != nil {
		t.Fatal(err)
	}
	if st.SuccessCount != 1 || st.FailureCount != 1 || !equalJSON(st.LastRun.LocalGroups, r.LocalGroups) {
		t.Errorf("status of ensureLocalGroups = %+v", st)
	}
}

// flakyTransport fails every request while down is set.
type flakyTransport struct {
	down atomic.Bool
	rt   http.RoundTripper
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused (test outage)")
	}
	return f.rt.RoundTrip(r)
}

func (k *kubeTest) testOutageIsRetried(t *testing.T) {
	const nodeName = "win-outage"
	k.node(t, nodeName)
	flaky := &flakyTransport{}
	flaky.down.Store(true)
	client := k.clientThrough(t, func(rt http.RoundTripper) http.RoundTripper { flaky.rt = rt; return flaky })
	log := &syncBuffer{}
	rep := k.reporter(t, client, nodeName, log)
	ctx := testCtx(t)
	code := 0
	start := time.Now()
	run := RunReport{Node: nodeName, Task: "ok", Trigger: TriggerInterval, Outcome: OutcomeSucceeded, ExitCode: &code, Started: start, Finished: start, Output: Output{}}
	if err := rep.RunFinished(ctx, run); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the failure to be logged", func() bool { return strings.Contains(log.String(), "test outage") })
	if line := strings.SplitN(log.String(), "\n", 2)[0]; !strings.HasPrefix(line, "executor: kubernetes reporting: posting Events on node win-outage: reading the Node: ") ||
		!strings.HasSuffix(line, "(trying again on the next report or in 1m0s)") {
		t.Errorf("log line %q", line)
	}

	flaky.down.Store(false)
	run.Started, run.Finished = start.Add(time.Second), start.Add(time.Second)
	if err := rep.RunFinished(ctx, run); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both runs to be written", func() bool {
		cm, err := k.client.CoreV1().ConfigMaps(kubeTestNamespace).Get(ctx, StatusConfigMapName(nodeName), metav1.GetOptions{})
		return err == nil && cm.Data["ok"] == jsonText(TaskStatus{SuccessCount: 2, LastRun: run}) && len(k.events(t, nodeName)) == 2
	})
}

// slowAnswers holds the answer to every ConfigMap write for delay after the
// API server has made it, as a loaded machine or network may, and signals
// held when it holds one.
type slowAnswers struct {
	rt    http.RoundTripper
	delay time.Duration
	held  chan struct{}
}

func (s *slowAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(r)
	if err != nil || r.Method == http.MethodGet || !strings.Contains(r.URL.Path, "/configmaps") {
		return resp, err
	}
	select {
	case s.held <- struct{}{}:
	default:
	}
	select {
	case <-time.After(s.delay):
		return resp, nil
	case <-r.Context().Done():
		resp.Body.Close()
		return nil, r.Context().Err()
	}
}

// A cold CI run once counted a run twice: Flush cancelled the writer's
// status write after the API server had made it, the runs went back to
// pending, and Flush wrote them again.
func (k *kubeTest) testFlushDuringWrite(t *testing.T) {
	const nodeName = "win-flush"
	k.node(t, nodeName)
	slow := &slowAnswers{delay: 500 * time.Millisecond, held: make(chan struct{}, 1)}
	client := k.clientThrough(t, func(rt http.RoundTripper) http.RoundTripper { slow.rt = rt; return slow })
	log := &syncBuffer{}
	rep := k.reporter(t, client, nodeName, log)
	ctx := testCtx(t)
	code := 3
	now := time.Now()
	run := RunReport{Node: nodeName, Task: "fail", Trigger: TriggerInterval, Outcome: OutcomeFailed, ExitCode: &code, Started: now, Finished: now, Output: Output{}}
	if err := rep.RunFinished(ctx, run); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.held:
	case <-ctx.Done():
		t.Fatal("the status ConfigMap was never written")
	}
	if err := rep.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (log: %s)", err, log.String())
	}
	if got, want := k.status(t, nodeName).Data["fail"], jsonText(TaskStatus{FailureCount: 1, LastRun: run}); got != want {
		t.Errorf("status of fail = %s, want %s (log: %s)", got, want, log.String())
	}
}

// loseAnswers passes the first lose writes of the status ConfigMap to the
// API server and then fails them, as a connection broken after the API
// server made the write, or a request that timed out on the client while the
// API server went on, would.
type loseAnswers struct {
	rt   http.RoundTripper
	lose atomic.Int32
}

func (l *loseAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err != nil || (r.Method != http.MethodPut && r.Method != http.MethodPost) || !strings.Contains(r.URL.Path, "/configmaps") || l.lose.Add(-1) < 0 {
		return resp, err
	}
	resp.Body.Close()
	return nil, errors.New("connection reset by peer (test: the answer was lost)")
}

// A cold CI run counted a run twice (failureCount 3, want 2): a status
// write that the API server made, but whose answer the executor did not get
// (its 30s timeout), was written again. The write's ID in the ConfigMap
// tells the next write that it was made.
func (k *kubeTest) testLostAnswer(t *testing.T) {
	const nodeName = "win-lost-answer"
	k.node(t, nodeName)
	lose := &loseAnswers{}
	lose.lose.Store(2)
	client := k.clientThrough(t, func(rt http.RoundTripper) http.RoundTripper { lose.rt = rt; return lose })
	log := &syncBuffer{}
	rep := k.reporter(t, client, nodeName, log)
	ctx := testCtx(t)
	code := 3
	now := time.Now()
	first := RunReport{Node: nodeName, Task: "fail", Trigger: TriggerInterval, Outcome: OutcomeFailed, ExitCode: &code, Started: now, Finished: now, Output: Output{}}
	if err := rep.RunFinished(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The create is made and its answer lost; then a second run comes, and
	// its update (with both runs, as far as the executor knows) too.
	waitUntil(t, "the lost answer of the create to be logged", func() bool { return strings.Count(log.String(), "the answer was lost") == 1 })
	second := first
	second.Started, second.Finished = now.Add(time.Second), now.Add(time.Second)
	if err := rep.RunFinished(ctx, second); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the lost answer of the update to be logged", func() bool { return strings.Count(log.String(), "the answer was lost") == 2 })
	if err := rep.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (log: %s)", err, log.String())
	}
	cm := k.status(t, nodeName)
	if got, want := cm.Data["fail"], jsonText(TaskStatus{FailureCount: 2, LastRun: second}); got != want {
		t.Errorf("status of fail = %s, want %s (log: %s)", got, want, log.String())
	}
	if !strings.HasPrefix(cm.Annotations[StatusWriteAnnotation], rep.writeID+"-") {
		t.Errorf("annotation %s = %q, want this reporter's write ID %s-<n>", StatusWriteAnnotation, cm.Annotations[StatusWriteAnnotation], rep.writeID)
	}
}

func (k *kubeTest) testBadToken(t *testing.T) {
	const nodeName = "win-bad-token"
	k.node(t, nodeName)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: k.env.Config.Host, BearerToken: "not-a-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: k.env.Config.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeHelperTasks(t, dir)
	backend, err := NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	kube := k.reporter(t, client, nodeName, &syncBuffer{})
	reports, err := RunOnce(testCtx(t), Options{TasksDir: dir, Node: nodeName, Backend: backend, Reporter: MultiReporter{NewJSONReporter(&out), kube}})
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("RunOnce error = %v, want the Flush error saying Unauthorized", err)
	}
	if len(reports) != 2 || reports[0].Outcome != OutcomeFailed || reports[1].Outcome != OutcomeSucceeded {
		t.Fatalf("runs = %+v, want fail Failed and ok Succeeded", reports)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l jsonLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if l.Run != nil {
			events = append(events, l.Event+" "+l.Run.Task)
		} else {
			events = append(events, l.Event)
		}
	}
	if want := []string{"started", "tasksLoaded", "runFinished fail", "runFinished ok", "stopped"}; !equalJSON(events, want) {
		t.Errorf("JSON lines %v, want %v", events, want)
	}
	if got := k.events(t, nodeName); len(got) != 0 {
		t.Errorf("%d Events written with a bad token", len(got))
	}
}

func TestKubeReporterNeverWaitsForTheAPIServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewKubeReporter(KubeReporterOptions{Client: client, Node: "n1", Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx := context.Background()
	_ = rep.TasksLoaded(ctx, LoadReport{Node: "n1", Tasks: []string{"a"}})
	for i := 0; i < 10; i++ {
		if err := rep.RunFinished(ctx, RunReport{Node: "n1", Task: "a", Outcome: OutcomeSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("reporting 10 runs to a hanging API server took %s", d)
	}
	fctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := rep.Flush(fctx); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("Flush = %v, want the deadline", err)
	}
}

func TestEventNote(t *testing.T) {
	code := func(c int) *int { return &c }
	cases := []struct {
		name string
		run  RunReport
		want string
	}{
		{"names the task, the outcome, the duration and the exit code",
			RunReport{Task: "ok", Outcome: OutcomeSucceeded, ExitCode: code(0), DurationSeconds: 1.2346},
			`Task "ok" succeeded after 1.235s, exit code 0`},
		{"does not repeat the exit code of the message",
			RunReport{Task: "bad", Outcome: OutcomeFailed, Reason: ReasonExitCode, Message: "exit code 3; limits hit: memory", ExitCode: code(3), DurationSeconds: 0.015},
			`Task "bad" failed after 15ms, exit code 3: limits hit: memory`},
		{"gives the message of a timeout",
			RunReport{Task: "slow", Outcome: OutcomeTimedOut, Reason: ReasonTimeout, Message: "timed out after 1m0s; the process tree was ended", ExitCode: code(1460), DurationSeconds: 60.01},
			`Task "slow" timed out after 1m0.01s, exit code 1460: timed out after 1m0s; the process tree was ended`},
		{"has no exit code for a run that did not start",
			RunReport{Task: "gone", Outcome: OutcomeFailed, Reason: ReasonStartFailed, Message: `exec: "nope": executable file not found in $PATH`},
			`Task "gone" failed after 0s: exec: "nope": executable file not found in $PATH`},
		{"is cut at 1024 bytes without splitting a character",
			RunReport{Task: "long", Outcome: OutcomeFailed, Message: strings.Repeat("é", 600)},
			`Task "long" failed after 0s: ` + strings.Repeat("é", (1024-len(`Task "long" failed after 0s: `))/2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := EventNote(tc.run); got != tc.want {
				t.Errorf("EventNote = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestStatusConfigMapName(t *testing.T) {
	if got := StatusConfigMapName("akswin000001"); got != "hostprocess-executor-status-akswin000001" {
		t.Errorf("name = %q", got)
	}
	long := strings.Repeat("a", 250)
	got := StatusConfigMapName(long)
	if len(got) != 253 || !strings.HasPrefix(got, StatusConfigMapPrefix+"aaa") || got == StatusConfigMapName(long+"b") {
		t.Errorf("name of a long node = %q (%d)", got, len(got))
	}
}

func TestStatusDataKeepsTheConfigMapUnderItsLimit(t *testing.T) {
	big := strings.Repeat("x", MaxMaxOutputBytes)
	old := map[string]string{}
	runs := map[string]*taskDelta{}
	for i := 0; i < 20; i++ {
		runs[fmt.Sprintf("t%02d", i)] = &taskDelta{succeeded: 1, last: RunReport{Output: Output{Text: big, TotalBytes: int64(len(big))}}}
	}
	data, err := statusData(old, runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if len(data) != 20 || size > maxStatusBytes {
		t.Fatalf("%d keys, %d bytes; want 20 keys within %d bytes", len(data), size, maxStatusBytes)
	}
	var st TaskStatus
	if err := json.Unmarshal([]byte(data["t00"]), &st); err != nil {
		t.Fatal(err)
	}
	if !st.LastRun.Output.Truncated || len(st.LastRun.Output.Text) >= len(big) || st.LastRun.Output.TotalBytes != int64(len(big)) {
		t.Errorf("output of t00 = %d bytes, truncated %t, total %d", len(st.LastRun.Output.Text), st.LastRun.Output.Truncated, st.LastRun.Output.TotalBytes)
	}
}

func TestAccountingRoundTripsThroughJSON(t *testing.T) {
	cpu, peak, procs := 1500*time.Millisecond, uint64(1<<20), uint32(3)
	a := Accounting{CPUTime: &cpu, PeakMemoryBytes: &peak, TotalProcesses: &procs}
	var b Accounting
	if err := json.Unmarshal([]byte(jsonText(a)), &b); err != nil {
		t.Fatal(err)
	}
	if jsonText(a) != jsonText(b) || *b.CPUTime != cpu {
		t.Errorf("round trip: %s, want %s", jsonText(b), jsonText(a))
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func equalJSON(a, b any) bool { return jsonText(a) == jsonText(b) }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the reporter's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
