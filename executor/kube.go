package executor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/hostprocess-admission/hostprocess-admission/internal/kubeclient"
)

// What the KubeReporter writes.
const (
	// StatusConfigMapPrefix starts the name of a node's status ConfigMap:
	// hostprocess-executor-status-<node>.
	StatusConfigMapPrefix = "hostprocess-executor-status-"
	// EventsNamespace holds the Events about nodes. An Event lives in a
	// namespace; the API server accepts one about a cluster-scoped object
	// only in "default" (or "kube-system"), and the kubelet's node Events
	// are in "default" too.
	EventsNamespace = metav1.NamespaceDefault
	// ReportingController is the reportingController of the Events.
	ReportingController = "hostprocess.dev/executor"
	// EventAction is the action of the Events: the executor ran a task.
	EventAction = "RunTask"
	// FieldManager names the executor in managedFields.
	FieldManager = "hostprocess-executor"
	// StatusNodeAnnotation on the status ConfigMap holds the node's full
	// name, which the ConfigMap's name may have had to shorten.
	StatusNodeAnnotation = "hostprocess.dev/node"
	// StatusComponentLabel marks the status ConfigMaps, so that
	// "kubectl get cm -l app.kubernetes.io/component=executor-status" lists
	// them.
	StatusComponentLabel = "app.kubernetes.io/component"
	// StateStatusKey is the key of the status ConfigMap that holds the
	// StateStatus (where once tasks are remembered, and what was wrong with
	// the state folder or file) when the executor has a --state-file. Task
	// names are DNS labels, without capitals, so no task has this key.
	StateStatusKey = "executorState"
	// StatusWriteAnnotation on the status ConfigMap names the executor's
	// last write of it, so that a write whose outcome the executor did not
	// learn (its answer lost, or its request timed out after the API server
	// had made it) is not counted again: the next read tells whether it was
	// made.
	StatusWriteAnnotation = "hostprocess.dev/executor-write"

	// DefaultKubeRetryInterval is how often the KubeReporter tries again to
	// write what an earlier attempt could not, when no report comes first.
	DefaultKubeRetryInterval = time.Minute
	// maxPendingEvents bounds the Events kept while the API server cannot be
	// reached; the oldest go first.
	maxPendingEvents = 100
	// maxStatusBytes bounds the data of the status ConfigMap, below the
	// 1 MiB that an object may have in etcd, with room for its metadata.
	maxStatusBytes = 900 << 10
	// syncTimeout bounds one attempt to write everything pending.
	syncTimeout = 30 * time.Second
)

// TaskStatus is the value of one task's key in a node's status ConfigMap: a
// JSON object with the last run, in the form of the runFinished JSON line's
// run, and how many runs succeeded and failed (Failed or TimedOut) since the
// ConfigMap was created.
type TaskStatus struct {
	SuccessCount int64     `json:"successCount"`
	FailureCount int64     `json:"failureCount"`
	LastRun      RunReport `json:"lastRun"`
}

// Clients are the API groups the reporter writes: Nodes and ConfigMaps, and
// Events. A kubernetes.Clientset is one; NewClients builds one without the
// other groups.
type Clients interface {
	CoreV1() corev1client.CoreV1Interface
	EventsV1() eventsv1client.EventsV1Interface
}

// NewClients builds the reporter's clients for cfg (internal/kubeclient).
func NewClients(cfg *rest.Config) (Clients, error) { return kubeclient.ForConfig(cfg) }

// KubeReporterOptions configure a KubeReporter.
type KubeReporterOptions struct {
	Client Clients
	// Node is the name of the Node object the executor runs on.
	Node string
	// Namespace holds the status ConfigMap: the executor's own namespace.
	Namespace string
	// Log receives the errors of writes that failed; default io.Discard.
	Log io.Writer
	// RetryInterval defaults to DefaultKubeRetryInterval.
	RetryInterval time.Duration
}

