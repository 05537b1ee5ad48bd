package executor

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func task(t *testing.T, doc string) TaskSpec {
	t.Helper()
	tasks, err := ParseTasks("t.yaml", []byte(header+doc))
	if err != nil {
		t.Fatalf("ParseTasks: %v", err)
	}
	return tasks[0]
}

type schedulerEnv struct {
	clock     *fakeClock
	backend   *fakeBackend
	rec       *recorder
	s         *Scheduler
	statePath string
}

func newSchedulerEnv(t *testing.T, statePath string) *schedulerEnv {
	t.Helper()
	clock := newFakeClock()
	e := &schedulerEnv{clock: clock, backend: &fakeBackend{clock: clock, fail: map[string]error{}, block: map[string]bool{}}, rec: newRecorder(), statePath: statePath}
	state, err := OpenState(statePath)
	if err != nil {
		t.Fatalf("OpenState: %v", err)
	}
	e.s = NewScheduler(SchedulerOptions{Backend: e.backend, Reporter: e.rec, Clock: clock, State: state, Node: "node-1"})
	t.Cleanup(func() { _ = e.s.Stop(context.Background()) })
	return e
}

func TestOnceRunsEachDefinitionOnce(t *testing.T) {
	statePath := filepath.Join(tempDir(t), "state.json")
	e := newSchedulerEnv(t, statePath)
	ctx := context.Background()
	a := task(t, "name: a\ncommand: [x]\n")
	b := task(t, "name: a\ncommand: [x, changed]\n")

	e.s.Update(ctx, []TaskSpec{a})
	if r := e.rec.next(t); r.Hash != a.Hash || r.Outcome != OutcomeSucceeded || r.NextRun != nil {
		t.Errorf("first run: hash %s, outcome %s, next %v; want %s, Succeeded, none", r.Hash, r.Outcome, r.NextRun, a.Hash)
	}
	e.clock.Advance(24 * time.Hour)
	e.s.Update(ctx, []TaskSpec{a})
	e.rec.none(t)

	e.s.Update(ctx, []TaskSpec{b})
	if r := e.rec.next(t); r.Hash != b.Hash {
		t.Errorf("changed definition ran hash %s, want %s", r.Hash, b.Hash)
	}
	// Back to the first definition: it ran already.
	e.s.Update(ctx, []TaskSpec{a})
	e.rec.none(t)

	// A restarted executor with the same state runs neither again.
	again := newSchedulerEnv(t, statePath)
	again.s.Update(ctx, []TaskSpec{b})
	again.rec.none(t)
	if len(again.backend.runs) != 0 {
		t.Errorf("after a restart ran %v, want nothing", again.backend.runs)
	}
}

func TestIntervalRunsAtStartThenEveryInterval(t *testing.T) {
	e := newSchedulerEnv(t, "")
	start := e.clock.Now()
	e.s.Update(context.Background(), []TaskSpec{task(t, "name: a\ncommand: [x]\ntrigger: interval\ninterval: 1m\n")})
	r := e.rec.next(t)
	if !r.Started.Equal(start) || r.NextRun == nil || !r.NextRun.Equal(start.Add(time.Minute)) {
		t.Errorf("first run at %s, next %v; want %s, %s", r.Started, r.NextRun, start, start.Add(time.Minute))
	}
	e.clock.waitTimers(t, 1)
	e.clock.Advance(time.Minute - time.Nanosecond)
	e.rec.none(t)
	e.clock.Advance(time.Nanosecond)
	if r := e.rec.next(t); !r.Started.Equal(start.Add(time.Minute)) {
		t.Errorf("second run at %s, want %s", r.Started, start.Add(time.Minute))
	}
	e.clock.waitTimers(t, 1)
	e.clock.Advance(time.Minute)
	if r := e.rec.next(t); !r.Started.Equal(start.Add(2 * time.Minute)) {
		t.Errorf("third run at %s, want %s", r.Started, start.Add(2*time.Minute))
	}
}

