//go:build windows

package executor

import "syscall"

// detachedAttr adds nothing on Windows: a job does not let its processes
// leave it.
func detachedAttr() *syscall.SysProcAttr { return nil }