// KubeReporter reports to the Kubernetes API:
//
//   - an Event on the Node for each run (reason TaskSucceeded, TaskFailed or
//     TaskTimedOut; type Normal for a success, Warning otherwise);
//   - the node's status ConfigMap, <Namespace>/hostprocess-executor-status-<node>,
//     one key per task holding a TaskStatus;
//   - the node label hostprocess.dev/local-groups-ready, the value that
//     stands for the groups (config.LocalGroupsReadyValue) when the last
//     run of ensureLocalGroups found every group, "false" when it did not.
//
// Nothing it does blocks a run: the Reporter methods only record what is to
// be written and wake a goroutine that writes it. A write that fails is
// logged and kept, and tried again on the next report, after RetryInterval,
// and at Flush. While the API server cannot be reached, at most 100 Events
// wait; the counts and last runs of the status ConfigMap and the label are
// never lost.
//
// The status ConfigMap is owned by the Node (a namespaced object may have a
// cluster-scoped owner; not the other way round), so the garbage collector
// deletes it with the Node. The reference does not block the Node's
// deletion, which would need delete permission on Nodes. Its annotation
// hostprocess.dev/node names the node in full.
type KubeReporter struct {
	client    Clients
	node      string
	namespace string
	configMap string
	log       io.Writer
	retry     time.Duration

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	// loopCtx bounds the writer's requests; cancelLoop ends them only when
	// Flush runs out of time (see Flush).
	loopCtx    context.Context
	cancelLoop context.CancelFunc

	mu      sync.Mutex
	pending kubePending
	// inForce are the tasks of the last load; nil before the first.
	inForce map[string]bool
	// lastName makes Event names unique when the clock repeats itself.
	lastName int64
	// writeID and writes name each write of the status ConfigMap
	// (StatusWriteAnnotation): a random ID of this reporter and a count.
	writeID string
	writes  int64

	// nodeUID is the UID of the Node, read once; only the writer uses it.
	nodeUID types.UID
}

// kubePending is what has not been written yet.
type kubePending struct {
	events  []*eventsv1.Event
	dropped int
	runs    map[string]*taskDelta
	// prune is set when the tasks in force changed: keys of other tasks go.
	prune bool
	// label is the value of the local-groups-ready label to set, when one
	// is to be set.
	label *string
	// state is the StateStatus to write, when there is one to write.
	state *StateStatus
	// unsure is the last write of the status ConfigMap when it failed
	// without saying whether the API server made it; runs is what it wrote.
	unsure *statusWrite
}

// statusWrite is a write of the status ConfigMap, named in
// StatusWriteAnnotation, and the runs it added.
type statusWrite struct {
	id   string
	runs map[string]*taskDelta
}

// taskDelta is what the status ConfigMap does not hold yet of one task.
type taskDelta struct {
	succeeded, failed int64
	last              RunReport
}

// NewKubeReporter returns a KubeReporter and starts its writer, which runs
// until Flush.
func NewKubeReporter(o KubeReporterOptions) (*KubeReporter, error) {
	if o.Client == nil || o.Node == "" || o.Namespace == "" {
		return nil, errors.New("kubernetes reporting needs a client, the node name and a namespace")
	}
	k := &KubeReporter{
		client:    o.Client,
		node:      o.Node,
		namespace: o.Namespace,
		configMap: StatusConfigMapName(o.Node),
		log:       o.Log,
		retry:     o.RetryInterval,
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		pending:   kubePending{runs: map[string]*taskDelta{}},
	}
	if k.log == nil {
		k.log = io.Discard
	}
	if k.retry <= 0 {
		k.retry = DefaultKubeRetryInterval
	}
	var id [4]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	k.writeID = hex.EncodeToString(id[:])
	k.loopCtx, k.cancelLoop = context.WithCancel(context.Background())
	go k.loop()
	return k, nil
}

// StatusConfigMapName is the name of the status ConfigMap of node:
// hostprocess-executor-status-<node>. A node name too long for that is cut
// and given a hash of the whole name, so that two nodes never share one.
func StatusConfigMapName(node string) string {
	name := StatusConfigMapPrefix + node
	if len(name) <= validation.DNS1123SubdomainMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(node))
	suffix := "-" + hex.EncodeToString(sum[:])[:16]
	keep := validation.DNS1123SubdomainMaxLength - len(StatusConfigMapPrefix) - len(suffix)
	return StatusConfigMapPrefix + strings.TrimRight(node[:keep], ".-") + suffix
}

// Started notes the state's status, when the executor has a state file,
// for the executorState key of the status ConfigMap.
func (k *KubeReporter) Started(_ context.Context, s Startup) error {
	if s.State == nil || s.State.File == "" {
		return nil
	}
	st := *s.State
	k.mu.Lock()
	k.pending.state = &st
	k.mu.Unlock()
	k.wake()
	return nil
}

