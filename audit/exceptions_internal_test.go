package audit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// The audit lists pods admitted under an exception and flags those still
// running after it expired.
func TestAuditListsPodsUnderExceptionsAndFlagsThoseThatOutliveThem(t *testing.T) {
	cfg := config.Default()
	cfg.AllowedUsers = []string{`NT AUTHORITY\Local service`}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
	x, err := policy.CompileException(&config.HostProcessException{
		ObjectMeta: metav1.ObjectMeta{Name: "debug"},
		Spec: config.ExceptionSpec{
			Namespaces: []string{"ops"},
			Pods:       &config.ExceptionPods{NamePrefix: "debug-"},
			Grants:     config.ExceptionGrants{Accounts: []string{audittest.System}},
			ExpiresAt:  metav1.NewTime(expires),
			Reason:     "node debugging",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(now time.Time) *Result {
		s := NewScanner(p)
		s.SetExceptions([]*policy.Exception{x}, now)
		s.AddNamespace("ops", nil, false)
		s.AddPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "debug-1"}, Spec: audittest.HostProcessSpec(audittest.System, "win-1", "mcr.microsoft.com/img")})
		return s.Result()
	}
	applied := []policy.AppliedException{{Name: "debug", ExpiresAt: expires}}

	before := scan(expires.Add(-time.Minute)).Objects[0]
	if before.Status != StatusCompliant || !cmp.Equal(before.Exceptions, applied) || before.ExpiredExceptions != nil {
		t.Fatalf("before expiry: status %s exceptions %v expired %v", before.Status, before.Exceptions, before.ExpiredExceptions)
	}
	results := objectResults(&before)
	if got, want := results[0].Description, `HostProcess pod runs as NT AUTHORITY\SYSTEM and breaks no rule under HostProcessException "debug" (expires at 2026-12-08T02:00:00Z)`; got != want {
		t.Errorf("description:\n got %s\nwant %s", got, want)
	}
	if got := results[0].Properties["exceptions"]; got != `HostProcessException "debug" (expires at 2026-12-08T02:00:00Z)` {
		t.Errorf("exceptions property %q", got)
	}

	after := scan(expires).Objects[0]
	if after.Status != StatusViolating || after.Exceptions != nil || !cmp.Equal(after.ExpiredExceptions, applied) {
		t.Fatalf("at expiry: status %s exceptions %v expired %v", after.Status, after.Exceptions, after.ExpiredExceptions)
	}
	var rules, descriptions []string
	for _, r := range objectResults(&after) {
		rules = append(rules, r.Rule+":"+string(r.Result)+":"+string(r.Severity))
		descriptions = append(descriptions, r.Description)
	}
	if want := []string{"runAsUserName:fail:high", "exceptionExpired:fail:high"}; !cmp.Equal(rules, want) {
		t.Errorf("results %v, want %v", rules, want)
	}
	if want := `HostProcess pod still runs after HostProcessException "debug" (expired at 2026-12-08T02:00:00Z)`; len(descriptions) < 2 || descriptions[1] != want {
		t.Errorf("descriptions %q, want the second %q", descriptions, want)
	}
}
