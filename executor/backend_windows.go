//go:build windows

package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

// treeGrace bounds the wait for an ended job to report its last process gone
// and for its output to close.
const treeGrace = 5 * time.Second

// JobNamePrefix starts the name of every run's job object: a run of task
// "flush-dns" is the job "hostprocess-executor-flush-dns".
const JobNamePrefix = "hostprocess-executor-"

// jobBackend runs each tree in a Job Object of its own.
type jobBackend struct {
	caps Capabilities
}

// NewBackend returns the job object backend, with its capabilities probed:
// every limit is set on a job of its own and read back.
func NewBackend() (Backend, error) {
	caps := Capabilities{Backend: "jobobject", KillTree: "job object (TerminateJobObject, kill on job close)"}
	// No task name has a dot, so the probe's job never meets a task's.
	j, err := createJob(fmt.Sprintf("probe.%d", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("probing job objects: %w", err)
	}
	defer j.close()
	for _, p := range j.applyLimits(ResourceLimits{MemoryBytes: 1 << 30, ProcessMemoryBytes: 1 << 30, CPURatePercent: 100, MaxProcesses: 1000}) {
		caps.Missing = append(caps.Missing, LimitProblem{Limit: "limits." + p.Limit, Reason: p.Reason})
	}
	return &jobBackend{caps: caps}, nil
}

func (b *jobBackend) Name() string               { return "jobobject" }
func (b *jobBackend) Capabilities() Capabilities { return b.caps }

// shellArgv runs a script file with its Windows shell.
func shellArgv(shell Shell, path string) ([]string, error) {
	switch shell {
	case ShellPowerShell:
		return []string{"powershell.exe", "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", path}, nil
	case ShellCmd:
		return []string{"cmd.exe", "/d", "/c", path}, nil
	default:
		return nil, fmt.Errorf("unknown shell %q", shell)
	}
}

// jobMessage is one completion port message of a job.
type jobMessage struct {
	Msg uint32
	PID uint32
}

// job is one Job Object with its completion port.
type job struct {
	name   string
	handle windows.Handle
	port   windows.Handle
	// limits are the extended limits set so far.
	limits windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
}

// createJob makes the job "hostprocess-executor-<task>" with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and a completion port. A job of that
// name that exists already is an error: another run of the task is going on.
func createJob(task string) (*job, error) {
	j := &job{name: JobNamePrefix + task}
	name, err := windows.UTF16PtrFromString(j.name)
	if err != nil {
		return nil, err
	}
	h, existed, err := createJobObject(name)
	if err != nil {
		return nil, fmt.Errorf("creating job object %s: %w", j.name, err)
	}
	j.handle = h
	if existed {
		j.close()
		return nil, fmt.Errorf("job object %s exists already: another run of task %s is going on", j.name, task)
	}
	j.limits.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if err := j.setExtended(&j.limits); err != nil {
		j.close()
		return nil, fmt.Errorf("setting kill on job close on %s: %w", j.name, err)
	}
	port, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 1)
	if err != nil {
		j.close()
		return nil, fmt.Errorf("creating completion port: %w", err)
	}
	j.port = port
	assoc := jobObjectAssociateCompletionPort{CompletionKey: uintptr(h), CompletionPort: port}
	if _, err := windows.SetInformationJobObject(h, windows.JobObjectAssociateCompletionPortInformation,
		uintptr(unsafe.Pointer(&assoc)), uint32(unsafe.Sizeof(assoc))); err != nil {
		j.close()
		return nil, fmt.Errorf("associating completion port with %s: %w", j.name, err)
	}
	return j, nil
}

func (j *job) setExtended(info *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) error {
	_, err := windows.SetInformationJobObject(j.handle, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(info)), uint32(unsafe.Sizeof(*info)))
	return err
}

func (j *job) queryExtended() (windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION, error) {
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	err := windows.QueryInformationJobObject(j.handle, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil)
	return info, err
}

