//go:build linux

package executor

import (
	"os"
	"syscall"
	"time"
)

// detachedAttr makes the helper's child leave the process group, as a
// daemon would, when the spawning helper has HOSTPROCESS_EXECUTOR_TEST_SETSID=1.
func detachedAttr() *syscall.SysProcAttr {
	if os.Getenv("HOSTPROCESS_EXECUTOR_TEST_SETSID") == "1" {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return nil
}

func init() {
	// busy-cpu DURATION spins until the process has used DURATION of CPU.
	helperModes["busy-cpu"] = func(args []string) int {
		d, _ := time.ParseDuration(args[0])
		for {
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= d {
				return 0
			}
		}
	}
	helperModes["cgroup-file"] = func(args []string) int {
		mount, err := cgroup2Mount()
		if err != nil {
			return 4
		}
		own, err := ownCgroup()
		if err != nil {
			return 4
		}
		data, err := os.ReadFile(mount + own + "/" + args[0])
		if err != nil {
			os.Stdout.WriteString(err.Error())
			return 4
		}
		os.Stdout.Write(data)
		return 0
	}
}
