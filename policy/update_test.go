package policy

import (
	"reflect"
	"testing"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

func TestIntroduced(t *testing.T) {
	podUser := Violation{Rule: RuleInheritUser, Container: PodTarget, Field: "metadata.annotations[" + InheritUserAnnotation + "]", Message: "pod: a"}
	imageA := Violation{Rule: RuleImage, Container: "app", Field: "spec.containers[0].image", Message: `container "app": image "a" is not allowed`}
	imageB := Violation{Rule: RuleImage, Container: "app", Field: "spec.containers[0].image", Message: `container "app": image "b" is not allowed`}
	for _, tc := range []struct {
		name           string
		before, after  []Violation
		addsContainers bool
		want           []Violation
	}{
		{name: "a violation the pod already had does not count", before: []Violation{imageA}, after: []Violation{imageA}},
		{name: "removing a violation leaves nothing", before: []Violation{imageA, podUser}, after: []Violation{podUser}},
		{name: "another disallowed image is a new violation", before: []Violation{imageA}, after: []Violation{imageB}, want: []Violation{imageB}},
		{name: "a new violation counts, an old one does not", before: []Violation{imageA}, after: []Violation{imageA, podUser}, want: []Violation{podUser}},
		{name: "without a before, every violation counts", after: []Violation{imageA, podUser}, want: []Violation{imageA, podUser}},
		{name: "added containers run under the pod's own violations", before: []Violation{imageA, podUser}, after: []Violation{imageA, podUser},
			addsContainers: true, want: []Violation{podUser}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Introduced(tc.before, tc.after, tc.addsContainers); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEvaluateBinding(t *testing.T) {
	cfg := config.Default()
	cfg.NamespaceRules = []config.NamespaceRule{
		{Namespaces: []string{"services"}, AllowedUsers: []string{`NT AUTHORITY\Local service`}},
		{Namespaces: []string{"kube-system"}},
	}
	if errs := config.Validate(cfg); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inherit := map[string]string{InheritUserAnnotation: "true"}
	for _, tc := range []struct {
		name, ns    string
		annotations map[string]string
		want        []Violation
	}{
		{name: "inherit-user where SYSTEM is not allowed", ns: "services", annotations: inherit, want: []Violation{{
			Rule: RuleInheritUser, Container: PodTarget, Field: "metadata.annotations[" + InheritUserAnnotation + "]",
			Message: `pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)`,
		}}},
		{name: "inherit-user where SYSTEM is allowed", ns: "kube-system", annotations: inherit},
		{name: "a value that is not true", ns: "services", annotations: map[string]string{InheritUserAnnotation: "no"}},
		{name: "no annotations", ns: "services"},
		{name: "the rootfs annotation changes no account", ns: "services", annotations: map[string]string{RootfsLocationAnnotation: `C:\x`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.EvaluateBinding(Namespace{Name: tc.ns}, tc.annotations).Violations; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
