package nativepolicy

import (
	"reflect"
	"testing"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// TestStaticPoliciesAreTheSamePoliciesRenamed: the static manifests differ
// from the API-based policies, which the differential test checks against
// the webhook, only by their names (and the guard policy): what holds for
// one holds for the other.
func TestStaticPoliciesAreTheSamePoliciesRenamed(t *testing.T) {
	p := generate(t, func(c *config.AdmissionConfiguration) { c.Defaults.WorkloadTemplates = true }, Options{Namespace: "hp-system"})
	s := Static(p, StaticOptions{Users: []string{"a"}, WebhookConfigurations: []string{"hostprocess-admission"}})
	if len(s.Validating) != len(p.Validating)+1 || len(s.Mutating) != len(p.Mutating) {
		t.Fatalf("%d validating and %d mutating static policies for %d and %d", len(s.Validating), len(s.Mutating), len(p.Validating), len(p.Mutating))
	}
	if g := s.Validating[len(s.Validating)-1].Name; g != GuardPolicy {
		t.Errorf("last validating policy %s, want the guard", g)
	}
	for i := range p.Validating {
		got, b := s.Validating[i].DeepCopy(), s.ValidatingBindings[i].DeepCopy()
		if got.Name != p.Validating[i].Name+StaticSuffix || b.Name != got.Name || b.Spec.PolicyName != got.Name {
			t.Errorf("names %s, %s -> %s for %s", got.Name, b.Name, b.Spec.PolicyName, p.Validating[i].Name)
		}
		got.Name, b.Name, b.Spec.PolicyName = p.Validating[i].Name, p.ValidatingBindings[i].Name, p.ValidatingBindings[i].Spec.PolicyName
		if !reflect.DeepEqual(got, &p.Validating[i]) || !reflect.DeepEqual(b, &p.ValidatingBindings[i]) {
			t.Errorf("static %s differs from the API-based one beyond its name", p.Validating[i].Name)
		}
	}
	for i := range p.Mutating {
		got, b := s.Mutating[i].DeepCopy(), s.MutatingBindings[i].DeepCopy()
		if got.Name != p.Mutating[i].Name+StaticSuffix || b.Spec.PolicyName != got.Name {
			t.Errorf("names %s -> %s for %s", got.Name, b.Spec.PolicyName, p.Mutating[i].Name)
		}
		got.Name, b.Name, b.Spec.PolicyName = p.Mutating[i].Name, p.MutatingBindings[i].Name, p.MutatingBindings[i].Spec.PolicyName
		if !reflect.DeepEqual(got, &p.Mutating[i]) || !reflect.DeepEqual(b, &p.MutatingBindings[i]) {
			t.Errorf("static %s differs from the API-based one beyond its name", p.Mutating[i].Name)
		}
	}
}
