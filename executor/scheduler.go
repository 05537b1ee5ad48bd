package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Start failures are tried again after a delay that doubles from
// startRetryMin up to startRetryMax, so a task that cannot start is never
// retried in a loop.
const (
	startRetryMin = 30 * time.Second
	startRetryMax = 10 * time.Minute
	// reportTimeout bounds one call to the Reporter.
	reportTimeout = 30 * time.Second
)

// Scheduler runs tasks when their triggers say, one run per task at a time.
// Each task has a goroutine of its own.
type Scheduler struct {
	backend  Backend
	reporter Reporter
	clock    Clock
	state    *State
	node     string
	// logw receives what cannot be reported, such as a Reporter's errors.
	logw io.Writer

	mu      sync.Mutex
	stopped bool
	workers map[string]*worker
	// exiting holds the done channels of removed workers, so that a task
	// added again never runs beside its old run.
	exiting map[string]chan struct{}
	wg      sync.WaitGroup
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Backend  Backend
	Reporter Reporter
	// Clock defaults to the wall clock.
	Clock Clock
	// State defaults to an in-memory state.
	State *State
	Node  string
	// Log defaults to io.Discard.
	Log io.Writer
}

// NewScheduler returns a scheduler with no tasks.
func NewScheduler(o SchedulerOptions) *Scheduler {
	s := &Scheduler{backend: o.Backend, reporter: o.Reporter, clock: o.Clock, state: o.State, node: o.Node, logw: o.Log, workers: map[string]*worker{}, exiting: map[string]chan struct{}{}}
	if s.clock == nil {
		s.clock = RealClock{}
	}
	if s.state == nil {
		s.state, _ = OpenState("")
	}
	if s.logw == nil {
		s.logw = io.Discard
	}
	return s
}

type worker struct {
	cancel context.CancelFunc
	// update holds the newest definition not yet taken by the worker.
	update chan TaskSpec
	done   chan struct{}
	hash   string
}

// Update makes tasks the set in force. New tasks start; tasks whose
// definition changed take it before their next run, and each trigger runs a
// changed definition once right away (once only if that hash has not run);
// tasks no longer listed stop, and a run of theirs is ended.
func (s *Scheduler) Update(ctx context.Context, tasks []TaskSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		seen[t.Name] = true
		if w, ok := s.workers[t.Name]; ok {
			if w.hash == t.Hash {
				continue
			}
			w.hash = t.Hash
			// Replace a definition the worker has not taken yet.
			select {
			case <-w.update:
			default:
			}
			w.update <- t
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{cancel: cancel, update: make(chan TaskSpec, 1), done: make(chan struct{}), hash: t.Hash}
		s.workers[t.Name] = w
		prev := s.exiting[t.Name]
		delete(s.exiting, t.Name)
		s.wg.Add(1)
		go s.loop(wctx, w, t, prev)
	}
	for name, w := range s.workers {
		if !seen[name] {
			w.cancel()
			delete(s.workers, name)
			s.exiting[name] = w.done
		}
	}
}

// Stop ends every run (the backends terminate their trees), waits until each
// has been reported, and flushes the reporter.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	for _, w := range s.workers {
		w.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	return s.reporter.Flush(fctx)
}

// loop is one task's goroutine.
func (s *Scheduler) loop(ctx context.Context, w *worker, task TaskSpec, prev <-chan struct{}) {
	defer s.wg.Done()
	defer close(w.done)
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return
		}
	}
	var (
		due      = s.firstDue(task)
		failures int
	)
	for {
		var timerC <-chan time.Time
		var timer Timer
		if due != nil {
			timer = s.clock.NewTimer(due.Sub(s.clock.Now()))
			timerC = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case t := <-w.update:
			if timer != nil {
				timer.Stop()
			}
			task, failures = t, 0
			due = s.firstDue(task)
		case <-timerC:
			report := s.runTask(ctx, task)
			due, failures = s.nextDue(task, report, failures)
			if ctx.Err() == nil {
				report.NextRun = due
			}
			s.report(ctx, report)
		}
	}
}

// firstDue is when a new or changed definition first runs; nil for never.
func (s *Scheduler) firstDue(t TaskSpec) *time.Time {
	if t.Trigger == TriggerOnce && s.state.OnceDone(t.Name, t.Hash) {
		return nil
	}
	now := s.clock.Now()
	return &now
}

// nextDue is when a task runs after a run; nil for never. A run that could
// not start is tried again with a growing delay.
func (s *Scheduler) nextDue(t TaskSpec, r RunReport, failures int) (*time.Time, int) {
	now := s.clock.Now()
	if r.Reason == ReasonStartFailed {
		failures++
		delay := startRetryMin
		for i := 1; i < failures && delay < startRetryMax; i++ {
			delay *= 2
		}
		delay = min(delay, startRetryMax)
		if t.Trigger == TriggerInterval && t.Interval > delay {
			delay = t.Interval
		}
		next := now.Add(delay)
		return &next, failures
	}
	switch t.Trigger {
	case TriggerInterval:
		next := now.Add(t.Interval)
		return &next, 0
	case TriggerOnce:
		if r.Reason != ReasonTerminated {
			if err := s.state.MarkOnce(t.Name, t.Hash); err != nil {
				fmt.Fprintf(s.logw, "executor: task %s: %v\n", t.Name, err)
			}
		}
	}
	return nil, 0
}