// TasksLoaded notes the tasks in force: the status ConfigMap keeps only
// theirs.
func (k *KubeReporter) TasksLoaded(_ context.Context, l LoadReport) error {
	inForce := make(map[string]bool, len(l.Tasks))
	for _, t := range l.Tasks {
		inForce[t] = true
	}
	k.mu.Lock()
	changed := k.inForce == nil || !maps.Equal(inForce, k.inForce)
	k.inForce = inForce
	if changed {
		k.pending.prune = true
	}
	k.mu.Unlock()
	if changed {
		k.wake()
	}
	return nil
}

// RunFinished queues the run's Event, its status and, for ensureLocalGroups,
// the label. It never waits for the API server.
func (k *KubeReporter) RunFinished(_ context.Context, r RunReport) error {
	k.mu.Lock()
	k.pending.addEvent(k.event(r))
	d := k.pending.runs[r.Task]
	if d == nil {
		d = &taskDelta{}
		k.pending.runs[r.Task] = d
	}
	if r.Outcome == OutcomeSucceeded {
		d.succeeded++
	} else {
		d.failed++
	}
	d.last = r
	// A run the executor ended as it stopped says nothing about the groups.
	if r.Task == BuiltinEnsureLocalGroups && r.LocalGroups != nil && r.Reason != ReasonTerminated {
		value := "false"
		if r.LocalGroups.Ready {
			value = r.LocalGroups.LabelValue
		}
		k.pending.label = &value
	}
	k.mu.Unlock()
	k.wake()
	return nil
}

// Flush stops the writer and writes what is pending, within ctx. A write the
// writer has in flight is let finish first: cancelled, it could have been
// made by the API server with its answer lost, and the runs it carried would
// then be given back and counted twice. Only when ctx ends first is it
// cancelled. Its error says what could not be written; that is then lost.
func (k *KubeReporter) Flush(ctx context.Context) error {
	k.stopOnce.Do(func() { close(k.stop) })
	select {
	case <-k.done:
	case <-ctx.Done():
		k.cancelLoop()
		<-k.done
	}
	defer k.cancelLoop()
	return k.sync(ctx)
}

func (k *KubeReporter) wake() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// loop writes what is pending whenever there is news, and after a failure
// every retry interval, until Flush.
func (k *KubeReporter) loop() {
	defer close(k.done)
	ctx := k.loopCtx
	var retryC <-chan time.Time
	for {
		select {
		case <-k.stop:
			return
		case <-k.kick:
		case <-retryC:
		}
		sctx, scancel := context.WithTimeout(ctx, syncTimeout)
		err := k.sync(sctx)
		scancel()
		retryC = nil
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintf(k.log, "executor: kubernetes reporting: %s (trying again on the next report or in %s)\n",
				strings.ReplaceAll(err.Error(), "\n", "; "), k.retry)
			retryC = time.After(k.retry)
		}
	}
}

// sync writes everything pending. What fails goes back to pending.
func (k *KubeReporter) sync(ctx context.Context) error {
	k.mu.Lock()
	p := k.pending
	k.pending = kubePending{runs: map[string]*taskDelta{}}
	var inForce map[string]bool
	if p.prune {
		inForce = k.inForce
	}
	k.mu.Unlock()

	var errs []error
	if p.dropped > 0 {
		errs = append(errs, fmt.Errorf("%d Events were dropped while the API server could not be reached", p.dropped))
		p.dropped = 0
	}
	if len(p.events) > 0 {
		n, err := k.createEvents(ctx, p.events)
		p.events = p.events[n:]
		if err != nil {
			errs = append(errs, fmt.Errorf("posting Events on node %s: %w", k.node, err))
		}
	}
	if len(p.runs) > 0 || p.prune || p.state != nil || p.unsure != nil {
		k.writes++
		w := statusWrite{id: fmt.Sprintf("%s-%d", k.writeID, k.writes)}
		if err := k.writeStatus(ctx, &w, p.runs, p.unsure, inForce, p.state); err != nil {
			errs = append(errs, fmt.Errorf("writing ConfigMap %s/%s: %w", k.namespace, k.configMap, err))
			if w.runs != nil {
				// The write was tried after a read: it carries the runs
				// and, unless that read showed it made, the unsure write's.
				p.runs, p.unsure = map[string]*taskDelta{}, &w
			}
		} else {
			p.runs, p.prune, p.state, p.unsure = map[string]*taskDelta{}, false, nil, nil
		}
	}
	if p.label != nil {
		if err := k.patchLabel(ctx, *p.label); err != nil {
			errs = append(errs, fmt.Errorf("labelling node %s %s=%s: %w", k.node, LocalGroupsReadyLabel, *p.label, err))
		} else {
			p.label = nil
		}
	}
	if len(errs) > 0 {
		k.giveBack(p)
	}
	return errors.Join(errs...)
}

