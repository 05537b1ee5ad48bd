package policy

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestPrivilegedIsAWarningNotAViolation(t *testing.T) {
	p := mustPolicy(t, nil)
	pod := validPod()
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	res := p.Evaluate(Input{Namespace: Namespace{Name: "kube-system"}, Spec: &pod.Spec})
	assertViolations(t, res.Violations, nil)
	want := []string{`container "app": securityContext.privileged is ignored for HostProcess containers`}
	if !reflect.DeepEqual(res.Warnings, want) {
		t.Fatalf("warnings = %q, want %q", res.Warnings, want)
	}
}

func TestExtractWithoutTemplate(t *testing.T) {
	tmpl, err := Extract(&corev1.ReplicationController{})
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Spec != nil {
		t.Fatal("a ReplicationController without a template has no pod spec")
	}
	if res := mustPolicy(t, nil).Evaluate(Input{Spec: tmpl.Spec}); res.HostProcess || len(res.Violations) != 0 {
		t.Fatalf("got %+v, want an empty result", res)
	}
	if _, err := Extract(&corev1.Service{}); err == nil || err.Error() != "no pod spec in *v1.Service" {
		t.Fatalf("Extract(Service) error = %v", err)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		`NT AUTHORITY\SYSTEM`: `"NT AUTHORITY\SYSTEM"`,
		"a\x00b":              `"a\x00b"`,
		`say "hi"`:            `"say \"hi\""`,
		"\u202eevil":          `"\u202eevil"`,
		"\xff":                `"\xff"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
