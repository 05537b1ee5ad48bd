package executor

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	c     chan time.Time
	at    time.Time
	done  bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, c: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.done = true
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	var left []*fakeTimer
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(c.now):
			t.done = true
			t.c <- c.now
		default:
			left = append(left, t)
		}
	}
	c.timers = left
}

// waitTimers waits until n timers are pending.
func (c *fakeClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		pending := 0
		for _, tm := range c.timers {
			if !tm.done {
				pending++
			}
		}
		c.mu.Unlock()
		if pending == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("waited 10s for %d pending timers", n)
}

// fakeBackend runs nothing. A task listed in fail does not start; a task in
// block runs until its context is done.
type fakeBackend struct {
	clock *fakeClock
	mu    sync.Mutex
	fail  map[string]error
	block map[string]bool
	runs  []string
}

func (b *fakeBackend) Name() string               { return "fake" }
func (b *fakeBackend) Capabilities() Capabilities { return Capabilities{Backend: "fake"} }

func (b *fakeBackend) Run(ctx context.Context, spec RunSpec) (*RunResult, error) {
	b.mu.Lock()
	b.runs = append(b.runs, spec.Task)
	err, block := b.fail[spec.Task], b.block[spec.Task]
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	res := &RunResult{Started: b.clock.Now()}
	if block {
		<-ctx.Done()
		res.Terminated, res.ExitCode = true, ExitCodeTerminated
	}
	res.Finished = b.clock.Now()
	return res, nil
}

// recorder is a Reporter that hands each event to the test.
type recorder struct {
	runs    chan RunReport
	loads   chan LoadReport
	mu      sync.Mutex
	events  []string
	flushed bool
}

func newRecorder() *recorder {
	return &recorder{runs: make(chan RunReport, 100), loads: make(chan LoadReport, 100)}
}

func (r *recorder) log(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) Started(context.Context, Startup) error { r.log("started"); return nil }

func (r *recorder) TasksLoaded(_ context.Context, l LoadReport) error {
	r.log("tasksLoaded")
	r.loads <- l
	return nil
}

func (r *recorder) RunFinished(_ context.Context, rep RunReport) error {
	r.log("runFinished " + rep.Task)
	r.runs <- rep
	return nil
}

func (r *recorder) Flush(context.Context) error { r.log("flush"); return nil }

// next waits for the next run report.
func (r *recorder) next(t *testing.T) RunReport {
	t.Helper()
	select {
	case rep := <-r.runs:
		return rep
	case <-time.After(20 * time.Second):
		t.Fatal("no run reported in 20s")
		return RunReport{}
	}
}

// none checks that no run is reported for a while.
func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case rep := <-r.runs:
		t.Fatalf("unexpected run of %s (%s %s)", rep.Task, rep.Outcome, rep.Reason)
	case <-time.After(100 * time.Millisecond):
	}
}