// giveBack returns what could not be written to pending, under anything that
// came in meanwhile, which is newer.
func (k *KubeReporter) giveBack(p kubePending) {
	k.mu.Lock()
	defer k.mu.Unlock()
	newer := k.pending
	k.pending = p
	for _, e := range newer.events {
		k.pending.addEvent(e)
	}
	k.pending.dropped += newer.dropped
	for task, d := range newer.runs {
		if old := p.runs[task]; old != nil {
			old.succeeded += d.succeeded
			old.failed += d.failed
			old.last = d.last
		} else {
			p.runs[task] = d
		}
	}
	k.pending.prune = p.prune || newer.prune
	if newer.label != nil {
		k.pending.label = newer.label
	}
	if newer.state != nil {
		k.pending.state = newer.state
	}
}

func (p *kubePending) addEvent(e *eventsv1.Event) {
	p.events = append(p.events, e)
	if over := len(p.events) - maxPendingEvents; over > 0 {
		p.events = append(p.events[:0], p.events[over:]...)
		p.dropped += over
	}
}

// event builds the Event of a run, without the Node's UID (known at write
// time). Its name is the node's and the time's, as the kubelet names its
// Events, so a create that is tried again after a lost answer is seen as a
// duplicate, not written twice.
//
// The Events are events.k8s.io/v1, written directly with the clientset rather
// than through client-go's tools/events broadcaster: the broadcaster sends
// asynchronously with retries of its own and may drop what is queued when it
// shuts down, which loses the Events of --once; writing them here gives them
// the same retry and Flush as the status ConfigMap. events.k8s.io/v1 is the
// current Events API (reportingController, reportingInstance, action); core/v1
// readers such as kubectl describe node see the same objects.
func (k *KubeReporter) event(r RunReport) *eventsv1.Event {
	stamp := time.Now().UnixNano()
	if stamp <= k.lastName {
		stamp = k.lastName + 1
	}
	k.lastName = stamp
	base := k.node
	if len(base) > 200 {
		base = strings.TrimRight(base[:200], ".-")
	}
	typ := corev1.EventTypeWarning
	if r.Outcome == OutcomeSucceeded {
		typ = corev1.EventTypeNormal
	}
	at := r.Finished
	if at.IsZero() {
		at = time.Now()
	}
	instance := FieldManager + "-" + k.node
	if len(instance) > 128 {
		instance = instance[:128]
	}
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", base, stamp), Namespace: EventsNamespace},
		EventTime:           metav1.NewMicroTime(at),
		ReportingController: ReportingController,
		ReportingInstance:   instance,
		Action:              EventAction,
		Reason:              r.Outcome.EventReason(),
		Regarding:           corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: k.node},
		Note:                EventNote(r),
		Type:                typ,
	}
}

