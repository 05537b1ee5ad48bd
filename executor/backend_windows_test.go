//go:build windows

package executor

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// underWine reports whether the tests run under wine: its ntdll exports
// wine_get_version.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// skipUnderWine skips a test of something wine does not do, saying what.
func skipUnderWine(t *testing.T, reason string) {
	t.Helper()
	if underWine() {
		t.Skip("wine: " + reason)
	}
}

// helperEnvBlock is the executor's environment with the helper switch on.
func helperEnvBlock() []string {
	return mergeEnv(os.Environ(), []EnvVar{{Name: helperEnv, Value: "1"}}, true)
}

// jobOutput collects a process tree's output.
type jobOutput struct {
	mu   sync.Mutex
	buf  strings.Builder
	done chan struct{}
}

// firstLine waits for the first line of output.
func (o *jobOutput) firstLine(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		s := o.buf.String()
		o.mu.Unlock()
		if line, _, ok := strings.Cut(s, "\n"); ok {
			return line + "\n"
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no line of output in 20s")
	return ""
}

// all waits for the output to close and returns it.
func (o *jobOutput) all(t *testing.T) string {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the output did not close")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startInJob starts the helper with args in j, with output to a pipe.
func startInJob(t *testing.T, j *job, args ...string) (*process, *jobOutput) {
	t.Helper()
	r, w, err := outputPipe()
	if err != nil {
		t.Fatalf("outputPipe: %v", err)
	}
	in, err := nulInput()
	if err != nil {
		t.Fatalf("nulInput: %v", err)
	}
	p, err := j.start(helperArgv(t, args...), helperEnvBlock(), "", in, w)
	windows.CloseHandle(w)
	windows.CloseHandle(in)
	if err != nil {
		r.Close()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { windows.CloseHandle(p.handle) })
	out := &jobOutput{done: make(chan struct{})}
	go func() {
		defer close(out.done)
		defer r.Close()
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			out.mu.Lock()
			out.buf.Write(buf[:n])
			out.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p, out
}

// imageName is the file name of a running process's image, or "".
func imageName(pid uint32) string {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return strings.ToLower(filepath.Base(windows.UTF16ToString(buf[:n])))
}

// messagesUntilZero collects a job's messages until ACTIVE_PROCESS_ZERO.
func messagesUntilZero(t *testing.T, j *job) []jobMessage {
	t.Helper()
	var msgs []jobMessage
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m, ok, err := j.next(100 * time.Millisecond)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if !ok {
			continue
		}
		msgs = append(msgs, m)
		if m.Msg == jobMsgActiveProcessZero {
			return msgs
		}
	}
	t.Fatalf("no ACTIVE_PROCESS_ZERO in 20s; messages so far: %v", msgs)
	return nil
}

// waitGone waits for a process to exit and returns its exit code.
func waitGone(t *testing.T, pid uint32) uint32 {
	t.Helper()
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		// Already gone and reaped.
		return 0
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, 10000)
	if err != nil || ev != windows.WAIT_OBJECT_0 {
		t.Fatalf("process %d still runs after 10s (wait: %d, %v)", pid, ev, err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		t.Fatalf("GetExitCodeProcess(%d): %v", pid, err)
	}
	return code
}

func TestJobIsNamedAfterTheTask(t *testing.T) {
	j, err := createJob("flush-dns")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	if j.name != "hostprocess-executor-flush-dns" {
		t.Errorf("name = %q, want %q", j.name, "hostprocess-executor-flush-dns")
	}
	// A second job of the same name is refused: another run is going on.
	_, err = createJob("flush-dns")
	want := "job object hostprocess-executor-flush-dns exists already: another run of task flush-dns is going on"
	if err == nil || err.Error() != want {
		t.Errorf("second createJob: err = %v, want %s", err, want)
	}
}

func TestSuspendedStartAssignResume(t *testing.T) {
	j, err := createJob("suspended")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	r, w, err := outputPipe()
	if err != nil {
		t.Fatalf("outputPipe: %v", err)
	}
	defer r.Close()
	in, err := nulInput()
	if err != nil {
		t.Fatalf("nulInput: %v", err)
	}
	p, thread, err := startSuspended(helperArgv(t, "print", "ran", "1", "0"), helperEnvBlock(), "", in, w)
	windows.CloseHandle(w)
	windows.CloseHandle(in)
	if err != nil {
		t.Fatalf("startSuspended: %v", err)
	}
	defer windows.CloseHandle(p.handle)
	defer windows.CloseHandle(thread)

	inJob, err := isProcessInJob(p.handle, j.handle)
	if err != nil || inJob {
		t.Fatalf("before assignment IsProcessInJob = %v, %v; want false", inJob, err)
	}
	if err := windows.AssignProcessToJobObject(j.handle, p.handle); err != nil {
		t.Fatalf("AssignProcessToJobObject: %v", err)
	}
	inJob, err = isProcessInJob(p.handle, j.handle)
	if err != nil || !inJob {
		t.Fatalf("after assignment IsProcessInJob = %v, %v; want true", inJob, err)
	}
	// Suspended, it has not run: it is alive and has written nothing.
	if ev, _ := windows.WaitForSingleObject(p.handle, 200); ev != uint32(windows.WAIT_TIMEOUT) {
		t.Fatalf("the suspended process ended before it was resumed (wait: %d)", ev)
	}
	if _, err := windows.ResumeThread(thread); err != nil {
		t.Fatalf("ResumeThread: %v", err)
	}
	if code := waitGone(t, p.pid); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	buf := make([]byte, 16)
	n, _ := r.Read(buf)
	if got := string(buf[:n]); got != "ran" {
		t.Errorf("output = %q, want %q", got, "ran")
	}
}

func TestIsProcessInJob(t *testing.T) {
	j, err := createJob("in-job")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	p, out := startInJob(t, j, "print", "", "0", "0")
	inJob, err := isProcessInJob(p.handle, j.handle)
	if err != nil || !inJob {
		t.Errorf("the started process: IsProcessInJob = %v, %v; want true", inJob, err)
	}
	self, err := isProcessInJob(windows.CurrentProcess(), j.handle)
	if err != nil || self {
		t.Errorf("the test process: IsProcessInJob = %v, %v; want false", self, err)
	}
	messagesUntilZero(t, j)
	out.all(t)
}

func TestKillOnJobCloseEndsChildAndGrandchild(t *testing.T) {
	j, err := createJob("kill-on-close")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	p, out := startInJob(t, j, "spawn", "wait", "sleep", "1h")
	grandchild := uint32(childPID(t, out.firstLine(t)))
	j.close()
	for _, pid := range []uint32{p.pid, grandchild} {
		// Kill on close ends them as TerminateJobObject would, with code 0.
		if code := waitGone(t, pid); code != 0 {
			t.Errorf("process %d exit code = %d, want 0", pid, code)
		}
	}
	out.all(t)
}

func TestTerminateJobObjectKeepsItsExitCode(t *testing.T) {
	j, err := createJob("terminate")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	p, out := startInJob(t, j, "spawn", "wait", "sleep", "1h")
	grandchild := uint32(childPID(t, out.firstLine(t)))
	if err := j.terminate(ExitCodeTimedOut); err != nil {
		t.Fatalf("TerminateJobObject: %v", err)
	}
	for _, pid := range []uint32{p.pid, grandchild} {
		if code := waitGone(t, pid); code != ExitCodeTimedOut {
			t.Errorf("process %d exit code = %d, want %d", pid, code, ExitCodeTimedOut)
		}
	}
	messagesUntilZero(t, j)
	out.all(t)
}

func TestCompletionPortReportsTheTree(t *testing.T) {
	j, err := createJob("messages")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	// The main process exits at once; the grandchild lives 500ms longer.
	p, out := startInJob(t, j, "spawn", "exit", "sleep", "500ms")
	var (
		msgs   []jobMessage
		images = map[uint32]string{}
	)
	deadline := time.Now().Add(20 * time.Second)
	for len(msgs) == 0 || msgs[len(msgs)-1].Msg != jobMsgActiveProcessZero {
		if time.Now().After(deadline) {
			t.Fatalf("no ACTIVE_PROCESS_ZERO in 20s; messages so far: %v", msgs)
		}
		m, ok, err := j.next(100 * time.Millisecond)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if !ok {
			continue
		}
		msgs = append(msgs, m)
		// wine names a new process only once it has started; ask until
		// the name is known.
		for _, seen := range msgs {
			if seen.Msg == jobMsgNewProcess && images[seen.PID] == "" {
				images[seen.PID] = imageName(seen.PID)
			}
		}
	}
	grandchild := uint32(childPID(t, out.all(t)))

	// Every process of the tree is announced and its exit reported; besides
	// the helper's two, the job holds the conhost.exe of the console the
	// main process got.
	var news, exits []uint32
	for _, m := range msgs[:len(msgs)-1] {
		switch m.Msg {
		case jobMsgNewProcess:
			news = append(news, m.PID)
		case jobMsgExitProcess:
			exits = append(exits, m.PID)
		default:
			t.Errorf("unexpected message %+v", m)
		}
	}
	sortPIDs(news)
	sortPIDs(exits)
	if !equalPIDs(news, exits) {
		t.Errorf("NEW_PROCESS pids %v, EXIT_PROCESS pids %v; want the same", news, exits)
	}
	for _, pid := range news {
		if pid != p.pid && pid != grandchild && images[pid] != "conhost.exe" {
			t.Errorf("process %d (%q) in the job is neither the helper, its child nor conhost.exe", pid, images[pid])
		}
	}
	for _, pid := range []uint32{p.pid, grandchild} {
		if i := sort.Search(len(news), func(i int) bool { return news[i] >= pid }); i == len(news) || news[i] != pid {
			t.Errorf("no NEW_PROCESS for %d; got %v", pid, news)
		}
	}
	if msgs[0].Msg != jobMsgNewProcess || msgs[0].PID != p.pid {
		t.Errorf("first message = %+v, want NEW_PROCESS of %d", msgs[0], p.pid)
	}
	// Accounting counts the same processes.
	acc := j.accounting()
	if acc.TotalProcesses == nil || int(*acc.TotalProcesses) != len(news) {
		t.Errorf("TotalProcesses = %v, want %d", derefU32(acc.TotalProcesses), len(news))
	}
}

func sortPIDs(p []uint32) { sort.Slice(p, func(a, b int) bool { return p[a] < p[b] }) }

func derefU32(p *uint32) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestJobBackendRun(t *testing.T) {
	b, err := NewBackend()
	if err != nil {
		t.Fatalf("NewBackend: %v", err)
	}
	t.Run("times out, ends the tree with the timeout exit code and counts its processes", func(t *testing.T) {
		res, err := b.Run(context.Background(), helperSpec(t, "timeout", 5*time.Second, "spawn", "wait", "sleep", "1h"))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !res.TimedOut || res.Terminated || res.ExitCode != ExitCodeTimedOut {
			t.Errorf("TimedOut, Terminated, ExitCode = %v, %v, %d; want true, false, %d", res.TimedOut, res.Terminated, res.ExitCode, ExitCodeTimedOut)
		}
		if code := waitGone(t, uint32(childPID(t, res.Output.Text))); code != ExitCodeTimedOut {
			t.Errorf("grandchild exit code = %d, want %d", code, ExitCodeTimedOut)
		}
		if res.Accounting.TotalProcesses == nil || *res.Accounting.TotalProcesses < 2 {
			t.Errorf("TotalProcesses = %v, want the helper and its child at least", derefU32(res.Accounting.TotalProcesses))
		}
	})
	t.Run("waits for the grandchild after the main process exits", func(t *testing.T) {
		res, err := b.Run(context.Background(), helperSpec(t, "tree", time.Minute, "spawn", "exit", "sleep", "300ms"))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.TimedOut || res.ExitCode != 0 {
			t.Errorf("TimedOut, ExitCode = %v, %d; want false, 0", res.TimedOut, res.ExitCode)
		}
		if d := res.Finished.Sub(res.Started); d < 300*time.Millisecond {
			t.Errorf("the run took %s, less than the grandchild's 300ms", d)
		}
	})
	t.Run("passes the exit code through and keeps the last output bytes", func(t *testing.T) {
		spec := helperSpec(t, "output", time.Minute, "print", "0123456789", "1000", "3")
		spec.MaxOutputBytes = 15
		res, err := b.Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := Output{Text: "567890123456789", TotalBytes: 10000, Truncated: true}
		if res.ExitCode != 3 || res.Output != want {
			t.Errorf("ExitCode, Output = %d, %+v; want 3, %+v", res.ExitCode, res.Output, want)
		}
	})
	t.Run("adds the task's env, matching names without regard to case", func(t *testing.T) {
		spec := helperSpec(t, "env", time.Minute, "env", "TASK_VALUE")
		spec.Env = append(spec.Env, EnvVar{Name: "task_value", Value: "from the task"})
		res, err := b.Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.Output.Text != "from the task" {
			t.Errorf("Output = %q, want %q", res.Output.Text, "from the task")
		}
	})
	t.Run("ends the tree when the context is done", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
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
		want := `starting "no-such-program-hpa": exec: "no-such-program-hpa": executable file not found in %PATH%`
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})
}

func TestJobLimitsReadBack(t *testing.T) {
	skipUnderWine(t, "QueryInformationJobObject does not return the limits that were set")
	j, err := createJob("limits")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	l := ResourceLimits{MemoryBytes: 256 << 20, ProcessMemoryBytes: 128 << 20, MaxProcesses: 4, CPURatePercent: 20}
	if problems := j.applyLimits(l); len(problems) != 0 {
		t.Fatalf("applyLimits = %v, want none", problems)
	}
	got, err := j.queryExtended()
	if err != nil {
		t.Fatalf("queryExtended: %v", err)
	}
	wantFlags := uint32(windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | windows.JOB_OBJECT_LIMIT_JOB_MEMORY | windows.JOB_OBJECT_LIMIT_PROCESS_MEMORY | windows.JOB_OBJECT_LIMIT_ACTIVE_PROCESS)
	if got.BasicLimitInformation.LimitFlags != wantFlags || got.JobMemoryLimit != 256<<20 || got.ProcessMemoryLimit != 128<<20 || got.BasicLimitInformation.ActiveProcessLimit != 4 {
		t.Errorf("limits read back = flags %#x, job %d, process %d, active %d; want %#x, %d, %d, 4",
			got.BasicLimitInformation.LimitFlags, got.JobMemoryLimit, got.ProcessMemoryLimit, got.BasicLimitInformation.ActiveProcessLimit,
			wantFlags, 256<<20, 128<<20)
	}
}

func TestJobMemoryLimitIsEnforced(t *testing.T) {
	skipUnderWine(t, "job memory limits are not enforced and JOB_OBJECT_MSG_JOB_MEMORY_LIMIT is never posted")
	b, _ := NewBackend()
	spec := helperSpec(t, "memory", time.Minute, "alloc", "268435456")
	spec.Limits.MemoryBytes = 64 << 20
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitCode == 0 || len(res.LimitsHit) != 1 || res.LimitsHit[0] != "memory" {
		t.Errorf("ExitCode, LimitsHit = %d, %v; want non-zero, [memory]", res.ExitCode, res.LimitsHit)
	}
}

func TestJobCPURateIsSet(t *testing.T) {
	skipUnderWine(t, "SetInformationJobObject(JobObjectCpuRateControlInformation) fails with Invalid parameter")
	j, err := createJob("cpu-rate")
	if err != nil {
		t.Fatalf("createJob: %v", err)
	}
	defer j.close()
	if problem := j.setCPURate(20); problem != "" {
		t.Errorf("setCPURate(20) = %q, want no problem", problem)
	}
}

func TestJobCPUTimeIsAccounted(t *testing.T) {
	skipUnderWine(t, "job accounting reports zero user and kernel time")
	b, _ := NewBackend()
	res, err := b.Run(context.Background(), helperSpec(t, "cpu", time.Minute, "busy", "300ms"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Accounting.CPUTime == nil || *res.Accounting.CPUTime < 100*time.Millisecond {
		t.Errorf("CPUTime = %v, want at least 100ms", res.Accounting.CPUTime)
	}
}

func equalPIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCapabilitiesListTheLimitsTheOSDoesNotKeep(t *testing.T) {
	b, err := NewBackend()
	if err != nil {
		t.Fatalf("NewBackend: %v", err)
	}
	want := []LimitProblem{}
	if underWine() {
		want = []LimitProblem{
			{Limit: "limits.memory", Reason: "set, but the job does not show it in force"},
			{Limit: "limits.processMemory", Reason: "set, but the job does not show it in force"},
			{Limit: "limits.cpuRate", Reason: "the OS refused it: Invalid parameter."},
			{Limit: "limits.maxProcesses", Reason: "set, but the job does not show it in force"},
		}
	}
	got := b.Capabilities().Missing
	if len(got) != len(want) {
		t.Fatalf("Missing = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Missing[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestLimitsTheOSDoesNotKeepAreReported(t *testing.T) {
	if !underWine() {
		t.Skip("Windows keeps every limit; TestJobLimitsReadBack covers it")
	}
	b, _ := NewBackend()
	spec := helperSpec(t, "unsupported", time.Minute, "print", "", "0", "0")
	spec.Limits = ResourceLimits{MemoryBytes: 256 << 20, ProcessMemoryBytes: 128 << 20, CPURatePercent: 20, MaxProcesses: 4}
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []LimitProblem{
		{Limit: "memory", Reason: "set, but the job does not show it in force"},
		{Limit: "processMemory", Reason: "set, but the job does not show it in force"},
		{Limit: "cpuRate", Reason: "the OS refused it: Invalid parameter."},
		{Limit: "maxProcesses", Reason: "set, but the job does not show it in force"},
	}
	if len(res.LimitProblems) != len(want) {
		t.Fatalf("LimitProblems = %v, want %v", res.LimitProblems, want)
	}
	for i := range want {
		if res.LimitProblems[i] != want[i] {
			t.Errorf("LimitProblems[%d] = %v, want %v", i, res.LimitProblems[i], want[i])
		}
	}
	if res.ExitCode != 0 {
		t.Errorf("ExitCode = %d, want 0: the run goes on without the limits", res.ExitCode)
	}
}