// applyLimits sets each limit on its own, so that one the OS refuses does
// not take the others with it, then reads them back: a limit the OS took but
// does not show is not in force either. It returns the limits not in force.
func (j *job) applyLimits(l ResourceLimits) []LimitProblem {
	var problems []LimitProblem
	type extended struct {
		name  string
		flag  uint32
		apply func(*windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION)
		check func(*windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) bool
	}
	var wanted []extended
	if l.MemoryBytes > 0 {
		wanted = append(wanted, extended{"memory", windows.JOB_OBJECT_LIMIT_JOB_MEMORY,
			func(i *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) { i.JobMemoryLimit = uintptr(l.MemoryBytes) },
			func(i *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) bool {
				return i.JobMemoryLimit == uintptr(l.MemoryBytes)
			}})
	}
	if l.ProcessMemoryBytes > 0 {
		wanted = append(wanted, extended{"processMemory", windows.JOB_OBJECT_LIMIT_PROCESS_MEMORY,
			func(i *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) {
				i.ProcessMemoryLimit = uintptr(l.ProcessMemoryBytes)
			},
			func(i *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) bool {
				return i.ProcessMemoryLimit == uintptr(l.ProcessMemoryBytes)
			}})
	}
	if l.MaxProcesses > 0 {
		wanted = append(wanted, extended{"maxProcesses", windows.JOB_OBJECT_LIMIT_ACTIVE_PROCESS,
			func(i *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) {
				i.BasicLimitInformation.ActiveProcessLimit = uint32(l.MaxProcesses)
			},
			func(i *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) bool {
				return i.BasicLimitInformation.ActiveProcessLimit == uint32(l.MaxProcesses)
			}})
	}
	var set []extended
	for _, w := range wanted {
		next := j.limits
		next.BasicLimitInformation.LimitFlags |= w.flag
		w.apply(&next)
		if err := j.setExtended(&next); err != nil {
			problems = append(problems, LimitProblem{Limit: w.name, Reason: "the OS refused it: " + err.Error()})
			continue
		}
		j.limits = next
		set = append(set, w)
	}
	if len(set) > 0 {
		got, err := j.queryExtended()
		for _, w := range set {
			switch {
			case err != nil:
				problems = append(problems, LimitProblem{Limit: w.name, Reason: "set, but it cannot be read back: " + err.Error()})
			case got.BasicLimitInformation.LimitFlags&w.flag == 0 || !w.check(&got):
				problems = append(problems, LimitProblem{Limit: w.name, Reason: "set, but the job does not show it in force"})
			}
		}
	}
	if l.CPURatePercent > 0 {
		if p := j.setCPURate(l.CPURatePercent); p != "" {
			problems = append(problems, LimitProblem{Limit: "cpuRate", Reason: p})
		}
	}
	sort.SliceStable(problems, func(a, b int) bool { return limitOrder(problems[a].Limit) < limitOrder(problems[b].Limit) })
	return problems
}

func limitOrder(name string) int {
	for i, n := range []string{"memory", "processMemory", "cpuRate", "maxProcesses"} {
		if n == name {
			return i
		}
	}
	return 99
}

// setCPURate caps the job at percent of the whole machine; it returns why
// the cap is not in force, or "".
func (j *job) setCPURate(percent int32) string {
	info := jobObjectCPURateControl{ControlFlags: jobCPURateControlEnable | jobCPURateControlHardCap, CPURate: uint32(percent) * 100}
	if _, err := windows.SetInformationJobObject(j.handle, windows.JobObjectCpuRateControlInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		return "the OS refused it: " + err.Error()
	}
	var got jobObjectCPURateControl
	if err := windows.QueryInformationJobObject(j.handle, windows.JobObjectCpuRateControlInformation,
		uintptr(unsafe.Pointer(&got)), uint32(unsafe.Sizeof(got)), nil); err != nil {
		return "set, but it cannot be read back: " + err.Error()
	}
	if got != info {
		return "set, but the job does not show it in force"
	}
	return ""
}

// process is a process started in a job.
type process struct {
	handle windows.Handle
	pid    uint32
}