// EventNote is the note (core/v1: message) of a run's Event, at most 1024
// bytes, e.g.
//
//	Task "flush-dns" succeeded after 1.204s, exit code 0
//	Task "cleanup" failed after 15ms, exit code 3
//	Task "slow" timed out after 1m0.01s, exit code 1460: timed out after 1m0s; the process tree was ended
//	Task "ensureLocalGroups" failed after 3ms: local groups missing: "hpc-a"
func EventNote(r RunReport) string {
	verb := "failed"
	switch r.Outcome {
	case OutcomeSucceeded:
		verb = "succeeded"
	case OutcomeTimedOut:
		verb = "timed out"
	}
	d := time.Duration(r.DurationSeconds * float64(time.Second)).Round(time.Millisecond)
	note := fmt.Sprintf("Task %q %s after %s", r.Task, verb, d)
	msg := r.Message
	if r.ExitCode != nil {
		code := fmt.Sprintf("exit code %d", *r.ExitCode)
		note += ", " + code
		// The message of a run that failed by its exit code starts with it.
		if rest, ok := strings.CutPrefix(msg, code); ok {
			msg = strings.TrimPrefix(rest, "; ")
		}
	}
	if msg != "" {
		note += ": " + msg
	}
	return truncateUTF8(note, 1024)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// createEvents creates events in order and returns how many were written.
func (k *KubeReporter) createEvents(ctx context.Context, events []*eventsv1.Event) (int, error) {
	if err := k.readNodeUID(ctx); err != nil {
		return 0, err
	}
	for i, e := range events {
		e = e.DeepCopy()
		e.Regarding.UID = k.nodeUID
		_, err := k.client.EventsV1().Events(e.Namespace).Create(ctx, e, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return i, err
		}
	}
	return len(events), nil
}

// writeStatus adds runs to the status ConfigMap, when inForce is not nil
// removes the keys of other tasks, and when state is not nil sets the
// executorState key. It reads the ConfigMap (an empty patch), changes it
// and writes it only when its data changed, reading it again on a conflict.
// The write is named w.id in StatusWriteAnnotation. When unsure is not nil
// and the ConfigMap read does not name it, its runs were not written and are
// added too (the write, conditional on the resourceVersion read, cannot be
// made after that read without failing this one). w.runs is set to the runs
// of the last write tried, nil when none was.
func (k *KubeReporter) writeStatus(ctx context.Context, w *statusWrite, runs map[string]*taskDelta, unsure *statusWrite, inForce map[string]bool, state *StateStatus) error {
	cms := k.client.CoreV1().ConfigMaps(k.namespace)
	conflict := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	return retry.OnError(retry.DefaultRetry, conflict, func() error {
		// An empty merge patch reads the ConfigMap: the API server answers
		// with the object and writes nothing. The executor has no "get" of
		// ConfigMaps, which no admission policy could narrow to its own;
		// a patch passes the executor's ValidatingAdmissionPolicy, which
		// refuses any ConfigMap but the node's own.
		cm, err := cms.Patch(ctx, k.configMap, types.MergePatchType, []byte("{}"), metav1.PatchOptions{FieldManager: FieldManager})
		create := apierrors.IsNotFound(err)
		switch {
		case create:
			// Gone, perhaps with a Node of the same name: read its UID again.
			k.nodeUID = ""
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Name:        k.configMap,
				Namespace:   k.namespace,
				Labels:      map[string]string{StatusComponentLabel: "executor-status"},
				Annotations: map[string]string{StatusNodeAnnotation: k.node},
			}}
		case err != nil:
			return err
		}
		delta := runs
		if unsure != nil && cm.Annotations[StatusWriteAnnotation] != unsure.id {
			delta = addDeltas(unsure.runs, runs)
		}
		data, err := statusData(cm.Data, delta, inForce)
		if err != nil {
			return err
		}
		if state != nil {
			b, err := json.Marshal(state)
			if err != nil {
				return err
			}
			data[StateStatusKey] = string(b)
		}
		if create && len(data) == 0 {
			return nil
		}
		owned, err := k.ownedByNode(ctx, cm)
		if err != nil {
			return err
		}
		if !create && owned && maps.Equal(data, cm.Data) {
			return nil
		}
		cm.Data = data
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[StatusWriteAnnotation] = w.id
		w.runs = delta
		if create {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
		} else {
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
		}
		return err
	})
}

// addDeltas is older followed by newer: counts added, the newer last run.
func addDeltas(older, newer map[string]*taskDelta) map[string]*taskDelta {
	sum := make(map[string]*taskDelta, len(older)+len(newer))
	for task, d := range older {
		c := *d
		sum[task] = &c
	}
	for task, d := range newer {
		if s := sum[task]; s != nil {
			s.succeeded += d.succeeded
			s.failed += d.failed
			s.last = d.last
		} else {
			c := *d
			sum[task] = &c
		}
	}
	return sum
}

// ownedByNode reports whether cm names the Node as its owner, and makes it so
// when it does not.
func (k *KubeReporter) ownedByNode(ctx context.Context, cm *corev1.ConfigMap) (bool, error) {
	if err := k.readNodeUID(ctx); err != nil {
		return false, err
	}
	for _, o := range cm.OwnerReferences {
		if o.APIVersion == "v1" && o.Kind == "Node" && o.UID == k.nodeUID {
			return true, nil
		}
	}
	// A reference to a Node of the same name that is gone goes.
	refs := cm.OwnerReferences[:0:0]
	for _, o := range cm.OwnerReferences {
		if o.APIVersion != "v1" || o.Kind != "Node" {
			refs = append(refs, o)
		}
	}
	cm.OwnerReferences = append(refs, metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: k.node, UID: k.nodeUID})
	return false, nil
}

