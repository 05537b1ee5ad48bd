package nativepolicy

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func generate(t *testing.T, mutate func(*config.AdmissionConfiguration), opts Options) *Policies {
	t.Helper()
	cfg := config.Default()
	if mutate != nil {
		mutate(cfg)
	}
	if errs := config.Validate(cfg); len(errs) > 0 {
		t.Fatalf("invalid test config: %v", errs.ToAggregate())
	}
	p, err := Generate(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestModesBecomeValidationActions(t *testing.T) {
	deny := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny, admissionregistrationv1.Audit}
	warn := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn, admissionregistrationv1.Audit}
	audit := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
	for _, tc := range []struct {
		name                 string
		mode, workload       config.Mode
		podActions, wlAction []admissionregistrationv1.ValidationAction
		podMessagePrefix     string
	}{
		{"enforce pods and warn workloads (the defaults) deny pods and warn on workloads", config.ModeEnforce, config.ModeWarn, deny, warn, "'violates the HostProcess policy: '"},
		{"warn pods and enforce workloads warn on pods and deny workloads", config.ModeWarn, config.ModeEnforce, warn, deny, "variables.violations.map(v, 'would violate the HostProcess policy: '"},
		{"audit everywhere only audits", config.ModeAudit, config.ModeAudit, audit, audit, "'violates the HostProcess policy: '"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := generate(t, func(c *config.AdmissionConfiguration) { c.Mode, c.WorkloadMode = tc.mode, tc.workload }, Options{})
			if got := names(p); !slices.Equal(got, []string{PodsPolicy, PodWarningsPolicy, WorkloadsPolicy, WorkloadWarningsPolicy, DefaultsPolicy}) {
				t.Fatalf("policies %v", got)
			}
			warnOnly := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}
			for i, want := range [][]admissionregistrationv1.ValidationAction{tc.podActions, warnOnly, tc.wlAction, warnOnly} {
				b := p.ValidatingBindings[i]
				if b.Spec.PolicyName != p.Validating[i].Name || !slices.Equal(b.Spec.ValidationActions, want) {
					t.Errorf("binding %s: policy %s actions %v, want %v", b.Name, b.Spec.PolicyName, b.Spec.ValidationActions, want)
				}
			}
			vars := p.Validating[0].Spec.Variables
			if msg := vars[len(vars)-1]; msg.Name != "message" || !strings.HasPrefix(msg.Expression, tc.podMessagePrefix) {
				t.Errorf("pod message variable %+v, want an expression starting %q", msg, tc.podMessagePrefix)
			}
			if me := p.Validating[0].Spec.Validations[0].MessageExpression; !strings.HasPrefix(me, "size(bytes(variables.message)) <= 5120 ? variables.message : ") {
				t.Errorf("messageExpression %q does not cut messages over 5 KiB", me)
			}
			if r := p.Validating[0].Spec.Validations[0].Reason; r == nil || *r != metav1.StatusReasonForbidden {
				t.Errorf("reason %v, want Forbidden", r)
			}
		})
	}
}

func names(p *Policies) []string {
	var out []string
	for _, v := range p.Validating {
		out = append(out, v.Name)
	}
	for _, m := range p.Mutating {
		out = append(out, m.Name)
	}
	return out
}

