//go:build windows

package executor

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// What golang.org/x/sys/windows lacks for job objects and local groups,
// declared from the Windows SDK (winnt.h, jobapi2.h, lmaccess.h).

var (
	modkernel32 = windows.NewLazySystemDLL("kernel32.dll")
	modnetapi32 = windows.NewLazySystemDLL("netapi32.dll")

	procCreateJobObjectW          = modkernel32.NewProc("CreateJobObjectW")
	procIsProcessInJob            = modkernel32.NewProc("IsProcessInJob")
	procGetQueuedCompletionStatus = modkernel32.NewProc("GetQueuedCompletionStatus")
	procNetLocalGroupAdd          = modnetapi32.NewProc("NetLocalGroupAdd")
	procNetLocalGroupGetInfo      = modnetapi32.NewProc("NetLocalGroupGetInfo")
)

// Messages a job posts to its completion port (winnt.h).
const (
	jobMsgEndOfJobTime       = 1
	jobMsgEndOfProcessTime   = 2
	jobMsgActiveProcessLimit = 3
	jobMsgActiveProcessZero  = 4
	jobMsgNewProcess         = 6
	jobMsgExitProcess        = 7
	jobMsgAbnormalExit       = 8
	jobMsgProcessMemoryLimit = 9
	jobMsgJobMemoryLimit     = 10
)

// JOBOBJECT_CPU_RATE_CONTROL_INFORMATION.ControlFlags.
const (
	jobCPURateControlEnable  = 0x1
	jobCPURateControlHardCap = 0x4
)

// Local group results (lmerr.h, winerror.h).
const (
	nerrGroupNotFound = 2220
	nerrGroupExists   = 2223
	errorAliasExists  = 1379
	errorNoSuchAlias  = 1376
)

// JOBOBJECT_ASSOCIATE_COMPLETION_PORT.
type jobObjectAssociateCompletionPort struct {
	CompletionKey  uintptr
	CompletionPort windows.Handle
}

// JOBOBJECT_BASIC_ACCOUNTING_INFORMATION; times in 100 ns units.
type jobObjectBasicAccounting struct {
	TotalUserTime             int64
	TotalKernelTime           int64
	ThisPeriodTotalUserTime   int64
	ThisPeriodTotalKernelTime int64
	TotalPageFaultCount       uint32
	TotalProcesses            uint32
	ActiveProcesses           uint32
	TotalTerminatedProcesses  uint32
}

// JOBOBJECT_CPU_RATE_CONTROL_INFORMATION; CpuRate is in hundredths of a
// percent of the whole machine.
type jobObjectCPURateControl struct {
	ControlFlags uint32
	CPURate      uint32
}

// LOCALGROUP_INFO_1.
type localGroupInfo1 struct {
	Name    *uint16
	Comment *uint16
}

// createJobObject is CreateJobObjectW, returning whether a job of that name
// existed already (ERROR_ALREADY_EXISTS), which x/sys/windows does not tell.
func createJobObject(name *uint16) (h windows.Handle, existed bool, err error) {
	r0, _, e1 := syscall.SyscallN(procCreateJobObjectW.Addr(), 0, uintptr(unsafe.Pointer(name)))
	if r0 == 0 {
		return 0, false, e1
	}
	return windows.Handle(r0), e1 == windows.ERROR_ALREADY_EXISTS, nil
}

// isProcessInJob is IsProcessInJob.
func isProcessInJob(process, job windows.Handle) (bool, error) {
	var result int32
	r1, _, e1 := syscall.SyscallN(procIsProcessInJob.Addr(), uintptr(process), uintptr(job), uintptr(unsafe.Pointer(&result)))
	if r1 == 0 {
		return false, e1
	}
	return result != 0, nil
}

// getQueuedCompletionStatus is GetQueuedCompletionStatus with the overlapped
// value as an integer: job messages carry a process id there, not a pointer.
func getQueuedCompletionStatus(port windows.Handle, timeoutMs uint32) (msg uint32, key, value uintptr, err error) {
	r1, _, e1 := syscall.SyscallN(procGetQueuedCompletionStatus.Addr(), uintptr(port),
		uintptr(unsafe.Pointer(&msg)), uintptr(unsafe.Pointer(&key)), uintptr(unsafe.Pointer(&value)), uintptr(timeoutMs))
	if r1 == 0 {
		return 0, 0, 0, e1
	}
	return msg, key, value, nil
}

// netLocalGroupAdd is NetLocalGroupAdd at level 1 on the local machine.
func netLocalGroupAdd(info *localGroupInfo1) error {
	var parmErr uint32
	r0, _, _ := syscall.SyscallN(procNetLocalGroupAdd.Addr(), 0, 1, uintptr(unsafe.Pointer(info)), uintptr(unsafe.Pointer(&parmErr)))
	if r0 != 0 {
		return syscall.Errno(r0)
	}
	return nil
}

// netLocalGroupGetInfo is NetLocalGroupGetInfo at level 1 on the local
// machine; the buffer is freed here.
func netLocalGroupGetInfo(name *uint16) error {
	var buf *byte
	r0, _, _ := syscall.SyscallN(procNetLocalGroupGetInfo.Addr(), 0, uintptr(unsafe.Pointer(name)), 1, uintptr(unsafe.Pointer(&buf)))
	if buf != nil {
		_ = windows.NetApiBufferFree(buf)
	}
	if r0 != 0 {
		return syscall.Errno(r0)
	}
	return nil
}