// readNodeUID reads the Node's UID once.
func (k *KubeReporter) readNodeUID(ctx context.Context) error {
	if k.nodeUID != "" {
		return nil
	}
	n, err := k.client.CoreV1().Nodes().Get(ctx, k.node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the Node: %w", err)
	}
	k.nodeUID = n.UID
	return nil
}

// statusData is the ConfigMap data old with runs added and, when inForce is
// not nil, only the keys of the tasks in force. The value of a task without a
// new run stays as it was, byte for byte; a value that is not a TaskStatus
// (edited by hand) starts again from zero counts. When the data would pass
// maxStatusBytes, the longest outputs keep less of their end.
func statusData(old map[string]string, runs map[string]*taskDelta, inForce map[string]bool) (map[string]string, error) {
	data := maps.Clone(old)
	if data == nil {
		data = map[string]string{}
	}
	statuses := map[string]*TaskStatus{}
	for task, d := range runs {
		s := &TaskStatus{}
		if v, ok := old[task]; ok && json.Unmarshal([]byte(v), s) != nil {
			s = &TaskStatus{}
		}
		s.SuccessCount += d.succeeded
		s.FailureCount += d.failed
		s.LastRun = d.last
		statuses[task] = s
	}
	if inForce != nil {
		for task := range data {
			if !inForce[task] && task != StateStatusKey {
				delete(data, task)
			}
		}
		for task := range statuses {
			if !inForce[task] {
				delete(statuses, task)
			}
		}
	}
	for {
		for task, s := range statuses {
			b, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			data[task] = string(b)
		}
		size := 0
		for task, v := range data {
			size += len(task) + len(v)
		}
		if size <= maxStatusBytes {
			return data, nil
		}
		// Every entry may have to give up output now.
		for task, v := range data {
			if statuses[task] == nil && task != StateStatusKey {
				s := &TaskStatus{}
				if json.Unmarshal([]byte(v), s) != nil {
					delete(data, task)
					continue
				}
				statuses[task] = s
			}
		}
		if !shrinkLongestOutput(statuses) {
			return data, nil
		}
	}
}

// shrinkLongestOutput halves the kept output of the task with the longest
// one (keeping its end, as the backends do) and reports whether there was
// output to shrink.
func shrinkLongestOutput(statuses map[string]*TaskStatus) bool {
	tasks := make([]string, 0, len(statuses))
	for t := range statuses {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	var longest *TaskStatus
	for _, t := range tasks {
		if s := statuses[t]; longest == nil || len(s.LastRun.Output.Text) > len(longest.LastRun.Output.Text) {
			longest = s
		}
	}
	if longest == nil || longest.LastRun.Output.Text == "" {
		return false
	}
	text := longest.LastRun.Output.Text
	b := newTailBuffer(int64(len(text) / 2))
	_, _ = b.Write([]byte(text))
	out := b.Output()
	longest.LastRun.Output.Text = out.Text
	longest.LastRun.Output.Truncated = true
	return true
}

// patchLabel sets the local-groups-ready label with a merge patch of the
// node's labels only, when the node does not have that value already.
func (k *KubeReporter) patchLabel(ctx context.Context, value string) error {
	n, err := k.client.CoreV1().Nodes().Get(ctx, k.node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	k.nodeUID = n.UID
	if v, ok := n.Labels[LocalGroupsReadyLabel]; ok && v == value {
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": map[string]string{LocalGroupsReadyLabel: value}},
	})
	if err != nil {
		return err
	}
	_, err = k.client.CoreV1().Nodes().Patch(ctx, k.node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	return err
}

// UnmarshalJSON reads what MarshalJSON writes, cpuSeconds included: the
// status ConfigMap is read back to add to its counts.
func (a *Accounting) UnmarshalJSON(data []byte) error {
	type plain Accounting
	var in struct {
		CPUSeconds *float64 `json:"cpuSeconds,omitempty"`
		plain
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*a = Accounting(in.plain)
	if in.CPUSeconds != nil {
		d := time.Duration(*in.CPUSeconds * float64(time.Second))
		a.CPUTime = &d
	}
	return nil
}
