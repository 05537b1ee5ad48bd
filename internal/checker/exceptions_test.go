package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func TestCheckAppliesTheExceptionsOfItsInput(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	exception := func(name, expires string) string {
		return `apiVersion: hostprocess.dev/v1alpha1
kind: HostProcessException
metadata:
  name: ` + name + `
  creationTimestamp: "2026-12-08T00:30:00Z"
spec:
  namespaces: [ops]
  pods: {namePrefix: debug-}
  grants: {accounts: ['NT AUTHORITY\SYSTEM']}
  expiresAt: "` + expires + `"
  reason: node debugging
`
	}
	cfg := config.Default()
	cfg.AllowedUsers = []string{`NT AUTHORITY\Local service`}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		exception   string
		wantAllowed []bool
		wantWarning string
		wantSkipped string
	}{
		{
			name:        "an active exception admits the pod it selects, with its warning, and not the other",
			exception:   exception("debug", "2026-12-08T01:30:00Z"),
			wantAllowed: []bool{true, false},
			wantWarning: `admitted under HostProcessException "debug", which expires at 2026-12-08T01:30:00Z`,
			wantSkipped: "HostProcessException: applied to the pods and workloads of the input until 2026-12-08T01:30:00Z",
		},
		{
			name:        "an expired exception applies to nothing",
			exception:   exception("debug", "2026-12-08T00:59:59Z"),
			wantAllowed: []bool{false, false},
			wantSkipped: "HostProcessException expired at 2026-12-08T00:59:59Z and applies to nothing",
		},
		{
			name:        "an exception that outlives maxLifetime is invalid and applies to nothing",
			exception:   exception("debug", "2026-12-09T01:30:00Z"),
			wantAllowed: []bool{false, false},
			wantSkipped: `HostProcessException is invalid and applies to nothing: spec.expiresAt: Invalid value: "2026-12-09T01:30:00Z": must be at most exceptions.maxLifetime (24h0m0s) after the exception's creation, i.e. not after 2026-12-09T00:30:00Z`,
		},
		{
			name:        "an exception that grants an administrative group is invalid and applies to nothing",
			exception:   strings.Replace(exception("debug", "2026-12-08T01:30:00Z"), "{accounts: ['NT AUTHORITY\\SYSTEM']}", "{localGroups: [Administrators]}", 1),
			wantAllowed: []bool{false, false},
			wantSkipped: `HostProcessException is invalid and applies to nothing: spec.grants.localGroups[0]: Forbidden: "Administrators" names the built-in group Administrators`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := tc.exception + "---\n" + hostProcessPod("debug-1", "ops", `NT AUTHORITY\SYSTEM`, windowsSelector) +
				"---\n" + hostProcessPod("agent-1", "ops", `NT AUTHORITY\SYSTEM`, windowsSelector)
			objs, err := manifest.Read("in.yaml", []byte(input))
			if err != nil {
				t.Fatal(err)
			}
			r := CheckAt(p, objs, now)
			var allowed []bool
			for _, res := range r.Results {
				allowed = append(allowed, res.Allowed)
			}
			if diff := cmp.Diff(tc.wantAllowed, allowed); diff != "" {
				t.Errorf("allowed (-want +got):\n%s", diff)
			}
			var warnings []string
			if len(r.Results) > 0 {
				warnings = r.Results[0].Warnings
			}
			if tc.wantWarning != "" && (len(warnings) != 1 || warnings[0] != tc.wantWarning) {
				t.Errorf("warnings %q, want [%q]", warnings, tc.wantWarning)
			}
			if tc.wantWarning == "" && len(warnings) != 0 {
				t.Errorf("warnings %q, want none", warnings)
			}
			if len(r.Skipped) != 1 || !strings.HasPrefix(r.Skipped[0].Reason, tc.wantSkipped) {
				t.Errorf("skipped %+v, want the exception with reason %q", r.Skipped, tc.wantSkipped)
			}
		})
	}
}
