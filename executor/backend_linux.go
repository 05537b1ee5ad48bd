//go:build linux

package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// linuxBackend runs each tree in a process group of its own and, where the
// executor may write a cgroup v2, in a cgroup of its own: for limits, for
// killing processes that left the group, and for accounting. It exists for
// development and tests; nodes run the job object backend.
type linuxBackend struct {
	cgroup    *cgroupParent
	cgroupErr error
	caps      Capabilities
}

// treeGrace bounds the wait for a killed tree to be gone and its output
// closed.
const treeGrace = 5 * time.Second

// NewBackend returns the backend of this platform, with its capabilities
// probed.
func NewBackend() (Backend, error) {
	b := &linuxBackend{}
	b.cgroup, b.cgroupErr = probeCgroup()
	b.caps = b.probe()
	return b, nil
}

func (b *linuxBackend) Name() string               { return "linux" }
func (b *linuxBackend) Capabilities() Capabilities { return b.caps }

func (b *linuxBackend) probe() Capabilities {
	caps := Capabilities{Backend: b.Name(), KillTree: "process group"}
	add := func(name, reason string) {
		caps.Missing = append(caps.Missing, LimitProblem{Limit: name, Reason: reason})
	}
	if b.cgroup == nil {
		reason := "no writable cgroup v2: " + b.cgroupErr.Error()
		add("limits.memory", reason)
		add("limits.processMemory", noProcessMemory)
		add("limits.cpuRate", reason)
		add("limits.maxProcesses", reason)
		add("accounting.cpuTime", reason)
		add("accounting.peakMemoryBytes", reason)
		add("accounting.totalProcesses", noProcessCount)
		return caps
	}
	caps.KillTree = "process group and cgroup " + b.cgroup.dir
	for _, l := range []struct{ limit, controller string }{
		{"limits.memory", "memory"}, {"limits.processMemory", ""}, {"limits.cpuRate", "cpu"}, {"limits.maxProcesses", "pids"},
	} {
		switch {
		case l.controller == "":
			add(l.limit, noProcessMemory)
		case !b.cgroup.controllers[l.controller]:
			add(l.limit, missingController(b.cgroup, l.controller))
		}
	}
	if !b.cgroup.controllers["memory"] {
		add("accounting.peakMemoryBytes", missingController(b.cgroup, "memory"))
	}
	add("accounting.totalProcesses", noProcessCount)
	return caps
}

const noProcessCount = "Linux keeps no count of the processes a tree has had"

func numCPU() int { return runtime.NumCPU() }

// shellArgv runs a script file on Linux: PowerShell as pwsh; cmd not at all.
func shellArgv(shell Shell, path string) ([]string, error) {
	switch shell {
	case ShellPowerShell:
		return []string{"pwsh", "-NoLogo", "-NoProfile", "-NonInteractive", "-File", path}, nil
	default:
		return nil, fmt.Errorf("shell %s is not available on Linux", shell)
	}
}

func (b *linuxBackend) Run(ctx context.Context, spec RunSpec) (*RunResult, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("no command")
	}
	path, err := exec.LookPath(spec.Argv[0])
	if err != nil {
		return nil, fmt.Errorf("starting %q: %w", spec.Argv[0], err)
	}

	res := &RunResult{}
	var cg *runCgroup
	if b.cgroup != nil {
		if cg, err = b.cgroup.newRun(spec.Task); err != nil {
			for _, l := range limitsAsked(spec.Limits) {
				res.LimitProblems = append(res.LimitProblems, LimitProblem{Limit: l, Reason: err.Error()})
			}
		} else {
			res.LimitProblems = cg.apply(b.cgroup, spec.Limits)
		}
	} else {
		for _, l := range limitsAsked(spec.Limits) {
			res.LimitProblems = append(res.LimitProblems, LimitProblem{Limit: l, Reason: b.caps.Lacks("limits." + l)})
		}
	}
	cleanupCgroup := func() {
		if cg != nil {
			cg.remove()
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		cleanupCgroup()
		return nil, fmt.Errorf("creating the output pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Argv,
		Env:         mergeEnv(os.Environ(), spec.Env, false),
		Dir:         spec.WorkingDir,
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	var cgFD *os.File
	if cg != nil {
		// The process starts inside its cgroup (clone3 CLONE_INTO_CGROUP),
		// so it never runs outside it.
		if cgFD, err = os.Open(cg.dir); err == nil {
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(cgFD.Fd())
		}
	}
	err = cmd.Start()
	if cgFD != nil {
		_ = cgFD.Close()
	}
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		cleanupCgroup()
		return nil, fmt.Errorf("starting %q: %w", spec.Argv[0], err)
	}
	res.Started = time.Now()
	pgid := cmd.Process.Pid

	out := newTailBuffer(spec.MaxOutputBytes)
	readDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, r)
		close(readDone)
	}()
	waitDone := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(waitDone)
	}()

	timeout := time.NewTimer(spec.Timeout)
	defer timeout.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var (
		mainDone, outputDone bool
		killedAt             time.Time
	)
	kill := func() {
		killedAt = time.Now()
		_ = unix.Kill(-pgid, unix.SIGKILL)
		if cg != nil {
			cg.kill()
		}
	}
	for {
		treeDone := mainDone && outputDone && (cg == nil || !cg.populated())
		if treeDone {
			break
		}
		if !killedAt.IsZero() && time.Since(killedAt) > treeGrace {
			// A process that left the group with the output pipe open, and
			// no cgroup to find it by: stop reading.
			_ = r.Close()
			<-readDone
			break
		}
		select {
		case <-waitDone:
			mainDone, waitDone = true, nil
		case <-readDone:
			outputDone, readDone = true, nil
		case <-tick.C:
		case <-timeout.C:
			if killedAt.IsZero() {
				res.TimedOut = true
				kill()
			}
		case <-ctx.Done():
			if killedAt.IsZero() {
				res.Terminated = true
				kill()
			}
		}
	}
	if readDone != nil {
		<-readDone
	}
	if waitDone != nil {
		// Killed with SIGKILL: it exits once the kernel lets it.
		<-waitDone
	}
	_ = r.Close()
	res.Finished = time.Now()
	res.Output = out.Output()

	status := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case status.Signaled() && status.Signal() == syscall.SIGKILL && res.TimedOut:
		res.ExitCode = ExitCodeTimedOut
	case status.Signaled() && status.Signal() == syscall.SIGKILL && res.Terminated:
		res.ExitCode = ExitCodeTerminated
	case status.Signaled():
		res.ExitCode = 128 + int(status.Signal())
	default:
		res.ExitCode = status.ExitStatus()
	}
	if cg != nil {
		res.Accounting = cg.accounting()
		res.LimitsHit = cg.limitsHit()
		cg.remove()
	}
	return res, nil
}
