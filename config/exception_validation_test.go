package config

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateException(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
	valid := func() *HostProcessException {
		return &HostProcessException{
			ObjectMeta: metav1.ObjectMeta{Name: "debug-node"},
			Spec: ExceptionSpec{
				Namespaces: []string{"ops"},
				Grants:     ExceptionGrants{Accounts: []string{SystemAccount}},
				ExpiresAt:  at(time.Hour),
				Reason:     "node debugging",
			},
		}
	}
	cfg := Default()
	short := Default()
	short.Exceptions.MaxLifetime = &metav1.Duration{Duration: 30 * time.Minute}
	tests := []struct {
		name   string
		edit   func(*HostProcessException)
		cfg    *AdmissionConfiguration
		change func(*ExceptionChange)
		want   []string
	}{
		{name: "a one-hour grant of SYSTEM with a reason is valid", edit: func(*HostProcessException) {}},
		{
			name: "pods selected by prefix, service account and labels, with a ticket, are valid",
			edit: func(e *HostProcessException) {
				e.Spec.Pods = &ExceptionPods{NamePrefix: "node-debugger-", ServiceAccountName: "agent", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}}
				e.Spec.Ticket = "INC-1234"
				e.Spec.Grants = ExceptionGrants{LocalGroups: []string{"vendor-agents"}, Images: []string{"vendor.example/*"}, InheritUser: true}
			},
		},
		{
			name: "a namespaced exception is refused: the object is cluster-scoped",
			edit: func(e *HostProcessException) { e.Namespace = "ops" },
			want: []string{"metadata.namespace: Forbidden: HostProcessException is cluster-scoped; leave the namespace out"},
		},
		{
			name: "no namespaces is refused naming spec.namespaces",
			edit: func(e *HostProcessException) { e.Spec.Namespaces = nil },
			want: []string{"spec.namespaces: Required value: list the namespaces the exception applies in"},
		},
		{
			name: "a namespace name that cannot exist and a repeated one are refused",
			edit: func(e *HostProcessException) { e.Spec.Namespaces = []string{"Ops", "ops", "ops"} },
			want: []string{"spec.namespaces[0]: Invalid value", "spec.namespaces[2]: Duplicate value"},
		},
		{
			name: "an empty pods selection is refused: leave it out to select every pod",
			edit: func(e *HostProcessException) { e.Spec.Pods = &ExceptionPods{} },
			want: []string{"spec.pods: Required value: set namePrefix, serviceAccountName or selector"},
		},
		{
			name: "a bad label selector is refused naming its path",
			edit: func(e *HostProcessException) {
				e.Spec.Pods = &ExceptionPods{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Has"}}}}
			},
			want: []string{"spec.pods.selector.matchExpressions[0].operator"},
		},
		{
			name: "an exception that grants nothing is refused",
			edit: func(e *HostProcessException) { e.Spec.Grants = ExceptionGrants{} },
			want: []string{"spec.grants: Required value: grant at least one of accounts, localGroups, images or inheritUser"},
		},
		{
			name: "granting the Administrators group as an account is refused, as in allowedUsers",
			edit: func(e *HostProcessException) { e.Spec.Grants.Accounts = []string{`BUILTIN\Administrators`} },
			want: []string{"spec.grants.accounts[0]: Forbidden", "administrative rights"},
		},
		{
			name: "granting an administrative group by SID as a local group is refused",
			edit: func(e *HostProcessException) { e.Spec.Grants.LocalGroups = []string{"S-1-5-32-544"} },
			want: []string{"spec.grants.localGroups[0]: Forbidden", "administrative rights"},
		},
		{
			name: "granting a name Windows cannot accept is refused",
			edit: func(e *HostProcessException) { e.Spec.Grants.Accounts = []string{"NT AUTHORITY/SYSTEM"} },
			want: []string{`spec.grants.accounts[0]: Invalid value: "NT AUTHORITY/SYSTEM": must not contain '/'`},
		},
		{
			name: "a built-in account granted as a local group is refused",
			edit: func(e *HostProcessException) { e.Spec.Grants.LocalGroups = []string{SystemAccount} },
			want: []string{"spec.grants.localGroups[0]: Forbidden", "names a built-in account, not a local group"},
		},
		{
			name: "an image pattern with whitespace is refused",
			edit: func(e *HostProcessException) { e.Spec.Grants.Images = []string{"vendor.example/ agent"} },
			want: []string{"spec.grants.images[0]: Invalid value"},
		},
		{
			name: "no expiresAt is refused",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = metav1.Time{} },
			want: []string{"spec.expiresAt: Required value: set when the exception expires"},
		},
		{
			name: "an expiresAt in the past is refused",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = at(-time.Second) },
			want: []string{`spec.expiresAt: Invalid value: "2026-12-08T00:59:59Z": must be in the future (now: 2026-12-08T01:00:00Z)`},
		},
		{
			name: "an expiresAt equal to now is refused: the exception would never apply",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = at(0) },
			want: []string{"spec.expiresAt", "must be in the future"},
		},
		{
			name: "exactly the maximum lifetime is valid",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = at(24 * time.Hour) },
		},
		{
			name: "a second beyond the default maximum lifetime of 24h is refused",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = at(24*time.Hour + time.Second) },
			want: []string{`spec.expiresAt: Invalid value: "2026-12-09T01:00:01Z": must be at most exceptions.maxLifetime (24h0m0s) after the exception's creation, i.e. not after 2026-12-09T01:00:00Z`},
		},
		{
			name: "a configured maxLifetime of 30m refuses one hour",
			cfg:  short,
			edit: func(*HostProcessException) {},
			want: []string{"spec.expiresAt", "exceptions.maxLifetime (30m0s)"},
		},
		{
			name: "an update cannot push expiresAt beyond the maximum lifetime from the creation",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = at(23*time.Hour + time.Minute) },
			change: func(ch *ExceptionChange) {
				ch.Created = now.Add(-time.Hour)
				ch.Old = &HostProcessException{Spec: ExceptionSpec{ExpiresAt: at(time.Hour)}}
			},
			want: []string{"spec.expiresAt", "not after 2026-12-09T00:00:00Z"},
		},
		{
			name: "an update of an expired exception that keeps expiresAt is valid, so that it can be relabelled and deleted",
			edit: func(e *HostProcessException) { e.Spec.ExpiresAt = at(-time.Hour) },
			change: func(ch *ExceptionChange) {
				ch.Created = now.Add(-2 * time.Hour)
				ch.Old = &HostProcessException{Spec: ExceptionSpec{ExpiresAt: at(-time.Hour)}}
			},
		},
		{
			name: "a blank reason is refused",
			edit: func(e *HostProcessException) { e.Spec.Reason = "  " },
			want: []string{"spec.reason: Required value: must not be empty"},
		},
		{
			name: "a ticket with a newline is refused",
			edit: func(e *HostProcessException) { e.Spec.Ticket = "INC-1\nINC-2" },
			want: []string{"spec.ticket: Invalid value", "must not contain control or formatting characters"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			tc.edit(e)
			c := tc.cfg
			if c == nil {
				c = cfg
			}
			ch := ExceptionChange{Now: now, Created: now}
			if tc.change != nil {
				tc.change(&ch)
			}
			errs := ValidateException(e, c, ch)
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
			}
			if len(tc.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("ValidateException = %q, want no errors", got)
				}
				return
			}
			joined := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(joined, w) {
					t.Errorf("ValidateException =\n%s\nwant it to contain %q", joined, w)
				}
			}
		})
	}
}