func TestOnChangeRunsAtStartAndOnEachChange(t *testing.T) {
	statePath := filepath.Join(tempDir(t), "state.json")
	e := newSchedulerEnv(t, statePath)
	ctx := context.Background()
	a := task(t, "name: a\ncommand: [x]\ntrigger: onChange\n")
	b := task(t, "name: a\ncommand: [x, changed]\ntrigger: onChange\n")

	e.s.Update(ctx, []TaskSpec{a})
	if r := e.rec.next(t); r.Hash != a.Hash || r.NextRun != nil {
		t.Errorf("first run: hash %s, next %v; want %s, none", r.Hash, r.NextRun, a.Hash)
	}
	e.clock.Advance(24 * time.Hour)
	e.s.Update(ctx, []TaskSpec{a})
	e.rec.none(t)
	e.s.Update(ctx, []TaskSpec{b})
	if r := e.rec.next(t); r.Hash != b.Hash {
		t.Errorf("changed definition ran hash %s, want %s", r.Hash, b.Hash)
	}
	e.s.Update(ctx, []TaskSpec{a})
	if r := e.rec.next(t); r.Hash != a.Hash {
		t.Errorf("changed back: ran hash %s, want %s", r.Hash, a.Hash)
	}
	// Unlike once, it runs again when the executor restarts.
	again := newSchedulerEnv(t, statePath)
	again.s.Update(ctx, []TaskSpec{a})
	if r := again.rec.next(t); r.Hash != a.Hash {
		t.Errorf("after a restart ran hash %s, want %s", r.Hash, a.Hash)
	}
}

func TestATaskThatCannotStartIsRetriedWithAGrowingDelay(t *testing.T) {
	cases := []struct {
		name   string
		doc    string
		delays []time.Duration
	}{
		{name: "once: 30s, then doubling", doc: "name: a\ncommand: [x]\n", delays: []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute}},
		{name: "onChange: 30s, then doubling", doc: "name: a\ncommand: [x]\ntrigger: onChange\n", delays: []time.Duration{30 * time.Second, time.Minute}},
		{name: "interval: never sooner than the interval", doc: "name: a\ncommand: [x]\ntrigger: interval\ninterval: 90s\n", delays: []time.Duration{90 * time.Second, 90 * time.Second, 2 * time.Minute}},
		{name: "once: at most 10m", doc: "name: a\ncommand: [x]\n", delays: []time.Duration{
			30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSchedulerEnv(t, "")
			e.backend.fail["a"] = errors.New(`starting "x": not found`)
			e.s.Update(context.Background(), []TaskSpec{task(t, tc.doc)})
			for i, delay := range tc.delays {
				r := e.rec.next(t)
				want := e.clock.Now().Add(delay)
				if r.Outcome != OutcomeFailed || r.Reason != ReasonStartFailed || r.Message != `starting "x": not found` || r.ExitCode != nil {
					t.Errorf("attempt %d: %s %s %q exit %v; want Failed StartFailed %q no exit code", i+1, r.Outcome, r.Reason, r.Message, r.ExitCode, `starting "x": not found`)
				}
				if r.NextRun == nil || !r.NextRun.Equal(want) {
					t.Fatalf("attempt %d: next run %v, want %s", i+1, r.NextRun, want)
				}
				e.clock.waitTimers(t, 1)
				e.clock.Advance(delay - time.Nanosecond)
				e.rec.none(t)
				e.clock.Advance(time.Nanosecond)
			}
			e.rec.next(t)
			if got := len(e.backend.runs); got != len(tc.delays)+1 {
				t.Errorf("attempts = %d, want %d", got, len(tc.delays)+1)
			}
		})
	}
}

func TestRemovingATaskEndsItsRun(t *testing.T) {
	e := newSchedulerEnv(t, "")
	e.backend.block["a"] = true
	ctx := context.Background()
	e.s.Update(ctx, []TaskSpec{task(t, "name: a\ncommand: [x]\n")})
	waitFor(t, func() bool { e.backend.mu.Lock(); defer e.backend.mu.Unlock(); return len(e.backend.runs) == 1 })
	e.s.Update(ctx, nil)
	r := e.rec.next(t)
	if r.Outcome != OutcomeFailed || r.Reason != ReasonTerminated || *r.ExitCode != ExitCodeTerminated || r.Message != "ended by the executor" {
		t.Errorf("removed task's run: %s %s exit %d %q; want Failed Terminated %d %q", r.Outcome, r.Reason, *r.ExitCode, r.Message, ExitCodeTerminated, "ended by the executor")
	}
	// A terminated once run did not count: the task runs when it is back.
	e.backend.block["a"] = false
	e.s.Update(ctx, []TaskSpec{task(t, "name: a\ncommand: [x]\n")})
	if r := e.rec.next(t); r.Outcome != OutcomeSucceeded {
		t.Errorf("re-added task: %s, want Succeeded", r.Outcome)
	}
}

