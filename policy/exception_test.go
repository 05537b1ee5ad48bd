package policy

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

func TestEvaluateWithExceptions(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	expires := now.Add(time.Hour)
	exception := func(name string, edit func(*config.ExceptionSpec)) *config.HostProcessException {
		e := &config.HostProcessException{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: config.ExceptionSpec{
				Namespaces: []string{"ops"},
				Grants:     config.ExceptionGrants{Accounts: []string{system}},
				ExpiresAt:  metav1.NewTime(expires),
				Reason:     "node debugging",
			},
		}
		if edit != nil {
			edit(&e.Spec)
		}
		return e
	}
	// The configuration allows only Local service, and in namespace ops
	// images from mcr.microsoft.com only.
	cfg := config.Default()
	cfg.AllowedUsers = []string{localService}
	cfg.NamespaceRules = []config.NamespaceRule{
		{Namespaces: []string{"ops"}, AllowedImages: []string{"mcr.microsoft.com/*"}},
		{Namespaces: []string{"kube-system"}},
	}
	// pod runs as SYSTEM in ops, named node-debugger-x, service account
	// debugger, labelled app=debug.
	pod := func(edit func(*Input)) Input {
		p := validPod()
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(system)
		p.Spec.ServiceAccountName = "debugger"
		in := Input{Namespace: Namespace{Name: "ops"}, Spec: &p.Spec, Name: "node-debugger-x", Labels: map[string]string{"app": "debug"}}
		if edit != nil {
			edit(&in)
		}
		return in
	}
	systemDenied := `pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\Local service)`
	tests := []struct {
		name       string
		in         Input
		exceptions []*config.HostProcessException
		at         time.Time
		// want are the violations' messages; applied the exceptions named.
		want    []string
		applied []string
		// expired are the expired exceptions that would spare the pod.
		expired []string
	}{
		{
			name: "without exceptions a SYSTEM pod is denied",
			in:   pod(nil),
			want: []string{systemDenied},
		},
		{
			name:       "an active exception granting SYSTEM in the namespace admits the pod and is named",
			in:         pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			applied:    []string{"debug"},
		},
		{
			name:       "an exception one second before its expiry still applies",
			in:         pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			at:         expires.Add(-time.Second),
			applied:    []string{"debug"},
		},
		{
			name:       "an exception at its expiresAt no longer applies: only while now is before it",
			in:         pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			at:         expires,
			want:       []string{systemDenied},
			expired:    []string{"debug"},
		},
		{
			name:       "an expired exception that would spare the pod is named as expired",
			in:         pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			at:         expires.Add(time.Minute),
			want:       []string{systemDenied},
			expired:    []string{"debug"},
		},
		{
			name:       "an exception for another namespace does not apply",
			in:         pod(func(in *Input) { in.Namespace.Name = "kube-system" }),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			want:       []string{systemDenied},
		},
		{
			name: "a matching name prefix, service account and label selector select the pod",
			in:   pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", func(s *config.ExceptionSpec) {
				s.Pods = &config.ExceptionPods{NamePrefix: "node-debugger-", ServiceAccountName: "debugger",
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "debug"}}}
			})},
			applied: []string{"debug"},
		},
		{
			name: "another name prefix does not select the pod",
			in:   pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", func(s *config.ExceptionSpec) {
				s.Pods = &config.ExceptionPods{NamePrefix: "agent-"}
			})},
			want: []string{systemDenied},
		},
		{
			name: "another service account does not select the pod",
			in:   pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", func(s *config.ExceptionSpec) {
				s.Pods = &config.ExceptionPods{ServiceAccountName: "default"}
			})},
			want: []string{systemDenied},
		},
		{
			name: "a service account of default selects a pod that names none",
			in:   pod(func(in *Input) { in.Spec.ServiceAccountName = "" }),
			exceptions: []*config.HostProcessException{exception("debug", func(s *config.ExceptionSpec) {
				s.Pods = &config.ExceptionPods{ServiceAccountName: "default"}
			})},
			applied: []string{"debug"},
		},
		{
			name: "labels the selector does not match do not select the pod",
			in:   pod(nil),
			exceptions: []*config.HostProcessException{exception("debug", func(s *config.ExceptionSpec) {
				s.Pods = &config.ExceptionPods{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}}
			})},
			want: []string{systemDenied},
		},
		{
			name: "an exception that grants only another account spares nothing and is not named",
			in:   pod(nil),
			exceptions: []*config.HostProcessException{exception("other", func(s *config.ExceptionSpec) {
				s.Grants.Accounts = []string{`NT AUTHORITY\NetworkService`}
			})},
			want: []string{systemDenied},
		},
		{
			name:       "an exception never relaxes hostNetwork: the granted account is allowed, hostNetwork still denied",
			in:         pod(func(in *Input) { in.Spec.HostNetwork = false }),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			want:       []string{"pod: spec.hostNetwork is false (allowed: true)"},
			applied:    []string{"debug"},
		},
		{
			name: "an exception never relaxes runAsNonRoot",
			in: pod(func(in *Input) {
				in.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
			}),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			want:       []string{"pod: spec.securityContext.runAsNonRoot is true (allowed: unset or false)"},
			applied:    []string{"debug"},
		},
		{
			name: "an exception never relaxes windowsOS",
			in: pod(func(in *Input) {
				in.Spec.OS = &corev1.PodOS{Name: corev1.Linux}
			}),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			want:       []string{`pod: spec.os.name "linux" is not allowed (allowed: windows)`},
			applied:    []string{"debug"},
		},
		{
			name: "an exception never relaxes hostProcessMixed",
			in: pod(func(in *Input) {
				in.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(false)}}
			}),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
			want:       []string{`container "app": securityContext.windowsOptions.hostProcess is false (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)`},
			applied:    []string{"debug"},
		},
		{
			name: "a granted image pattern admits an image the namespace rule does not list",
			in: pod(func(in *Input) {
				in.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(localService)
				in.Spec.Containers[0].Image = "vendor.example/agent:1"
			}),
			exceptions: []*config.HostProcessException{exception("vendor", func(s *config.ExceptionSpec) {
				s.Grants = config.ExceptionGrants{Images: []string{"vendor.example/*"}}
			})},
			applied: []string{"vendor"},
		},
		{
			name: "a granted local group admits a pod running as that group",
			in: pod(func(in *Input) {
				in.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("vendor-agents")
			}),
			exceptions: []*config.HostProcessException{exception("vendor", func(s *config.ExceptionSpec) {
				s.Grants = config.ExceptionGrants{LocalGroups: []string{"vendor-agents"}}
			})},
			applied: []string{"vendor"},
		},
		{
			name: "the inherit-user grant admits the annotation without allowing SYSTEM as runAsUserName",
			in: pod(func(in *Input) {
				in.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(localService)
				in.Annotations = map[string]string{InheritUserAnnotation: "true"}
			}),
			exceptions: []*config.HostProcessException{exception("inherit", func(s *config.ExceptionSpec) {
				s.Grants = config.ExceptionGrants{InheritUser: true}
			})},
			applied: []string{"inherit"},
		},
		{
			name: "two exceptions that each grant part are both named, in name order",
			in: pod(func(in *Input) {
				in.Spec.Containers[0].Image = "vendor.example/agent:1"
			}),
			exceptions: []*config.HostProcessException{
				exception("z-images", func(s *config.ExceptionSpec) { s.Grants = config.ExceptionGrants{Images: []string{"vendor.example/*"}} }),
				exception("a-system", nil),
			},
			applied: []string{"a-system", "z-images"},
		},
		{
			name:       "a namespace no rule matches is lifted by an exception that selects it",
			in:         pod(func(in *Input) { in.Namespace.Name = "default" }),
			exceptions: []*config.HostProcessException{exception("debug", func(s *config.ExceptionSpec) { s.Namespaces = []string{"default"} })},
			applied:    []string{"debug"},
		},
		{
			name: "a valid pod is not said to be under an exception that selects it",
			in: pod(func(in *Input) {
				in.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(localService)
			}),
			exceptions: []*config.HostProcessException{exception("debug", nil)},
		},
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var xs []*Exception
			for _, e := range tc.exceptions {
				x, err := CompileException(e)
				if err != nil {
					t.Fatal(err)
				}
				xs = append(xs, x)
			}
			at := tc.at
			if at.IsZero() {
				at = now
			}
			res := p.EvaluateWithExceptions(tc.in, xs, at)
			var got []string
			for _, v := range res.Violations {
				got = append(got, v.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("violations:\n got %q\nwant %q", got, tc.want)
			}
			var names []string
			for _, a := range res.Exceptions {
				names = append(names, a.Name)
				if !a.ExpiresAt.Equal(expires) {
					t.Errorf("exception %s expires at %s, want %s", a.Name, a.ExpiresAt, expires)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.applied, ",") {
				t.Errorf("exceptions: got %q, want %q", names, tc.applied)
			}
			var expired []string
			for _, a := range res.ExpiredExceptions {
				expired = append(expired, a.Name)
			}
			if strings.Join(expired, ",") != strings.Join(tc.expired, ",") {
				t.Errorf("expired exceptions: got %q, want %q", expired, tc.expired)
			}
		})
	}
}

