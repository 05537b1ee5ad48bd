//go:build linux

package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupSubdir holds the executor's per-run cgroups, under the executor's own
// cgroup.
const cgroupSubdir = "hostprocess-executor"

// cgroupParent is a writable cgroup v2 directory for per-run cgroups, with
// the controllers it could enable.
type cgroupParent struct {
	dir         string
	controllers map[string]bool
}

// probeCgroup finds the cgroup v2 hierarchy, makes dir/hostprocess-executor
// under the executor's own cgroup and enables the memory, pids and cpu
// controllers for it where it can. The error says why there is no cgroup.
func probeCgroup() (*cgroupParent, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(mount, own)
	dir := filepath.Join(base, cgroupSubdir)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup v2 at %s is not writable: %w", base, err)
	}
	probe := filepath.Join(dir, fmt.Sprintf("probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup v2 at %s is not writable: %w", dir, err)
	}
	_ = os.Remove(probe)

	p := &cgroupParent{dir: dir, controllers: map[string]bool{}}
	available := readWords(filepath.Join(base, "cgroup.controllers"))
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !available[c] {
			continue
		}
		// Enabling a controller below a cgroup that holds processes fails
		// with EBUSY unless it is the root; then the limit is reported.
		_ = os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("+"+c), 0o644)
		_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0o644)
	}
	p.controllers = readWords(filepath.Join(dir, "cgroup.subtree_control"))
	return p, nil
}

func cgroup2Mount() (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("no cgroup v2: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		// ID parent major:minor root mountpoint options... - fstype source super
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if fs := strings.Fields(post); len(fs) == 0 || fs[0] != "cgroup2" {
			continue
		}
		if fields := strings.Fields(pre); len(fields) >= 5 {
			return fields[4], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("no cgroup v2: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path, nil
		}
	}
	return "", errors.New("the executor is in no cgroup v2")
}

func readWords(path string) map[string]bool {
	data, _ := os.ReadFile(path)
	words := map[string]bool{}
	for _, w := range strings.Fields(string(data)) {
		words[w] = true
	}
	return words
}

// runCgroup is the cgroup of one run.
type runCgroup struct {
	dir string
}

func (p *cgroupParent) newRun(task string) (*runCgroup, error) {
	dir := filepath.Join(p.dir, fmt.Sprintf("%s-%d", task, time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	return &runCgroup{dir: dir}, nil
}

// apply writes the limits and returns the ones that did not take.
func (c *runCgroup) apply(p *cgroupParent, l ResourceLimits) []LimitProblem {
	var problems []LimitProblem
	set := func(limit, controller, file, value string) {
		if !p.controllers[controller] {
			problems = append(problems, LimitProblem{Limit: limit, Reason: missingController(p, controller)})
			return
		}
		if err := os.WriteFile(filepath.Join(c.dir, file), []byte(value), 0o644); err != nil {
			problems = append(problems, LimitProblem{Limit: limit, Reason: fmt.Sprintf("writing %s: %v", file, err)})
		}
	}
	if l.MemoryBytes > 0 {
		set("memory", "memory", "memory.max", strconv.FormatInt(l.MemoryBytes, 10))
		// Kill the whole tree rather than one process on OOM, as a job does.
		if p.controllers["memory"] {
			_ = os.WriteFile(filepath.Join(c.dir, "memory.oom.group"), []byte("1"), 0o644)
		}
	}
	if l.ProcessMemoryBytes > 0 {
		problems = append(problems, LimitProblem{Limit: "processMemory", Reason: noProcessMemory})
	}
	if l.CPURatePercent > 0 {
		// The share of the whole node: quota = rate% of period on every CPU.
		const period = 100000
		quota := int64(l.CPURatePercent) * period * int64(numCPU()) / 100
		set("cpuRate", "cpu", "cpu.max", fmt.Sprintf("%d %d", quota, period))
	}
	if l.MaxProcesses > 0 {
		set("maxProcesses", "pids", "pids.max", strconv.Itoa(int(l.MaxProcesses)))
	}
	return problems
}

const noProcessMemory = "Linux has no per-process limit on committed memory"

func missingController(p *cgroupParent, controller string) string {
	return fmt.Sprintf("the cgroup v2 %s controller is not enabled for %s", controller, p.dir)
}

// populated reports whether a process is still in the cgroup.
func (c *runCgroup) populated() bool {
	data, err := os.ReadFile(filepath.Join(c.dir, "cgroup.events"))
	if err != nil {
		return false
	}
	return bytes.Contains(data, []byte("populated 1"))
}

// kill ends every process in the cgroup: with cgroup.kill where the kernel
// has it (5.14), else by signalling each listed process until none is left.
func (c *runCgroup) kill() {
	if err := os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0o644); err == nil {
		return
	}
	for i := 0; i < 100 && c.populated(); i++ {
		data, _ := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// accounting reads what the cgroup measured of the whole tree.
func (c *runCgroup) accounting() Accounting {
	var acc Accounting
	if f, err := os.Open(filepath.Join(c.dir, "cpu.stat")); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "usage_usec "); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					d := time.Duration(n) * time.Microsecond
					acc.CPUTime = &d
				}
			}
		}
		_ = f.Close()
	}
	if data, err := os.ReadFile(filepath.Join(c.dir, "memory.peak")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err == nil {
			acc.PeakMemoryBytes = &n
		}
	}
	return acc
}

// limitsHit reads which limits the tree ran into.
func (c *runCgroup) limitsHit() []string {
	var hit []string
	if n := eventCount(filepath.Join(c.dir, "memory.events"), "max"); n > 0 {
		hit = append(hit, "memory")
	}
	if n := eventCount(filepath.Join(c.dir, "pids.events"), "max"); n > 0 {
		hit = append(hit, "maxProcesses")
	}
	return hit
}

func eventCount(path, name string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// remove deletes the cgroup once it is empty.
func (c *runCgroup) remove() {
	for i := 0; i < 50; i++ {
		if err := os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