// startSuspended creates the process suspended, with stdout and stderr on
// out and stdin on in, and only those handles inherited.
func startSuspended(argv []string, env []string, dir string, in, out windows.Handle) (*process, windows.Handle, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, 0, fmt.Errorf("starting %q: %w", argv[0], err)
	}
	app, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, 0, err
	}
	cmdline, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(argv))
	if err != nil {
		return nil, 0, err
	}
	var cwd *uint16
	if dir != "" {
		if cwd, err = windows.UTF16PtrFromString(dir); err != nil {
			return nil, 0, err
		}
	}
	block := envBlock(env)

	attrs, err := windows.NewProcThreadAttributeList(1)
	if err != nil {
		return nil, 0, err
	}
	defer attrs.Delete()
	handles := []windows.Handle{in, out}
	if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_HANDLE_LIST, unsafe.Pointer(&handles[0]), uintptr(len(handles))*unsafe.Sizeof(handles[0])); err != nil {
		return nil, 0, err
	}
	si := windows.StartupInfoEx{
		StartupInfo: windows.StartupInfo{
			Cb:        uint32(unsafe.Sizeof(windows.StartupInfoEx{})),
			Flags:     windows.STARTF_USESTDHANDLES,
			StdInput:  in,
			StdOutput: out,
			StdErr:    out,
		},
		ProcThreadAttributeList: attrs.List(),
	}
	var pi windows.ProcessInformation
	flags := uint32(windows.CREATE_SUSPENDED | windows.CREATE_UNICODE_ENVIRONMENT | windows.EXTENDED_STARTUPINFO_PRESENT | windows.CREATE_NO_WINDOW)
	if err := windows.CreateProcess(app, cmdline, nil, nil, true, flags, &block[0], cwd, &si.StartupInfo, &pi); err != nil {
		return nil, 0, fmt.Errorf("starting %q: %w", argv[0], err)
	}
	return &process{handle: pi.Process, pid: pi.ProcessId}, pi.Thread, nil
}

// start starts argv in the job: suspended, assigned, then resumed, so it
// never runs outside the job.
func (j *job) start(argv []string, env []string, dir string, in, out windows.Handle) (*process, error) {
	p, thread, err := startSuspended(argv, env, dir, in, out)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(thread)
	if err := windows.AssignProcessToJobObject(j.handle, p.handle); err != nil {
		_ = windows.TerminateProcess(p.handle, ExitCodeTerminated)
		_ = windows.CloseHandle(p.handle)
		return nil, fmt.Errorf("assigning %q to job %s: %w", argv[0], j.name, err)
	}
	if _, err := windows.ResumeThread(thread); err != nil {
		_ = windows.TerminateJobObject(j.handle, ExitCodeTerminated)
		_ = windows.CloseHandle(p.handle)
		return nil, fmt.Errorf("resuming %q: %w", argv[0], err)
	}
	return p, nil
}

// next waits up to timeout for the job's next message; ok is false on
// timeout.
func (j *job) next(timeout time.Duration) (m jobMessage, ok bool, err error) {
	ms := uint32(timeout / time.Millisecond)
	msg, _, value, err := getQueuedCompletionStatus(j.port, ms)
	if err != nil {
		if errors.Is(err, windows.WAIT_TIMEOUT) {
			return jobMessage{}, false, nil
		}
		return jobMessage{}, false, err
	}
	return jobMessage{Msg: msg, PID: uint32(value)}, true, nil
}

// terminate ends every process of the job with code.
func (j *job) terminate(code uint32) error {
	return windows.TerminateJobObject(j.handle, code)
}

// accounting reads what the job measured.
func (j *job) accounting() Accounting {
	var acc Accounting
	var basic jobObjectBasicAccounting
	if err := windows.QueryInformationJobObject(j.handle, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&basic)), uint32(unsafe.Sizeof(basic)), nil); err == nil {
		cpu := time.Duration(basic.TotalUserTime+basic.TotalKernelTime) * 100
		total := basic.TotalProcesses
		acc.CPUTime, acc.TotalProcesses = &cpu, &total
	}
	if ext, err := j.queryExtended(); err == nil {
		peak := uint64(ext.PeakJobMemoryUsed)
		acc.PeakMemoryBytes = &peak
	}
	return acc
}

// close closes the job; with kill on job close, whatever is left of the tree
// dies with it.
func (j *job) close() {
	if j.port != 0 {
		_ = windows.CloseHandle(j.port)
		j.port = 0
	}
	if j.handle != 0 {
		_ = windows.CloseHandle(j.handle)
		j.handle = 0
	}
}

