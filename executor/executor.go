package executor

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// DefaultReloadInterval is how often the tasks directory is read again.
const DefaultReloadInterval = 5 * time.Second

// Options configure Run and RunOnce.
type Options struct {
	// TasksDir holds the task files: a mounted ConfigMap, not via subPath, so
	// that updates arrive.
	TasksDir string
	// LocalGroups, when set, reads the admission configuration's
	// allowedLocalGroups at each reload; the ensureLocalGroups task is then
	// in force.
	LocalGroups func() ([]string, error)
	// GroupFile, off Windows, is a group(5) file in which ensureLocalGroups
	// checks and creates the groups (the Linux backend, for development and
	// tests); without it ensureLocalGroups is unsupported there.
	GroupFile string
	Node      string
	Backend   Backend
	Reporter  Reporter
	// State defaults to an in-memory state.
	State *State
	// ReloadInterval defaults to DefaultReloadInterval.
	ReloadInterval time.Duration
	// Clock defaults to the wall clock.
	Clock Clock
	// Log receives what cannot be reported; defaults to io.Discard.
	Log io.Writer
}

// Run runs the executor until ctx is done: it loads the tasks, reloads them
// when the directory changes, and runs each when its trigger says. When ctx
// is done (SIGTERM) it ends every run, reports each and flushes the reporter.
func Run(ctx context.Context, o Options) error {
	s, l := start(ctx, o)
	interval := o.ReloadInterval
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	reload := func() {
		if tasks, changed := l.load(ctx); changed {
			s.Update(ctx, tasks)
		}
	}
	reload()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.Stop(ctx)
		case <-ticker.C:
			reload()
		}
	}
}

// RunOnce loads the tasks, runs each one that is due at start (all but once
// tasks whose definition has run), one after the other, flushes the reporter
// and returns the reports.
func RunOnce(ctx context.Context, o Options) ([]RunReport, error) {
	s, l := start(ctx, o)
	tasks, _ := l.load(ctx)
	reports := s.RunDue(ctx, tasks)
	return reports, s.Stop(ctx)
}

func start(ctx context.Context, o Options) (*Scheduler, *dirLoader) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	s := NewScheduler(SchedulerOptions{Backend: o.Backend, Reporter: o.Reporter, Clock: o.Clock, State: o.State, Node: o.Node, Log: o.Log})
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	startup := Startup{Node: o.Node, TasksDir: o.TasksDir, Capabilities: o.Backend.Capabilities()}
	if o.State != nil {
		st := o.State.Status()
		startup.State = &st
		if st.Problem != "" {
			fmt.Fprintf(o.Log, "executor: %s\n", st.Problem)
		}
	}
	if err := o.Reporter.Started(rctx, startup); err != nil {
		fmt.Fprintf(o.Log, "executor: reporting start: %v\n", err)
	}
	return s, &dirLoader{o: o, good: map[string][]TaskSpec{}}
}

// dirLoader reads the tasks directory and keeps the tasks of each file that
// last loaded without error, so a broken edit does not stop a task.
type dirLoader struct {
	o      Options
	good   map[string][]TaskSpec
	groups *TaskSpec
	digest string
}

// load reads the directory and reports the outcome when it differs from the
// last one. It returns the tasks in force and whether they or the errors
// changed.
func (l *dirLoader) load(ctx context.Context) ([]TaskSpec, bool) {
	var errs []string
	results, err := LoadDir(l.o.TasksDir)
	if err != nil {
		errs = append(errs, err.Error())
	} else {
		present := map[string]bool{}
		for _, r := range results {
			present[r.Name] = true
			if r.Err != nil {
				errs = append(errs, errorLines(r.Err)...)
				continue
			}
			l.good[r.Name] = r.Tasks
		}
		for name := range l.good {
			if !present[name] {
				delete(l.good, name)
			}
		}
	}
	if l.o.LocalGroups != nil {
		groups, err := l.o.LocalGroups()
		if err != nil {
			errs = append(errs, "admission configuration: "+err.Error())
		} else {
			t := ensureLocalGroupsTask(groups, l.o.GroupFile)
			l.groups = &t
		}
	}

	var tasks []TaskSpec
	files := make([]string, 0, len(l.good))
	for name := range l.good {
		files = append(files, name)
	}
	sort.Strings(files)
	owner := map[string]string{}
	for _, f := range files {
		for _, t := range l.good[f] {
			if other, ok := owner[t.Name]; ok {
				errs = append(errs, fmt.Sprintf("%s: task %q is already defined in %s", f, t.Name, other))
				continue
			}
			owner[t.Name] = f
			tasks = append(tasks, t)
		}
	}
	if l.groups != nil {
		tasks = append(tasks, *l.groups)
	}

	digest := make([]string, 0, len(tasks)+len(errs))
	for _, t := range tasks {
		digest = append(digest, t.Name+"="+t.Hash)
	}
	digest = append(digest, errs...)
	d := hashStrings(digest)
	if d == l.digest {
		return tasks, false
	}
	l.digest = d
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if err := l.o.Reporter.TasksLoaded(rctx, LoadReport{Node: l.o.Node, Tasks: taskNames(tasks), Errors: errs}); err != nil {
		fmt.Fprintf(l.o.Log, "executor: reporting load: %v\n", strings.TrimSpace(err.Error()))
	}
	return tasks, true
}

// errorLines splits a joined error into its parts.
func errorLines(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var lines []string
		for _, e := range j.Unwrap() {
			lines = append(lines, e.Error())
		}
		return lines
	}
	return []string{err.Error()}
}
