//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// goBench is the median of a Go benchmark's runs.
type goBench struct {
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	Runs        int     `json:"runs"`
}

// goBenchmarks runs BenchmarkEvaluate (./policy) and the handler benchmarks
// (./hack/bench) three times each, and profiles the handler benchmarks'
// CPU, writing the top functions to out/handler-profile.txt.
func goBenchmarks(ctx context.Context, root, work, out string, rep *report) error {
	rep.GoBench = map[string]goBench{}
	logf("go test -bench BenchmarkEvaluate ./policy")
	res, err := goTestBench(ctx, root, "./policy", "^BenchmarkEvaluate$")
	if err != nil {
		return err
	}
	for k, v := range res {
		rep.GoBench[k] = v
	}
	profile := filepath.Join(work, "handler.pprof")
	bin := filepath.Join(work, "bench.test")
	logf("go -C hack/bench test -bench 'Benchmark(Validate|Mutate)Handler' -cpuprofile .")
	res, err = goTestBench(ctx, filepath.Join(root, "hack", "bench"), ".", "^Benchmark(Validate|Mutate)Handler$", "-o", bin, "-cpuprofile", profile)
	if err != nil {
		return err
	}
	for k, v := range res {
		rep.GoBench[k] = v
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", bin, profile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %v\n%s", err, top)
	}
	cum, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=30", bin, profile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %v\n%s", err, cum)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	rep.Instructions = map[string]float64{}
	for _, name := range []string{"BenchmarkValidateHandler", "BenchmarkMutateHandler"} {
		n, err := instructionsPerOp(ctx, bin, name)
		if err != nil {
			logf("instruction count of %s: %v", name, err)
			continue
		}
		rep.Instructions[name] = n
		logf("%s: %.0f instructions per review (valgrind --tool=callgrind)", name, n)
	}
	text := "CPU profile of BenchmarkValidateHandler and BenchmarkMutateHandler (hack/bench), " +
		time.Now().UTC().Format(time.RFC3339) + "\n\n== flat ==\n" + string(top) + "\n== cumulative ==\n" + string(cum)
	return os.WriteFile(filepath.Join(out, "handler-profile.txt"), []byte(text), 0o644)
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// goTestBench runs benchmarks matching re in pkg three times and returns the
// median of each figure.
// goTestBench runs the benchmarks re of pkg, in the module at dir.
func goTestBench(ctx context.Context, dir, pkg, re string, extra ...string) (map[string]goBench, error) {
	args := append([]string{"test", "-run", "^$", "-bench", re, "-benchmem", "-count", "3"}, extra...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	runs := map[string][][3]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var v [3]float64
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			x, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				v[0] = x
			case "B/op":
				v[1] = x
			case "allocs/op":
				v[2] = x
			}
		}
		runs[m[1]] = append(runs[m[1]], v)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("go %s printed no benchmark results:\n%s", strings.Join(args, " "), out)
	}
	res := map[string]goBench{}
	for name, rs := range runs {
		var ns, b, a []float64
		for _, r := range rs {
			ns, b, a = append(ns, r[0]), append(b, r[1]), append(a, r[2])
		}
		res[name] = goBench{NsPerOp: median(ns), BytesPerOp: median(b), AllocsPerOp: median(a), Runs: len(rs)}
	}
	return res, nil
}

// instructionsPerOp counts the instructions one op of benchmark name in the
// test binary bin executes, with valgrind's callgrind: the count of a run of
// 1,100 ops less that of a run of 100 ops, divided by 1,000, so that start-up
// and the benchmark's set-up cancel out. One CPU (GOMAXPROCS=1), so that no
// idle thread spins, and no asynchronous preemption (its signals stop
// callgrind). Unlike ns/op, the count does not depend on what else the
// machine runs; it moves by about 1% between runs with the garbage
// collector's timing.
func instructionsPerOp(ctx context.Context, bin, name string) (float64, error) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return 0, errors.New("valgrind is not installed (apt-get install valgrind)")
	}
	count := func(n int) (float64, error) {
		outFile := fmt.Sprintf("%s.callgrind.%d", bin, n)
		defer os.Remove(outFile)
		cmd := exec.CommandContext(ctx, "valgrind", "--tool=callgrind", "--callgrind-out-file="+outFile, bin,
			"-test.run", "^$", "-test.bench", "^"+name+"$", "-test.benchtime", fmt.Sprintf("%dx", n))
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("valgrind: %v\n%s", err, tail1(string(out), 10))
		}
		m := regexp.MustCompile(`Collected : (\d+)`).FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("valgrind printed no count:\n%s", tail1(string(out), 10))
		}
		return strconv.ParseFloat(string(m[1]), 64)
	}
	small, err := count(100)
	if err != nil {
		return 0, err
	}
	large, err := count(1100)
	if err != nil {
		return 0, err
	}
	return (large - small) / 1000, nil
}

// auditResult is the outcome of the audit issue's scale test.
type auditResult struct {
	Status  string  `json:"status"`
	Seconds float64 `json:"seconds,omitempty"`
	Output  string  `json:"output,omitempty"`
}

// auditScale runs the audit issue's scale test, hack/bench/audit (10,000
// pods), when it has landed: when git tracks its main.go.
func auditScale(ctx context.Context, root string, timeout time.Duration) *auditResult {
	landed := exec.CommandContext(ctx, "git", "ls-files", "--error-unmatch", "hack/bench/audit/main.go")
	landed.Dir = root
	if err := landed.Run(); err != nil {
		return &auditResult{Status: "not run: the audit scale test (hack/bench/audit) has not landed"}
	}
	logf("go -C hack/bench run ./audit (at most %s)", timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "run", "./audit")
	cmd.Dir = filepath.Join(root, "hack", "bench")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	r := &auditResult{Seconds: time.Since(start).Seconds(), Output: strings.TrimSpace(string(out))}
	if err != nil {
		r.Status = fmt.Sprintf("FAILED after %.0fs: %v: %s", r.Seconds, err, tail1(stderr.String(), 10))
	} else {
		r.Status = fmt.Sprintf("ran in %.0fs (go -C hack/bench run ./audit)", r.Seconds)
	}
	return r
}

func tail1(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