func TestStopEndsEveryRunReportsItAndFlushes(t *testing.T) {
	e := newSchedulerEnv(t, "")
	e.backend.block["a"], e.backend.block["b"] = true, true
	e.s.Update(context.Background(), []TaskSpec{task(t, "name: a\ncommand: [x]\n"), task(t, "name: b\ncommand: [x]\n")})
	waitFor(t, func() bool { e.backend.mu.Lock(); defer e.backend.mu.Unlock(); return len(e.backend.runs) == 2 })
	if err := e.s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	e.rec.mu.Lock()
	events := append([]string(nil), e.rec.events...)
	e.rec.mu.Unlock()
	if len(events) != 3 || events[2] != "flush" {
		t.Errorf("events = %v, want two runFinished then flush", events)
	}
	for range 2 {
		if r := e.rec.next(t); r.Reason != ReasonTerminated {
			t.Errorf("run of %s: %s, want Terminated", r.Task, r.Reason)
		}
	}
}

func TestRunDueRunsWhatIsDueAtStart(t *testing.T) {
	statePath := filepath.Join(tempDir(t), "state.json")
	tasks := []TaskSpec{
		task(t, "name: a\ncommand: [x]\n"),
		task(t, "name: b\ncommand: [x]\ntrigger: interval\ninterval: 1h\n"),
		task(t, "name: c\ncommand: [x]\ntrigger: onChange\n"),
	}
	first := newSchedulerEnv(t, statePath)
	if got := reportNames(first.s.RunDue(context.Background(), tasks)); got != "a b c" {
		t.Errorf("first RunDue ran %q, want %q", got, "a b c")
	}
	second := newSchedulerEnv(t, statePath)
	if got := reportNames(second.s.RunDue(context.Background(), tasks)); got != "b c" {
		t.Errorf("second RunDue ran %q, want %q: the once task ran already", got, "b c")
	}
}

func TestBuiltinOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		fn      builtinFunc
		outcome Outcome
		reason  string
		message string
	}{
		{name: "succeeds", fn: func(context.Context) (builtinResult, error) { return builtinResult{Output: "ok\n"}, nil }, outcome: OutcomeSucceeded},
		{name: "fails", fn: func(context.Context) (builtinResult, error) { return builtinResult{}, errors.New("boom") },
			outcome: OutcomeFailed, reason: ReasonBuiltinFailed, message: "boom"},
		{name: "is unsupported", fn: func(context.Context) (builtinResult, error) {
			return builtinResult{}, &UnsupportedError{What: "creating local groups (NetLocalGroupAdd)"}
		}, outcome: OutcomeFailed, reason: ReasonUnsupported, message: "creating local groups (NetLocalGroupAdd) is not supported on this platform"},
		{name: "times out", fn: func(ctx context.Context) (builtinResult, error) { <-ctx.Done(); return builtinResult{}, ctx.Err() },
			outcome: OutcomeTimedOut, reason: ReasonTimeout, message: "context deadline exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSchedulerEnv(t, "")
			spec := TaskSpec{Name: "builtin", Trigger: TriggerOnChange, Timeout: 50 * time.Millisecond, MaxOutputBytes: 100, Hash: "h", builtin: tc.fn}
			r := e.s.RunDue(context.Background(), []TaskSpec{spec})[0]
			if r.Outcome != tc.outcome || r.Reason != tc.reason || r.Message != tc.message {
				t.Errorf("report = %s %s %q, want %s %s %q", r.Outcome, r.Reason, r.Message, tc.outcome, tc.reason, tc.message)
			}
		})
	}
}

func reportNames(reports []RunReport) string {
	s := ""
	for i, r := range reports {
		if i > 0 {
			s += " "
		}
		s += r.Task
	}
	return s
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
