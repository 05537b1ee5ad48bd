package cmd

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestExceptionPrintsAValidException(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 500, time.UTC)
	var out bytes.Buffer
	o := &exceptionOptions{
		namespaces: []string{"ops"}, accounts: []string{`NT AUTHORITY\SYSTEM`}, namePrefix: "node-debugger-",
		selector: "app=debug", lifetime: time.Hour, reason: "debug node win-1", ticket: "INC-1234",
	}
	if err := runException(&out, o, now); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: hostprocess.dev/v1alpha1
kind: HostProcessException
metadata:
  name: break-glass-ops-20261208-010000
spec:
  expiresAt: "2026-12-08T02:00:00Z"
  grants:
    accounts:
    - NT AUTHORITY\SYSTEM
  namespaces:
  - ops
  pods:
    namePrefix: node-debugger-
    selector:
      matchLabels:
        app: debug
  reason: debug node win-1
  ticket: INC-1234
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestExceptionRefusesWhatTheWebhookWouldRefuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    exceptionOptions
		want string
	}{{
		name: "longer than the default maxLifetime",
		o:    exceptionOptions{namespaces: []string{"ops"}, accounts: []string{`NT AUTHORITY\SYSTEM`}, lifetime: 25 * time.Hour, reason: "r"},
		want: `the exception would be refused: spec.expiresAt: Invalid value: "2026-12-09T02:00:00Z": must be at most exceptions.maxLifetime (24h0m0s) after the exception's creation, i.e. not after 2026-12-09T01:00:00Z`,
	}, {
		name: "no reason",
		o:    exceptionOptions{namespaces: []string{"ops"}, accounts: []string{`NT AUTHORITY\SYSTEM`}, lifetime: time.Hour},
		want: `the exception would be refused: spec.reason: Required value: must not be empty`,
	}, {
		name: "no namespace",
		o:    exceptionOptions{accounts: []string{`NT AUTHORITY\SYSTEM`}, lifetime: time.Hour, reason: "r"},
		want: `the exception would be refused: spec.namespaces: Required value: list the namespaces the exception applies in`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := runException(&bytes.Buffer{}, &tc.o, time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC))
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 2 || err.Error() != tc.want {
				t.Fatalf("error %v, want exit code 2 with %q", err, tc.want)
			}
		})
	}
}
