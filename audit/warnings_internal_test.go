package audit

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// A pod whose runAsUserName the runtime cannot log on is compliant, and every
// surface of the audit says that it will fail at start: the namespace
// Report's "warn" result, the table and the markdown.
func TestWarningsReachEveryAuditSurface(t *testing.T) {
	p, err := policy.New(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	s := NewScanner(p)
	s.AddNamespace("agents", nil, false)
	s.AddPod(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "agents", Name: "lower", UID: "u1"},
		Spec: corev1.PodSpec{HostNetwork: true, NodeName: "win-1",
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: win(ptr.To(true), ptr.To(`nt authority\system`))},
			Containers:      []corev1.Container{{Name: "agent", Image: "mcr.microsoft.com/a:1"}}},
	})
	res := s.Result()
	const warning = `pod: spec.securityContext.windowsOptions.runAsUserName "nt authority\system" will fail to start on the node: ` +
		`the runtime logs NT AUTHORITY accounts on as services only when the domain is written "NT AUTHORITY" in capitals, ` +
		`and this account cannot log on otherwise; write "NT AUTHORITY\system"`

	reports := namespaceReports(res)
	results := reports["agents"].Results
	if len(results) != 2 || results[0].Result != "pass" || results[1].Result != "warn" ||
		results[1].Rule != RuleWarnings || results[1].Description != warning {
		t.Fatalf("report results: %+v, want a pass and a warn result with the warning", results)
	}
	if sum := reports["agents"].Summary; sum.Pass != 1 || sum.Warn != 1 {
		t.Errorf("summary %+v, want 1 pass and 1 warn", sum)
	}
	for _, format := range []struct{ name, want string }{
		{"table", "\nWarnings:\n  agents/Pod/lower\n    " + warning + "\n"},
		{"markdown", "\n## Warnings\n\n| Namespace | Object | Warning |\n|---|---|---|\n| agents | Pod/lower | " + md(warning) + " |\n"},
	} {
		var b bytes.Buffer
		if err := Write(&b, res, format.name); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), format.want) {
			t.Errorf("%s output lacks %q:\n%s", format.name, format.want, b.String())
		}
	}
}
