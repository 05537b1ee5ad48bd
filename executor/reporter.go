package executor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// Reporter receives what the executor does. The executor calls it from
// several goroutines; an implementation is safe for that. A Reporter's error
// is logged, never fatal: a run is not repeated because its report failed.
//
// JSONReporter writes JSON lines; MetricsReporter keeps Prometheus metrics.
// Kubernetes reporting (Events on the Node, the per-node status ConfigMap,
// the hostprocess.dev/local-groups-ready label) plugs in as another Reporter.
type Reporter interface {
	// Started is called once, before any task runs.
	Started(ctx context.Context, s Startup) error
	// TasksLoaded is called after each load of the tasks directory whose
	// result differs from the one before.
	TasksLoaded(ctx context.Context, l LoadReport) error
	// RunFinished is called once per run, after its whole tree has ended,
	// and for a run that could not start.
	RunFinished(ctx context.Context, r RunReport) error
	// Flush is called once when the executor stops, after every run it ended
	// has been reported.
	Flush(ctx context.Context) error
}

// Startup describes the executor as it starts.
type Startup struct {
	Node         string       `json:"node"`
	TasksDir     string       `json:"tasksDir"`
	Capabilities Capabilities `json:"capabilities"`
	// State says where once tasks are remembered; nil without a State.
	State *StateStatus `json:"state,omitempty"`
}

// LoadReport is the outcome of one load of the tasks directory.
type LoadReport struct {
	Node string `json:"node"`
	// Tasks are the names of the tasks in force, sorted.
	Tasks []string `json:"tasks"`
	// Errors name a file, and where it can, the document and field at fault.
	// The tasks a wrong file held before stay in force.
	Errors []string `json:"errors,omitempty"`
}

// Outcome is how a run ended.
type Outcome string

const (
	OutcomeSucceeded Outcome = "Succeeded"
	OutcomeFailed    Outcome = "Failed"
	OutcomeTimedOut  Outcome = "TimedOut"
)

// EventReason is the reason of the Kubernetes Event for the outcome:
// TaskSucceeded, TaskFailed or TaskTimedOut.
func (o Outcome) EventReason() string { return "Task" + string(o) }

// Reasons a run failed, in RunReport.Reason.
const (
	// ReasonExitCode: the main process exited with a code other than 0.
	ReasonExitCode = "ExitCode"
	// ReasonStartFailed: the run could not start; it is tried again later
	// with a growing delay, never in a loop.
	ReasonStartFailed = "StartFailed"
	// ReasonTerminated: the executor ended the run as it shut down or as the
	// task was removed.
	ReasonTerminated = "Terminated"
	// ReasonUnsupported: the task cannot run on this platform.
	ReasonUnsupported = "Unsupported"
	// ReasonTimeout: the run hit its timeout.
	ReasonTimeout = "Timeout"
	// ReasonBuiltinFailed: a built-in task reported a failure.
	ReasonBuiltinFailed = "BuiltinFailed"
)

// RunReport is one run of one task.
type RunReport struct {
	Node    string  `json:"node"`
	Task    string  `json:"task"`
	Hash    string  `json:"hash"`
	Source  string  `json:"source,omitempty"`
	Trigger Trigger `json:"trigger"`
	Outcome Outcome `json:"outcome"`
	// Reason is empty for a success.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// ExitCode is nil for a run that did not start and for built-in tasks.
	ExitCode *int      `json:"exitCode,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// DurationSeconds is Finished less Started.
	DurationSeconds float64    `json:"durationSeconds"`
	Output          Output     `json:"output"`
	Accounting      Accounting `json:"accounting"`
	// LimitProblems are limits asked for that were not in force.
	LimitProblems []LimitProblem `json:"limitProblems,omitempty"`
	// LimitsHit are limits the tree ran into.
	LimitsHit []string `json:"limitsHit,omitempty"`
	// LocalGroups is set by the ensureLocalGroups built-in task.
	LocalGroups *LocalGroupsStatus `json:"localGroups,omitempty"`
	// NextRun is when the task runs again, if it does on its own.
	NextRun *time.Time `json:"nextRun,omitempty"`
}

// JSONReporter writes one JSON object per line:
//
//	{"time":"...","event":"runFinished","run":{...}}
//
// with event started, tasksLoaded, runFinished or stopped.
type JSONReporter struct {
	mu  sync.Mutex
	enc *json.Encoder
	now func() time.Time
}

// NewJSONReporter writes to w, usually os.Stdout.
func NewJSONReporter(w io.Writer) *JSONReporter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONReporter{enc: enc, now: time.Now}
}

type jsonLine struct {
	Time    time.Time   `json:"time"`
	Event   string      `json:"event"`
	Startup *Startup    `json:"startup,omitempty"`
	Load    *LoadReport `json:"load,omitempty"`
	Run     *RunReport  `json:"run,omitempty"`
}

func (j *JSONReporter) write(line jsonLine) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	line.Time = j.now().UTC()
	return j.enc.Encode(line)
}

func (j *JSONReporter) Started(_ context.Context, s Startup) error {
	return j.write(jsonLine{Event: "started", Startup: &s})
}

func (j *JSONReporter) TasksLoaded(_ context.Context, l LoadReport) error {
	return j.write(jsonLine{Event: "tasksLoaded", Load: &l})
}

func (j *JSONReporter) RunFinished(_ context.Context, r RunReport) error {
	return j.write(jsonLine{Event: "runFinished", Run: &r})
}

func (j *JSONReporter) Flush(context.Context) error {
	return j.write(jsonLine{Event: "stopped"})
}

// MultiReporter hands everything to each of its reporters in turn.
type MultiReporter []Reporter

func (m MultiReporter) each(f func(Reporter) error) error {
	var errs []error
	for _, r := range m {
		errs = append(errs, f(r))
	}
	return errors.Join(errs...)
}

func (m MultiReporter) Started(ctx context.Context, s Startup) error {
	return m.each(func(r Reporter) error { return r.Started(ctx, s) })
}

func (m MultiReporter) TasksLoaded(ctx context.Context, l LoadReport) error {
	return m.each(func(r Reporter) error { return r.TasksLoaded(ctx, l) })
}

func (m MultiReporter) RunFinished(ctx context.Context, r RunReport) error {
	return m.each(func(rep Reporter) error { return rep.RunFinished(ctx, r) })
}

func (m MultiReporter) Flush(ctx context.Context) error {
	return m.each(func(r Reporter) error { return r.Flush(ctx) })
}
