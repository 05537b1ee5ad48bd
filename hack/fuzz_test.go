//go:build linux

// Package hack holds the tests of the project's scripts.
package hack

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCoordinatorRace checks hack/fuzz.sh's classifier of a failed fuzz run:
// only Go 1.26's coordinator deadline race (golang/go#75804), the target's
// one FAIL line followed by a bare "context deadline exceeded" with no
// failing input written, is accepted; every real failure is not.
func TestCoordinatorRace(t *testing.T) {
	const target = "FuzzEvaluate"
	for _, tc := range []struct {
		name   string
		output string
		race   bool
	}{
		{"the coordinator's deadline race", `fuzz: elapsed: 9s, execs: 1034552 (114950/sec), new interesting: 2 (total: 93)
--- FAIL: FuzzEvaluate (10.02s)
context deadline exceeded
FAIL
exit status 1
FAIL	github.com/hostprocess-admission/hostprocess-admission/policy	10.041s
`, true},
		{"a crash, its input written", `fuzz: elapsed: 2s, execs: 120233 (60110/sec), new interesting: 0 (total: 91)
--- FAIL: FuzzEvaluate (2.13s)
    --- FAIL: FuzzEvaluate (0.00s)
        testing.go:1591: panic: runtime error: index out of range [3] with length 3

    Failing input written to testdata/fuzz/FuzzEvaluate/582528ddfad69eb5
    To re-run:
    go test -run=FuzzEvaluate/582528ddfad69eb5
FAIL
exit status 1
FAIL	github.com/hostprocess-admission/hostprocess-admission/policy	2.151s
`, false},
		{"a crash whose message is the deadline, its input written", `--- FAIL: FuzzEvaluate (3.00s)
context deadline exceeded
    Failing input written to testdata/fuzz/FuzzEvaluate/0123
FAIL
`, false},
		{"a hung worker", `--- FAIL: FuzzEvaluate (10.50s)
fuzzing process hung or terminated unexpectedly: exit status 2
FAIL
exit status 1
`, false},
		{"another target's deadline", `--- FAIL: FuzzEvaluateAndDefault (10.02s)
context deadline exceeded
FAIL
`, false},
		{"the deadline after a failure of its own", `--- FAIL: FuzzEvaluate (10.02s)
context deadline exceeded
--- FAIL: FuzzEvaluate (0.00s)
FAIL
`, false},
		{"no FAIL line: the package did not build", `# github.com/hostprocess-admission/hostprocess-admission/policy
policy/evaluate.go:12:2: undefined: x
FAIL	github.com/hostprocess-admission/hostprocess-admission/policy [build failed]
`, false},
		{"the deadline on a later line", `--- FAIL: FuzzEvaluate (10.02s)
    fuzz_test.go:40: something
context deadline exceeded
FAIL
`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(out, []byte(tc.output), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", `source ./fuzz.sh && coordinator_race "$1" "$2"`, "bash", out, target)
			err := cmd.Run()
			if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
				t.Fatal(err)
			}
			if got := err == nil; got != tc.race {
				t.Errorf("coordinator_race = %v, want %v", got, tc.race)
			}
		})
	}
}
