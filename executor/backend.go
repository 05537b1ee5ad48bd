package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Exit codes a backend gives a run it ended itself. On Windows they are the
// code passed to TerminateJobObject, so every process of the job exits with
// it; on Linux the tree is killed with SIGKILL and the run reports them too.
const (
	// ExitCodeTimedOut is ERROR_TIMEOUT.
	ExitCodeTimedOut = 1460
	// ExitCodeTerminated is ERROR_PROCESS_ABORTED: the executor shut down or
	// the task was removed.
	ExitCodeTerminated = 1067
)

// Backend runs one process tree under limits, with a timeout, and accounts
// for it. The Windows backend uses a Job Object per run; the Linux one a
// process group and, where it may write one, a cgroup v2.
type Backend interface {
	// Name says which backend this is: "jobobject" or "linux".
	Name() string
	// Capabilities are what the backend found it can do on this machine.
	Capabilities() Capabilities
	// Run starts spec and waits until its whole process tree has ended, or
	// ends the tree at spec.Timeout or when ctx is done. The error is for a
	// run that never started; a started run always returns a result.
	Run(ctx context.Context, spec RunSpec) (*RunResult, error)
}

// RunSpec is one run of a task for a backend.
type RunSpec struct {
	// Task names the run: the job object and cgroup are named after it.
	Task string
	// Argv is the program and its arguments. The program is looked up on
	// PATH when it has no directory part.
	Argv []string
	// Env is added to the executor's environment; on Windows names are
	// matched without regard to case.
	Env        []EnvVar
	WorkingDir string
	Timeout    time.Duration
	Limits     ResourceLimits
	// MaxOutputBytes is how much of the combined stdout and stderr to keep:
	// the last bytes.
	MaxOutputBytes int64
}

// RunResult is what a backend measured of a started run.
type RunResult struct {
	// ExitCode is the main process's exit code. A main process the backend
	// ended reports ExitCodeTimedOut or ExitCodeTerminated on every
	// platform; one killed by another signal N on Linux reports 128+N.
	ExitCode int
	// TimedOut is set when the run hit its timeout and its tree was ended.
	TimedOut bool
	// Terminated is set when the run was ended because its context was done.
	Terminated bool
	Started    time.Time
	Finished   time.Time
	Output     Output
	// Accounting is what the backend measured; nil fields were not measured.
	Accounting Accounting
	// LimitProblems are limits that were asked for and are not in force.
	LimitProblems []LimitProblem
	// LimitsHit are limits the tree ran into, as the OS reported them:
	// "memory", "processMemory" or "maxProcesses".
	LimitsHit []string
}

// Accounting of a whole process tree. A nil field was not measured here.
type Accounting struct {
	// CPUTime is user plus kernel time of every process of the tree; in JSON
	// it is cpuSeconds.
	CPUTime *time.Duration `json:"-"`
	// PeakMemoryBytes is the highest committed memory of the whole tree.
	PeakMemoryBytes *uint64 `json:"peakMemoryBytes,omitempty"`
	// TotalProcesses counts every process the tree had, the main one included.
	TotalProcesses *uint32 `json:"totalProcesses,omitempty"`
}

// MarshalJSON writes CPUTime as cpuSeconds.
func (a Accounting) MarshalJSON() ([]byte, error) {
	type plain Accounting
	out := struct {
		CPUSeconds *float64 `json:"cpuSeconds,omitempty"`
		plain
	}{plain: plain(a)}
	if a.CPUTime != nil {
		s := a.CPUTime.Seconds()
		out.CPUSeconds = &s
	}
	return json.Marshal(out)
}

// LimitProblem says why a limit that was asked for is not in force.
type LimitProblem struct {
	// Limit is the field: "memory", "processMemory", "cpuRate" or
	// "maxProcesses".
	Limit  string `json:"limit"`
	Reason string `json:"reason"`
}

func (p LimitProblem) String() string { return p.Limit + ": " + p.Reason }

// Capabilities are what a backend found it can do on this machine. Every
// limit and measure is listed, with a reason when it is missing.
type Capabilities struct {
	Backend string `json:"backend"`
	// KillTree says how a whole tree is ended.
	KillTree string `json:"killTree"`
	// Missing lists limits ("limits.memory", ...) and measures
	// ("accounting.cpuTime", ...) this machine does not give, with reasons.
	Missing []LimitProblem `json:"missing,omitempty"`
}

// Lacks returns the reason name is missing, or "".
func (c Capabilities) Lacks(name string) string {
	for _, m := range c.Missing {
		if m.Limit == name {
			return m.Reason
		}
	}
	return ""
}

// limitsAsked lists the limits a spec sets, by field name, in a fixed order.
func limitsAsked(l ResourceLimits) []string {
	var names []string
	if l.MemoryBytes > 0 {
		names = append(names, "memory")
	}
	if l.ProcessMemoryBytes > 0 {
		names = append(names, "processMemory")
	}
	if l.CPURatePercent > 0 {
		names = append(names, "cpuRate")
	}
	if l.MaxProcesses > 0 {
		names = append(names, "maxProcesses")
	}
	return names
}

// mergeEnv returns base with extra set over it. foldCase matches names
// without regard to case, as Windows does.
func mergeEnv(base []string, extra []EnvVar, foldCase bool) []string {
	key := func(s string) string {
		if foldCase {
			return strings.ToUpper(s)
		}
		return s
	}
	override := map[string]bool{}
	for _, e := range extra {
		override[key(e.Name)] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		// Windows keeps per-drive directories as "=C:=C:\..."; keep them.
		if name == "" || !override[key(name)] {
			out = append(out, kv)
		}
	}
	for _, e := range extra {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// scriptFile writes a task's script where its shell can run it and returns
// the argv and a cleanup function. The file lives in a fresh directory of its
// own under the system's temporary directory.
func scriptFile(task string, shell Shell, script string, argvFor func(Shell, string) ([]string, error)) ([]string, func(), error) {
	ext := ".ps1"
	if shell == ShellCmd {
		ext = ".cmd"
	}
	dir, err := os.MkdirTemp("", "hostprocess-executor-"+task+"-")
	if err != nil {
		return nil, nil, fmt.Errorf("writing the script: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	path := filepath.Join(dir, task+ext)
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("writing the script: %w", err)
	}
	argv, err := argvFor(shell, path)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return argv, cleanup, nil
}
