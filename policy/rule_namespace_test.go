package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

func namespaceRules(c *config.AdmissionConfiguration) {
	c.AllowedLocalGroups = []string{"hpc-agents"}
	c.NamespaceRules = []config.NamespaceRule{{
		Namespaces:   []string{"kube-system"},
		AllowedUsers: []string{system},
	}, {
		NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"hostprocess.dev/allowed": "true"}},
		AllowedUsers:       []string{},
		AllowedLocalGroups: []string{"hpc-agents"},
	}}
}

func TestNamespace(t *testing.T) {
	const nsAllowed = "(allowed: kube-system, namespaces with labels hostprocess.dev/allowed=true)"
	const userField = "{spec}.securityContext.windowsOptions.runAsUserName"
	inNS := func(name string, labels map[string]string) *Namespace { return &Namespace{Name: name, Labels: labels} }
	runAs := func(user string) func(p *corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.SecurityContext.WindowsOptions.RunAsUserName = &user }
	}
	runPods(t, []podCase{{
		name:      "a HostProcess pod in a namespace no rule matches is denied",
		config:    namespaceRules,
		namespace: inNS("default", nil),
		pod:       runAs(system),
		want: []want{{RuleNamespace, "pod", "metadata.namespace",
			`pod: namespace "default" is not allowed to run HostProcess pods ` + nsAllowed}},
	}, {
		name:      "a namespace matched by name applies its narrower users and keeps the top-level groups it does not set",
		config:    namespaceRules,
		namespace: inNS("kube-system", nil),
		pod:       runAs(localService),
		want: []want{{RuleRunAsUserName, "pod", userField,
			`pod: ` + userField + ` "NT AUTHORITY\Local service" is not allowed (allowed: NT AUTHORITY\SYSTEM, hpc-agents)`}},
	}, {
		name:      "a namespace matched by name admits its users",
		config:    namespaceRules,
		namespace: inNS("kube-system", nil),
		pod:       runAs(system),
	}, {
		name:      "a namespace matched by label admits its local group",
		config:    namespaceRules,
		namespace: inNS("agents", map[string]string{"hostprocess.dev/allowed": "true"}),
		pod:       runAs("hpc-agents"),
	}, {
		name:      "a namespace matched by label applies its rule's users, not the top-level ones",
		config:    namespaceRules,
		namespace: inNS("agents", map[string]string{"hostprocess.dev/allowed": "true"}),
		pod:       runAs(system),
		want: []want{{RuleRunAsUserName, "pod", userField,
			`pod: ` + userField + ` "NT AUTHORITY\SYSTEM" is not allowed (allowed: hpc-agents)`}},
	}, {
		name:      "a namespace whose label value differs is denied",
		config:    namespaceRules,
		namespace: inNS("agents", map[string]string{"hostprocess.dev/allowed": "false"}),
		pod:       runAs(system),
		want: []want{{RuleNamespace, "pod", "metadata.namespace",
			`pod: namespace "agents" is not allowed to run HostProcess pods ` + nsAllowed}},
	}, {
		name: "a forged kubernetes.io/metadata.name label does not match a name selector",
		config: func(c *config.AdmissionConfiguration) {
			c.NamespaceRules = []config.NamespaceRule{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{NamespaceNameLabel: "kube-system"}}}}
		},
		namespace: inNS("evil", map[string]string{NamespaceNameLabel: "kube-system"}),
		pod:       runAs(system),
		want: []want{{RuleNamespace, "pod", "metadata.namespace",
			`pod: namespace "evil" is not allowed to run HostProcess pods (allowed: namespaces with labels kubernetes.io/metadata.name=kube-system)`}},
	}, {
		name: "the kubernetes.io/metadata.name label matches by name even when labels are unknown",
		config: func(c *config.AdmissionConfiguration) {
			c.NamespaceRules = []config.NamespaceRule{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{NamespaceNameLabel: "kube-system"}}}}
		},
		namespace: inNS("kube-system", nil),
		pod:       runAs(system),
	}, {
		name: "the first matching rule applies",
		config: func(c *config.AdmissionConfiguration) {
			c.NamespaceRules = []config.NamespaceRule{
				{Namespaces: []string{"kube-system"}, AllowedUsers: []string{localService}},
				{Namespaces: []string{"kube-system"}, AllowedUsers: []string{system}},
			}
		},
		namespace: inNS("kube-system", nil),
		pod:       runAs(system),
		want: []want{{RuleRunAsUserName, "pod", userField,
			`pod: ` + userField + ` "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\Local service)`}},
	}})
}

func TestNeedsNamespaceLabels(t *testing.T) {
	if mustPolicy(t, nil).NeedsNamespaceLabels() {
		t.Error("a policy without rules needs no labels")
	}
	if !mustPolicy(t, namespaceRules).NeedsNamespaceLabels() {
		t.Error("a policy with a selector rule needs labels")
	}
}