func TestDecideNamesTheExceptionAndItsExpiry(t *testing.T) {
	res := &Result{HostProcess: true, Exceptions: []AppliedException{{Name: "debug", ExpiresAt: time.Date(2026, 12, 8, 2, 0, 0, 0, time.FixedZone("CET", 3600))}}}
	want := `admitted under HostProcessException "debug", which expires at 2026-12-08T01:00:00Z`
	for _, mode := range []config.Mode{config.ModeEnforce, config.ModeWarn, config.ModeAudit} {
		d := Decide(res, mode)
		if !d.Allowed || len(d.Warnings) != 1 || d.Warnings[0] != want {
			t.Errorf("Decide under %s = %+v, want allowed with warning %q", mode, d, want)
		}
	}
	res.Violations = []Violation{{Rule: RuleHostNetwork, Message: "pod: spec.hostNetwork must be true for a HostProcess pod"}}
	if d := Decide(res, config.ModeEnforce); d.Allowed || len(d.Warnings) != 0 {
		t.Errorf("a denial says nothing of the exception: %+v", d)
	}
	if d := Decide(res, config.ModeWarn); len(d.Warnings) != 2 || d.Warnings[1] != want {
		t.Errorf("under warn the exception's warning follows the violations: %+v", d)
	}
}

func TestStoredExceptionsThatTheValidationWouldRefuseGrantNothing(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	e := &config.HostProcessException{
		ObjectMeta: metav1.ObjectMeta{Name: "admins", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec: config.ExceptionSpec{
			Namespaces: []string{"ops"},
			Grants:     config.ExceptionGrants{LocalGroups: []string{`BUILTIN\Administrators`}},
			ExpiresAt:  metav1.NewTime(now.Add(time.Hour)),
			Reason:     "r",
		},
	}
	_, err := CompileException(e)
	want := `HostProcessException admins: spec.grants.localGroups[0]: Forbidden: "BUILTIN\\Administrators" names the built-in group Administrators (S-1-5-32-544), which has administrative rights`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("CompileException error %v, want %q...", err, want)
	}

	// An exception that lasts longer than maxLifetime from its creation
	// (stored before maxLifetime was shortened) never applies.
	e.Spec.Grants = config.ExceptionGrants{Accounts: []string{system}}
	x, err := CompileException(e)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.AllowedUsers = []string{localService}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod := validPod()
	pod.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(system)
	in := Input{Namespace: Namespace{Name: "ops"}, Spec: &pod.Spec, Name: "agent"}
	if res := p.EvaluateWithExceptions(in, []*Exception{x}, now); len(res.Exceptions) != 1 {
		t.Fatalf("a two-hour exception under the default 24h does not apply: %+v", res)
	}
	cfg.Exceptions.MaxLifetime = &metav1.Duration{Duration: 90 * time.Minute}
	if p, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if res := p.EvaluateWithExceptions(in, []*Exception{x}, now); len(res.Exceptions) != 0 || len(res.Violations) != 1 {
		t.Fatalf("a two-hour exception under maxLifetime 90m applies: %+v", res)
	}
}
