package audit

import (
	"fmt"
	"io"
	"time"
)

// progress writes what has been read so far, for audits of large clusters. Small audits,
// done before the first report is due, print nothing.
type progress struct {
	w            io.Writer
	tty          bool
	start, last  time.Time
	after, every time.Duration
	printed      bool
	namespaces   int
	workloads    int
	pods         int
}

func newProgress(o CollectOptions) *progress {
	p := &progress{w: o.Progress, tty: o.ProgressTTY, start: time.Now(), after: o.ProgressAfter, every: o.ProgressEvery}
	if p.after == 0 {
		p.after = time.Second
	}
	if p.every == 0 {
		p.every = 2 * time.Second
		if p.tty {
			p.every = 200 * time.Millisecond
		}
	}
	if p.after < 0 {
		p.after = 0
	}
	return p
}

func (p *progress) add(what string, n int) {
	switch what {
	case "namespaces":
		p.namespaces += n
	case "workloads":
		p.workloads += n
	case "pods":
		p.pods += n
	}
	if p.w == nil || n == 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < p.after || (p.printed && now.Sub(p.last) < p.every) {
		return
	}
	p.last, p.printed = now, true
	line := fmt.Sprintf("audit: read %s, %s, %s (%.0fs)", plural(p.namespaces, "namespace"),
		plural(p.workloads, "workload"), plural(p.pods, "pod"), now.Sub(p.start).Seconds())
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// done clears a terminal's progress line.
func (p *progress) done() {
	if p.w != nil && p.tty && p.printed {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