func TestPoliciesMatchEveryPodBearingResource(t *testing.T) {
	p := generate(t, nil, Options{})
	var got []string
	for _, v := range []admissionregistrationv1.ValidatingAdmissionPolicy{p.Validating[0], p.Validating[2]} {
		if w := p.Validating[1].Spec.MatchConstraints; !reflect.DeepEqual(w, p.Validating[0].Spec.MatchConstraints) {
			t.Errorf("the pod warnings policy matches %+v", w)
		}
		if w := p.Validating[3].Spec.MatchConstraints; !reflect.DeepEqual(w, p.Validating[2].Spec.MatchConstraints) {
			t.Errorf("the workload warnings policy matches %+v", w)
		}
		for _, r := range v.Spec.MatchConstraints.ResourceRules {
			if !slices.Equal(r.Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) {
				t.Errorf("%s: operations %v", v.Name, r.Operations)
			}
			for _, res := range r.Resources {
				got = append(got, r.APIGroups[0]+"/"+res)
			}
		}
		if *v.Spec.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("%s: failurePolicy %s", v.Name, *v.Spec.FailurePolicy)
		}
	}
	want := []string{"/pods", "/pods/ephemeralcontainers", "/pods/status", "/pods/binding", "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets",
		"batch/jobs", "batch/cronjobs", "/replicationcontrollers", "/podtemplates"}
	// The order is policy.Kinds' within each group; the set is what counts.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("resources %v, want %v", got, want)
	}
	m := p.Mutating[0].Spec
	if r := m.MatchConstraints.ResourceRules; len(r) != 1 || !slices.Equal(r[0].Resources, []string{"pods"}) ||
		!slices.Equal(r[0].Operations, []admissionregistrationv1.OperationType{"CREATE"}) {
		t.Errorf("mutating policy rules %+v, want CREATE of pods only", r)
	}
	if m.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("reinvocationPolicy %s", m.ReinvocationPolicy)
	}
}

func TestExemptionsAndNamespaceBecomeConditions(t *testing.T) {
	p := generate(t, func(c *config.AdmissionConfiguration) {
		c.Exemptions = config.Exemptions{Namespaces: []string{"kube-system", "ops"}, Usernames: []string{`system:serviceaccount:ops:deployer`}}
	}, Options{Namespace: "hostprocess-system"})
	want := []admissionregistrationv1.MatchCondition{
		{Name: "not-exempt-namespace", Expression: `!(request.namespace in ["kube-system", "ops"])`},
		{Name: "not-exempt-user", Expression: `!(request.userInfo.username in ["system:serviceaccount:ops:deployer"])`},
	}
	for _, mc := range [][]admissionregistrationv1.MatchCondition{p.Validating[0].Spec.MatchConditions, p.Validating[1].Spec.MatchConditions,
		p.Validating[2].Spec.MatchConditions, p.Validating[3].Spec.MatchConditions, p.Mutating[0].Spec.MatchConditions} {
		if !slices.Equal(mc[:2], want) {
			t.Errorf("matchConditions start %v, want %v", mc[:2], want)
		}
	}
	for _, b := range p.ValidatingBindings {
		sel := b.Spec.MatchResources.NamespaceSelector
		if len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Key != "kubernetes.io/metadata.name" ||
			sel.MatchExpressions[0].Operator != metav1.LabelSelectorOpNotIn || !slices.Equal(sel.MatchExpressions[0].Values, []string{"hostprocess-system"}) {
			t.Errorf("binding %s namespaceSelector %+v", b.Name, sel)
		}
	}
}

func TestDefaultsPolicyFollowsTheConfiguration(t *testing.T) {
	p := generate(t, func(c *config.AdmissionConfiguration) { c.Defaults.NodeSelector = new(false) }, Options{})
	if len(p.Mutating) != 0 || len(p.MutatingBindings) != 0 {
		t.Errorf("no defaults configured, got mutating policies %v", names(p))
	}
	p = generate(t, func(c *config.AdmissionConfiguration) {
		c.Defaults.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	}, Options{})
	muts := p.Mutating[0].Spec.Mutations
	if len(muts) != 2 || !strings.Contains(muts[1].JSONPatch.Expression, `Object.spec.tolerations{key: "os", operator: "Equal", value: "windows", effect: "NoSchedule"}`) {
		t.Errorf("mutations %+v", muts)
	}
}

func TestLocalGroupNodeAffinityIsAGap(t *testing.T) {
	p := generate(t, func(c *config.AdmissionConfiguration) {
		c.AllowedLocalGroups = []string{"hpc-agents"}
		c.Defaults.LocalGroupNodeAffinity = true
	}, Options{})
	out, err := Render(p, "header")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "# - defaults.localGroupNodeAffinity is NOT compiled") {
		t.Errorf("the YAML does not say that localGroupNodeAffinity is not compiled:\n%s", out)
	}
}

