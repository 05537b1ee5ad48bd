//go:build linux

package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Check sends request number n of one kind and returns nil only when the
// outcome is exactly the expected one (the verdict, the message, the
// patch...); any other outcome, including a transport error, is a failure.
type Check func(ctx context.Context, n int) error

// Load runs Checks from several goroutines, back to back, until Stop, and
// counts every outcome. A request that is in flight when Stop is called
// still counts.
type Load struct {
	checks  map[string]Check
	names   []string
	timeout time.Duration
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex
	sent     map[string]int
	failed   map[string]int
	failures []string
	total    int
}

// maxFailures is how many failure messages a Load keeps.
const maxFailures = 20

// StartLoad starts workers goroutines. Worker w sends checks in name order,
// starting at the w-th, so every kind is in flight at once; each request
// gets timeout (the API server's webhook timeout is shorter).
func StartLoad(workers int, timeout time.Duration, checks map[string]Check) *Load {
	l := &Load{checks: checks, timeout: timeout, sent: map[string]int{}, failed: map[string]int{}}
	for name := range checks {
		l.names = append(l.names, name)
	}
	sort.Strings(l.names)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				name := l.names[i%len(l.names)]
				l.mu.Lock()
				n := l.sent[name]
				l.sent[name]++
				l.mu.Unlock()
				// A request is never cut short by Stop: it runs to its
				// own timeout, so that Stop cannot turn a success into a
				// failure.
				rctx, rcancel := context.WithTimeout(context.Background(), l.timeout)
				start := time.Now()
				err := l.checks[name](rctx, n)
				rcancel()
				l.mu.Lock()
				l.total++
				if err != nil {
					l.failed[name]++
					if len(l.failures) < maxFailures {
						l.failures = append(l.failures, fmt.Sprintf("%s %s #%d (after %s): %v",
							start.Format("15:04:05.000"), name, n, time.Since(start).Round(time.Millisecond), err))
					}
				}
				l.mu.Unlock()
				if err != nil {
					// A failing target fails fast; do not spin on it.
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

// Completed returns how many requests have finished so far.
func (l *Load) Completed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Failed returns how many requests have failed so far.
func (l *Load) Failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, f := range l.failed {
		n += f
	}
	return n
}

// Stop stops the workers, waits for the requests in flight and reports.
func (l *Load) Stop() LoadReport {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := LoadReport{Sent: map[string]int{}, Failed: map[string]int{}, Failures: append([]string(nil), l.failures...)}
	for name, n := range l.sent {
		r.Sent[name] = n
		r.Total += n
	}
	for name, n := range l.failed {
		r.Failed[name] = n
		r.TotalFailed += n
	}
	return r
}

// LoadReport is what a Load did.
type LoadReport struct {
	// Sent and Failed count requests by check name.
	Sent, Failed map[string]int
	// Total and TotalFailed are their sums.
	Total, TotalFailed int
	// Failures are the first failures' messages.
	Failures []string
}

// String is a one-line summary with the first failures below it.
func (r LoadReport) String() string {
	names := make([]string, 0, len(r.Sent))
	for name := range r.Sent {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d failed:", r.Total, r.TotalFailed)
	for _, name := range names {
		fmt.Fprintf(&b, " %s %d/%d failed;", name, r.Failed[name], r.Sent[name])
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\n  %s", f)
	}
	return b.String()
}
