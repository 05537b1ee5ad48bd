//go:build linux

package executor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newLinuxBackend(t *testing.T) *linuxBackend {
	t.Helper()
	b, err := NewBackend()
	if err != nil {
		t.Fatalf("NewBackend: %v", err)
	}
	return b.(*linuxBackend)
}

// gone reports whether pid has ended: it does not exist or is a zombie (a
// container's init may not reap orphans).
func gone(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// pid (comm) STATE ...
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

func TestLinuxTimeoutKillsTheWholeTree(t *testing.T) {
	b := newLinuxBackend(t)
	cases := []struct {
		name string
		// setsid makes the grandchild leave the process group.
		setsid      bool
		needsCgroup bool
	}{
		{name: "kills a grandchild in the process group"},
		{name: "kills a grandchild that left the process group, through the cgroup", setsid: true, needsCgroup: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsCgroup && b.cgroup == nil {
				t.Skipf("needs a writable cgroup v2: %v", b.cgroupErr)
			}
			spec := helperSpec(t, "tree", time.Second, "spawn", "wait", "sleep", "1h")
			if tc.setsid {
				spec.Env = append(spec.Env, EnvVar{Name: "HOSTPROCESS_EXECUTOR_TEST_SETSID", Value: "1"})
			}
			res, err := b.Run(context.Background(), spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !res.TimedOut || res.Terminated {
				t.Errorf("TimedOut, Terminated = %v, %v; want true, false", res.TimedOut, res.Terminated)
			}
			if res.ExitCode != ExitCodeTimedOut {
				t.Errorf("ExitCode = %d, want %d", res.ExitCode, ExitCodeTimedOut)
			}
			pid := childPID(t, res.Output.Text)
			if !gone(pid) {
				_ = unix.Kill(pid, unix.SIGKILL)
				t.Errorf("grandchild %d survived the timeout", pid)
			}
		})
	}
}

func TestLinuxRunWaitsForTheWholeTree(t *testing.T) {
	b := newLinuxBackend(t)
	// The main process exits at once; its child sleeps 300ms with the output
	// open. The run ends when the child does.
	spec := helperSpec(t, "tree", time.Minute, "spawn", "exit", "sleep", "300ms")
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.TimedOut || res.ExitCode != 0 {
		t.Errorf("TimedOut, ExitCode = %v, %d; want false, 0", res.TimedOut, res.ExitCode)
	}
	if d := res.Finished.Sub(res.Started); d < 300*time.Millisecond {
		t.Errorf("the run took %s, less than the child's 300ms", d)
	}
	if pid := childPID(t, res.Output.Text); !gone(pid) {
		t.Errorf("child %d still runs after the run ended", pid)
	}
}

func TestLinuxLimitsAreAppliedWhereTheMachineAllows(t *testing.T) {
	b := newLinuxBackend(t)
	cases := []struct {
		name   string
		limits ResourceLimits
		limit  string
		// file is the cgroup file that shows the limit, and want its text.
		file, want string
	}{
		{name: "memory sets memory.max", limits: ResourceLimits{MemoryBytes: 64 << 20}, limit: "memory", file: "memory.max", want: "67108864"},
		{name: "maxProcesses sets pids.max", limits: ResourceLimits{MaxProcesses: 7}, limit: "maxProcesses", file: "pids.max", want: "7"},
		{name: "cpuRate sets cpu.max as a share of every CPU", limits: ResourceLimits{CPURatePercent: 50}, limit: "cpuRate", file: "cpu.max",
			want: strconv.Itoa(50*100000*numCPU()/100) + " 100000"},
		{name: "processMemory is never available", limits: ResourceLimits{ProcessMemoryBytes: 64 << 20}, limit: "processMemory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"print", "", "0", "0"}
			if tc.file != "" {
				args = []string{"cgroup-file", tc.file}
			}
			spec := helperSpec(t, "limits", time.Minute, args...)
			spec.Limits = tc.limits
			res, err := b.Run(context.Background(), spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			reason := b.caps.Lacks("limits." + tc.limit)
			if reason != "" {
				want := []LimitProblem{{Limit: tc.limit, Reason: reason}}
				if len(res.LimitProblems) != 1 || res.LimitProblems[0] != want[0] {
					t.Fatalf("LimitProblems = %v, want %v", res.LimitProblems, want)
				}
				t.Logf("this machine lacks %s: %s", tc.limit, reason)
				return
			}
			if len(res.LimitProblems) != 0 {
				t.Fatalf("LimitProblems = %v, want none", res.LimitProblems)
			}
			if got := strings.TrimSpace(res.Output.Text); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}

func TestLinuxOutputIsTruncatedToTheLastBytes(t *testing.T) {
	b := newLinuxBackend(t)
	spec := helperSpec(t, "output", time.Minute, "print", "0123456789", "1000", "0")
	spec.MaxOutputBytes = 15
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := Output{Text: "567890123456789", TotalBytes: 10000, Truncated: true}
	if res.Output != want {
		t.Errorf("Output = %+v, want %+v", res.Output, want)
	}
}

func TestLinuxRunReportsExitCodeEnvAndAccounting(t *testing.T) {
	b := newLinuxBackend(t)
	t.Run("passes the exit code through", func(t *testing.T) {
		res, err := b.Run(context.Background(), helperSpec(t, "exit", time.Minute, "print", "x", "1", "3"))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.ExitCode != 3 || res.Output.Text != "x" {
			t.Errorf("ExitCode, Output = %d, %q; want 3, %q", res.ExitCode, res.Output.Text, "x")
		}
	})
	t.Run("adds the task's env to the executor's", func(t *testing.T) {
		spec := helperSpec(t, "env", time.Minute, "env", "TASK_VALUE")
		spec.Env = append(spec.Env, EnvVar{Name: "TASK_VALUE", Value: "from the task"})
		res, err := b.Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.Output.Text != "from the task" {
			t.Errorf("Output = %q, want %q", res.Output.Text, "from the task")
		}
	})
	t.Run("measures CPU time through the cgroup", func(t *testing.T) {
		if b.cgroup == nil {
			t.Skipf("needs a writable cgroup v2: %v", b.cgroupErr)
		}
		res, err := b.Run(context.Background(), helperSpec(t, "busy", time.Minute, "busy-cpu", "200ms"))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.Accounting.CPUTime == nil || *res.Accounting.CPUTime < 200*time.Millisecond {
			t.Errorf("CPUTime = %v, want at least the helper's own 200ms", res.Accounting.CPUTime)
		}
		if res.Accounting.TotalProcesses != nil {
			t.Errorf("TotalProcesses = %d, want nil: Linux does not count them", *res.Accounting.TotalProcesses)
		}
	})
	t.Run("ends the tree when the context is done", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		res, err := b.Run(ctx, helperSpec(t, "cancel", time.Minute, "sleep", "1h"))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !res.Terminated || res.TimedOut || res.ExitCode != ExitCodeTerminated {
			t.Errorf("Terminated, TimedOut, ExitCode = %v, %v, %d; want true, false, %d", res.Terminated, res.TimedOut, res.ExitCode, ExitCodeTerminated)
		}
	})
	t.Run("a program that does not exist does not start", func(t *testing.T) {
		_, err := b.Run(context.Background(), RunSpec{Task: "missing", Argv: []string{"no-such-program-hpa"}, Timeout: time.Minute})
		want := `starting "no-such-program-hpa": exec: "no-such-program-hpa": executable file not found in $PATH`
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})
}

func TestLinuxCapabilitiesNameWhatIsMissing(t *testing.T) {
	b := newLinuxBackend(t)
	caps := b.Capabilities()
	if caps.Lacks("limits.processMemory") != noProcessMemory {
		t.Errorf("limits.processMemory: %q, want %q", caps.Lacks("limits.processMemory"), noProcessMemory)
	}
	if caps.Lacks("accounting.totalProcesses") != noProcessCount {
		t.Errorf("accounting.totalProcesses: %q, want %q", caps.Lacks("accounting.totalProcesses"), noProcessCount)
	}
	for _, m := range caps.Missing {
		if m.Reason == "" {
			t.Errorf("%s is missing without a reason", m.Limit)
		}
		t.Logf("missing %s: %s", m.Limit, m.Reason)
	}
}
