package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a small program for the backends
// to run, the same on Linux and under wine:
//
//	print TEXT N CODE      writes TEXT N times, exits with CODE
//	sleep DURATION         sleeps
//	spawn wait|exit ARGS   starts the helper with ARGS sharing its output,
//	                       writes "child PID\n", then sleeps or exits 0
//	env NAME               writes the variable's value
//	busy DURATION          spins a CPU
//	alloc BYTES            commits and touches BYTES, writes "allocated"
const helperEnv = "HOSTPROCESS_EXECUTOR_TEST_HELPER"

// helperModes are platform modes of the helper, added by init functions.
var helperModes = map[string]func(args []string) int{}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperArgv is the argv that runs the helper with args.
func helperArgv(t *testing.T, args ...string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	return append([]string{exe}, args...)
}

// helperSpec is a run of the helper with the helper switch in its env.
func helperSpec(t *testing.T, task string, timeout time.Duration, args ...string) RunSpec {
	return RunSpec{
		Task:           task,
		Argv:           helperArgv(t, args...),
		Env:            []EnvVar{{Name: helperEnv, Value: "1"}},
		Timeout:        timeout,
		MaxOutputBytes: DefaultMaxOutputBytes,
	}
}

func helperMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no mode")
		return 2
	}
	switch args[0] {
	case "print":
		n, _ := strconv.Atoi(args[2])
		code, _ := strconv.Atoi(args[3])
		os.Stdout.WriteString(strings.Repeat(args[1], n))
		return code
	case "sleep":
		d, _ := time.ParseDuration(args[1])
		time.Sleep(d)
		return 0
	case "spawn":
		exe, _ := os.Executable()
		cmd := exec.Command(exe, args[2:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = detachedAttr()
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 3
		}
		fmt.Printf("child %d\n", cmd.Process.Pid)
		if args[1] == "wait" {
			time.Sleep(time.Hour)
		}
		return 0
	case "env":
		os.Stdout.WriteString(os.Getenv(args[1]))
		return 0
	case "busy":
		d, _ := time.ParseDuration(args[1])
		for start := time.Now(); time.Since(start) < d; {
		}
		return 0
	case "alloc":
		n, _ := strconv.Atoi(args[1])
		b := make([]byte, n)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("allocated")
		return int(b[0]) - 1
	}
	if mode, ok := helperModes[args[0]]; ok {
		return mode(args[1:])
	}
	fmt.Fprintln(os.Stderr, "helper: unknown mode", args[0])
	return 2
}

// childPID reads the "child PID" line a spawn helper wrote.
func childPID(t *testing.T, output string) int {
	t.Helper()
	var pid int
	if _, err := fmt.Sscanf(output, "child %d\n", &pid); err != nil {
		t.Fatalf("no child pid in output %q: %v", output, err)
	}
	return pid
}

// tempDir is t.TempDir, removed file by file: under wine os.RemoveAll
// fails with "Invalid function" (wine lacks FILE_DISPOSITION_INFORMATION_EX).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "executor-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
			paths = append(paths, path)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			if err := os.Remove(paths[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("removing %s: %v", paths[i], err)
			}
		}
	})
	return dir
}