// envBlock is a CreateProcess environment block: NUL-separated, sorted
// without regard to case as Windows wants, ending in two NULs.
func envBlock(env []string) []uint16 {
	env = append([]string(nil), env...)
	sort.SliceStable(env, func(a, b int) bool { return strings.ToUpper(env[a]) < strings.ToUpper(env[b]) })
	var b strings.Builder
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			continue
		}
		b.WriteString(kv)
		b.WriteByte(0)
	}
	if b.Len() == 0 {
		b.WriteByte(0)
	}
	b.WriteByte(0)
	return utf16.Encode([]rune(b.String()))
}

// outputPipe returns an inheritable write handle for the child and a reader
// for the executor.
func outputPipe() (*os.File, windows.Handle, error) {
	var r, w windows.Handle
	sa := windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), InheritHandle: 1}
	if err := windows.CreatePipe(&r, &w, &sa, 0); err != nil {
		return nil, 0, fmt.Errorf("creating the output pipe: %w", err)
	}
	if err := windows.SetHandleInformation(r, windows.HANDLE_FLAG_INHERIT, 0); err != nil {
		_ = windows.CloseHandle(r)
		_ = windows.CloseHandle(w)
		return nil, 0, err
	}
	return os.NewFile(uintptr(r), "output"), w, nil
}

// nulInput opens NUL as an inheritable stdin.
func nulInput() (windows.Handle, error) {
	sa := windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), InheritHandle: 1}
	return windows.CreateFile(windows.StringToUTF16Ptr("NUL"), windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, &sa, windows.OPEN_EXISTING, 0, 0)
}

func (b *jobBackend) Run(ctx context.Context, spec RunSpec) (*RunResult, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("no command")
	}
	j, err := createJob(spec.Task)
	if err != nil {
		return nil, err
	}
	defer j.close()
	res := &RunResult{LimitProblems: j.applyLimits(spec.Limits)}

	r, w, err := outputPipe()
	if err != nil {
		return nil, err
	}
	in, err := nulInput()
	if err != nil {
		_ = r.Close()
		_ = windows.CloseHandle(w)
		return nil, fmt.Errorf("opening NUL: %w", err)
	}
	p, err := j.start(spec.Argv, mergeEnv(os.Environ(), spec.Env, true), spec.WorkingDir, in, w)
	_ = windows.CloseHandle(w)
	_ = windows.CloseHandle(in)
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	defer windows.CloseHandle(p.handle)
	res.Started = time.Now()

	out := newTailBuffer(spec.MaxOutputBytes)
	readDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, r)
		close(readDone)
	}()

	deadline := res.Started.Add(spec.Timeout)
	var (
		killedAt time.Time
		hit      = map[string]bool{}
		once     sync.Once
	)
	end := func(code uint32) {
		once.Do(func() {
			killedAt = time.Now()
			_ = j.terminate(code)
		})
	}
events:
	for {
		if ctx.Err() != nil && killedAt.IsZero() {
			res.Terminated = true
			end(ExitCodeTerminated)
		}
		wait := 100 * time.Millisecond
		if killedAt.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				res.TimedOut = true
				end(ExitCodeTimedOut)
			} else if left < wait {
				wait = left
			}
		} else if time.Since(killedAt) > treeGrace {
			break events
		}
		m, ok, err := j.next(wait)
		if err != nil {
			end(ExitCodeTerminated)
			break events
		}
		if !ok {
			continue
		}
		switch m.Msg {
		case jobMsgActiveProcessZero:
			break events
		case jobMsgJobMemoryLimit:
			hit["memory"] = true
		case jobMsgProcessMemoryLimit:
			hit["processMemory"] = true
		case jobMsgActiveProcessLimit:
			hit["maxProcesses"] = true
		}
	}
	res.Finished = time.Now()
	select {
	case <-readDone:
	case <-time.After(treeGrace):
		// A handle to the pipe outlived the job; leave the reader to it.
	}
	res.Output = out.Output()
	var code uint32
	if err := windows.GetExitCodeProcess(p.handle, &code); err == nil {
		res.ExitCode = int(int32(code))
	}
	res.Accounting = j.accounting()
	for _, name := range []string{"memory", "processMemory", "maxProcesses"} {
		if hit[name] {
			res.LimitsHit = append(res.LimitsHit, name)
		}
	}
	return res, nil
}
