//go:build !windows

package executor

import (
	"context"
	"testing"
)

func TestEnsureLocalGroupsIsUnsupportedOffWindows(t *testing.T) {
	e := newSchedulerEnv(t, "")
	r := e.s.RunDue(context.Background(), []TaskSpec{EnsureLocalGroupsTask([]string{"hpc"})})[0]
	want := "creating local groups (NetLocalGroupAdd) is not supported on this platform"
	if r.Outcome != OutcomeFailed || r.Reason != ReasonUnsupported || r.Message != want || r.LocalGroups != nil {
		t.Errorf("report = %s %s %q %+v, want Failed Unsupported %q no status", r.Outcome, r.Reason, r.Message, r.LocalGroups, want)
	}
}
