//go:build windows

package executor

import (
	"context"
	"testing"
)

func TestEnsureLocalGroupsThroughNetapi32(t *testing.T) {
	// netapi32 is loaded and both calls resolve; under wine
	// NetLocalGroupGetInfo is a semi-stub that finds every group, so the run
	// is ready without creating any.
	for _, p := range []interface{ Find() error }{procNetLocalGroupAdd, procNetLocalGroupGetInfo} {
		if err := p.Find(); err != nil {
			t.Fatalf("netapi32: %v", err)
		}
	}
	if !underWine() {
		t.Skip("creates local groups on a real machine; run it on a Windows node by hand")
	}
	e := newSchedulerEnv(t, "")
	r := e.s.RunDue(context.Background(), []TaskSpec{EnsureLocalGroupsTask([]string{"hpc-users"})})[0]
	if r.Outcome != OutcomeSucceeded || r.LocalGroups == nil || !r.LocalGroups.Ready || len(r.LocalGroups.Existing) != 1 {
		t.Errorf("report = %s %s %q %+v, want Succeeded and hpc-users existing", r.Outcome, r.Reason, r.Message, r.LocalGroups)
	}
}