func TestRenderedYAMLDecodesStrictly(t *testing.T) {
	p := generate(t, func(c *config.AdmissionConfiguration) {
		c.AllowedLocalGroups = []string{"hpc-agents"}
		c.NamespaceRules = []config.NamespaceRule{{Namespaces: []string{"kube-system"}, AllowedImages: []string{"mcr.microsoft.com/*"}},
			{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}}
	}, Options{})
	out, err := Render(p, "header line")
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "\n---\n")
	if !strings.HasPrefix(docs[0], "# header line\n") {
		t.Errorf("header: %q", docs[0])
	}
	var kinds []string
	for _, doc := range docs[1:] {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, tm.Kind)
		var obj any
		switch tm.Kind {
		case "ValidatingAdmissionPolicy":
			obj = &admissionregistrationv1.ValidatingAdmissionPolicy{}
		case "ValidatingAdmissionPolicyBinding":
			obj = &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		case "MutatingAdmissionPolicy":
			obj = &admissionregistrationv1.MutatingAdmissionPolicy{}
		case "MutatingAdmissionPolicyBinding":
			obj = &admissionregistrationv1.MutatingAdmissionPolicyBinding{}
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: %v", tm.Kind, err)
		}
	}
	vap := []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
	want := slices.Concat(vap, vap, vap, vap, []string{"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"})
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
}

func TestImageRegexpMatchesLikeThePolicy(t *testing.T) {
	// The cases of policy.TestImagePattern.
	for _, tc := range []struct {
		pattern, image string
		want           bool
	}{
		{"mcr.microsoft.com/*", "mcr.microsoft.com/a/b/c:1", true},
		{"mcr.microsoft.com/*", "mcr.microsoft.com/", true},
		{"mcr.microsoft.com/*", "mcr.microsoft.com", false},
		{"exact:v1", "exact:v1", true},
		{"exact:v1", "exact:v1x", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false},
		{"a*bc*bc", "abcbc", true},
		{"a*bc*bc", "abc", false},
		{"*", "", true},
		{"*:v1", "anything/at:v1", true},
		{"mcr.microsoft.com/*", "mcrXmicrosoft.com/a", false},
		{"a*", "a\nb", true},
	} {
		if got := regexp.MustCompile(imageRegexp(tc.pattern)).MatchString(tc.image); got != tc.want {
			t.Errorf("pattern %q match %q = %v, want %v", tc.pattern, tc.image, got, tc.want)
		}
	}
}

func TestSelectorTreatsTheNameLabelAsTheNamespaceName(t *testing.T) {
	got := selectorCEL(&metav1.LabelSelector{
		MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ops", "tier": "agents"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
			{Key: "zone", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a"}},
		},
	})
	want := `(((request.namespace != '') && request.namespace == "ops") && (("tier" in variables.nsLabels) && variables.nsLabels["tier"] == "agents") && ` +
		`!("legacy" in variables.nsLabels) && (!("zone" in variables.nsLabels) || !(variables.nsLabels["zone"] in ["a"])))`
	if got != want {
		t.Errorf("selectorCEL:\ngot  %s\nwant %s", got, want)
	}
	if got := selectorCEL(&metav1.LabelSelector{}); got != "true" {
		t.Errorf("empty selector: %s", got)
	}
}

// TestEveryRuleHasACELBuilder fails when a rule of policy.RuleTable has no
// CEL builder in the native policies, or a builder has no rule.
func TestEveryRuleHasACELBuilder(t *testing.T) {
	seen := map[string]bool{}
	for _, id := range policy.Rules {
		if _, ok := ruleBuilders[id]; !ok {
			t.Errorf("rule %s has no CEL builder in ruleBuilders (nativepolicy/rules.go, nativepolicy/rule_<id>.go)", id)
		}
		seen[id] = true
	}
	for id := range ruleBuilders {
		if !seen[id] {
			t.Errorf("ruleBuilders has %s, which is not a rule of policy.RuleTable", id)
		}
	}
}