// RunDue runs, one after the other, every task whose trigger makes it due at
// start, reports each run and returns the reports. It is the --once mode.
func (s *Scheduler) RunDue(ctx context.Context, tasks []TaskSpec) []RunReport {
	var reports []RunReport
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		if s.firstDue(t) == nil {
			continue
		}
		r := s.runTask(ctx, t)
		s.nextDue(t, r, 0)
		s.report(ctx, r)
		reports = append(reports, r)
	}
	return reports
}

func (s *Scheduler) report(ctx context.Context, r RunReport) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if err := s.reporter.RunFinished(rctx, r); err != nil {
		fmt.Fprintf(s.logw, "executor: reporting run of task %s: %v\n", r.Task, err)
	}
}

// runTask runs one task to its end and describes the run.
func (s *Scheduler) runTask(ctx context.Context, t TaskSpec) RunReport {
	r := RunReport{Node: s.node, Task: t.Name, Hash: t.Hash, Source: t.Source, Trigger: t.Trigger}
	r.Started = s.clock.Now()
	finish := func() RunReport {
		if r.Finished.IsZero() {
			r.Finished = s.clock.Now()
		}
		r.DurationSeconds = r.Finished.Sub(r.Started).Seconds()
		return r
	}
	if t.builtin != nil {
		s.runBuiltin(ctx, t, &r)
		return finish()
	}

	argv := t.Command
	if t.Script != "" {
		var cleanup func()
		var err error
		argv, cleanup, err = scriptFile(t.Name, t.Shell, t.Script, shellArgv)
		if err != nil {
			r.Outcome, r.Reason, r.Message = OutcomeFailed, ReasonStartFailed, err.Error()
			return finish()
		}
		defer cleanup()
	}
	res, err := s.backend.Run(ctx, RunSpec{
		Task:           t.Name,
		Argv:           argv,
		Env:            t.Env,
		WorkingDir:     t.WorkingDir,
		Timeout:        t.Timeout,
		Limits:         t.Limits,
		MaxOutputBytes: t.MaxOutputBytes,
	})
	if err != nil {
		r.Outcome, r.Reason, r.Message = OutcomeFailed, ReasonStartFailed, err.Error()
		return finish()
	}
	r.Started, r.Finished = res.Started, res.Finished
	code := res.ExitCode
	r.ExitCode = &code
	r.Output = res.Output
	r.Accounting = res.Accounting
	r.LimitProblems = res.LimitProblems
	r.LimitsHit = res.LimitsHit
	var msgs []string
	switch {
	case res.TimedOut:
		r.Outcome, r.Reason = OutcomeTimedOut, ReasonTimeout
		msgs = append(msgs, fmt.Sprintf("timed out after %s; the process tree was ended", t.Timeout))
	case res.Terminated:
		r.Outcome, r.Reason = OutcomeFailed, ReasonTerminated
		msgs = append(msgs, "ended by the executor")
	case res.ExitCode != 0:
		r.Outcome, r.Reason = OutcomeFailed, ReasonExitCode
		msgs = append(msgs, fmt.Sprintf("exit code %d", res.ExitCode))
	default:
		r.Outcome = OutcomeSucceeded
	}
	if len(res.LimitsHit) > 0 {
		msgs = append(msgs, "limits hit: "+strings.Join(res.LimitsHit, ", "))
	}
	if len(res.LimitProblems) > 0 {
		var ps []string
		for _, p := range res.LimitProblems {
			ps = append(ps, p.String())
		}
		msgs = append(msgs, "limits not in force: "+strings.Join(ps, "; "))
	}
	r.Message = strings.Join(msgs, "; ")
	return finish()
}

func (s *Scheduler) runBuiltin(ctx context.Context, t TaskSpec, r *RunReport) {
	bctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	res, err := t.builtin(bctx)
	out := newTailBuffer(t.MaxOutputBytes)
	_, _ = out.Write([]byte(res.Output))
	r.Output = out.Output()
	r.LocalGroups = res.LocalGroups
	var unsupported *UnsupportedError
	switch {
	case errors.As(err, &unsupported):
		r.Outcome, r.Reason, r.Message = OutcomeFailed, ReasonUnsupported, err.Error()
	case err != nil && errors.Is(bctx.Err(), context.DeadlineExceeded):
		r.Outcome, r.Reason, r.Message = OutcomeTimedOut, ReasonTimeout, err.Error()
	case err != nil && ctx.Err() != nil:
		r.Outcome, r.Reason, r.Message = OutcomeFailed, ReasonTerminated, err.Error()
	case err != nil:
		r.Outcome, r.Reason, r.Message = OutcomeFailed, ReasonBuiltinFailed, err.Error()
	default:
		r.Outcome = OutcomeSucceeded
	}
}

// taskNames returns the sorted names of tasks.
func taskNames(tasks []TaskSpec) []string {
	names := make([]string, 0, len(tasks))
	for _, t := range tasks {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}
