package nativepolicy

import (
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// accountSpellings are the lower-case strings a runAsUserName folds to when it
// names the same account as the allowed entry name.
func accountSpellings(name string) []string { return config.AccountSpellings(name) }

// systemSpellings[0] is NT AUTHORITY\SYSTEM folded: the account the
// inherit-user annotation runs every container as.
var systemSpellings = config.AccountSpellings(config.SystemAccount)

// mutating is the defaults policy: nodeSelector kubernetes.io/os=windows and
// the configured tolerations, on CREATE of HostProcess pods, as policy.Default
// does. ok is false when nothing is to be defaulted.
func (g *generator) mutating() (admissionregistrationv1.MutatingAdmissionPolicy, bool) {
	muts, lacks := g.defaultsMutations("object.spec", "'/spec'", "Object.spec.tolerations")
	if len(muts) == 0 {
		return admissionregistrationv1.MutatingAdmissionPolicy{}, false
	}
	m := g.mutatingPolicy(DefaultsPolicy, []admissionregistrationv1.NamedRuleWithOperations{
		rule([]admissionregistrationv1.OperationType{admissionregistrationv1.Create}, "", "pods"),
	}, admissionregistrationv1.MatchCondition{
		Name: "hostprocess-pod", Expression: "has(object.spec) && " + hostProcessOf("object.spec"),
	}, nil, muts)
	// A pod that has every default (as a DaemonSet's pods have) is not
	// mutated at all: the API server skips preparing the patches.
	m.Spec.MatchConditions = append(m.Spec.MatchConditions, admissionregistrationv1.MatchCondition{
		Name: "lacks-defaults", Expression: lacks,
	})
	return m, true
}

// workloadMutating is the policy for defaults.workloadTemplates: the same
// defaults for the pod templates of the workload kinds of policy.Kinds, on
// CREATE (policy.Default for a workload). ok is false when the option is
// off or nothing is to be defaulted.
func (g *generator) workloadMutating() (admissionregistrationv1.MutatingAdmissionPolicy, bool) {
	if !g.cfg.Defaults.WorkloadTemplates {
		return admissionregistrationv1.MutatingAdmissionPolicy{}, false
	}
	// The template's tolerations are written as plain maps: one policy
	// serves every workload kind, whose Object types differ.
	muts, _ := g.defaultsMutations("variables.tmpl.spec", "variables.at", "")
	if len(muts) == 0 {
		return admissionregistrationv1.MutatingAdmissionPolicy{}, false
	}
	tmpl := byResource(func(p string) string { return optional("object", p) }) + ".orValue({})"
	var rules []admissionregistrationv1.NamedRuleWithOperations
	for _, r := range workloadRules() {
		r.Operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Create}
		rules = append(rules, r)
	}
	return g.mutatingPolicy(WorkloadDefaultsPolicy, rules, admissionregistrationv1.MatchCondition{
		Name: "hostprocess-template", Expression: "[" + tmpl + "].exists(t, has(t.spec) && " + hostProcessOf("t.spec") + ")",
	}, []admissionregistrationv1.Variable{
		{Name: "tmpl", Expression: tmpl},
		{Name: "at", Expression: byResource(func(p string) string { return lit("/" + strings.ReplaceAll(p, ".", "/") + "/spec") })},
	}, muts), true
}

func (g *generator) mutatingPolicy(name string, rules []admissionregistrationv1.NamedRuleWithOperations, inScope admissionregistrationv1.MatchCondition,
	vars []admissionregistrationv1.Variable, muts []admissionregistrationv1.Mutation) admissionregistrationv1.MutatingAdmissionPolicy {
	return admissionregistrationv1.MutatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: g.matchResources(rules),
			MatchConditions:  append(g.exemptions(), inScope),
			Variables:        vars,
			FailurePolicy:    failClosed,
			Mutations:        muts,
			// Applied again when a later mutation changes the object; the
			// mutations are idempotent.
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
		},
	}
}

// defaultsMutations are the JSON patches that add the defaults to the pod
// spec at spec (a CEL expression), whose JSON pointer is the CEL string
// expression at. tolerationType is the CEL type tolerations are written as
// ("" for plain maps). lacks is true when one of them has something to add.
func (g *generator) defaultsMutations(spec, at, tolerationType string) (muts []admissionregistrationv1.Mutation, lacks string) {
	d := &g.cfg.Defaults
	var need []string
	jp := func(expr string) admissionregistrationv1.Mutation {
		return admissionregistrationv1.Mutation{PatchType: admissionregistrationv1.PatchTypeJSONPatch, JSONPatch: &admissionregistrationv1.JSONPatch{Expression: expr}}
	}
	if d.NodeSelector == nil || *d.NodeSelector {
		// Added unless scheduling already constrains kubernetes.io/os by
		// nodeSelector or by an expression of a required affinity term; an
		// empty nodeSelector is replaced as a whole (it serializes to nothing).
		constrained := "('kubernetes.io/os' in " + spec + ".?nodeSelector.orValue({})) || " +
			spec + ".?affinity.?nodeAffinity.?requiredDuringSchedulingIgnoredDuringExecution.?nodeSelectorTerms.orValue([]).exists(t, " +
			"t.?matchExpressions.orValue([]).exists(r, r.key == 'kubernetes.io/os'))"
		need = append(need, "!("+constrained+")")
		muts = append(muts, jp(constrained+" ? [] : "+
			"size("+spec+".?nodeSelector.orValue({})) == 0 ? "+
			"[JSONPatch{op: 'add', path: "+at+" + '/nodeSelector', value: {'kubernetes.io/os': 'windows'}}] : "+
			"[JSONPatch{op: 'add', path: "+at+" + '/nodeSelector/' + jsonpatch.escapeKey('kubernetes.io/os'), value: 'windows'}]"))
	}
	if len(d.Tolerations) > 0 {
		all := make([]string, len(d.Tolerations))
		each := make([]string, len(d.Tolerations))
		for i := range d.Tolerations {
			t := &d.Tolerations[i]
			all[i] = tolerationCEL(t, tolerationType)
			each[i] = "(" + hasTolerationCEL(spec, t) + " ? [] : [JSONPatch{op: 'add', path: " + at + " + '/tolerations/-', value: " + all[i] + "}])"
			need = append(need, "!"+hasTolerationCEL(spec, t))
		}
		// With no tolerations at all every configured one is missing and the
		// list is added whole; otherwise each missing one is appended.
		muts = append(muts, jp("size("+spec+".?tolerations.orValue([])) == 0 ? "+
			"[JSONPatch{op: 'add', path: "+at+" + '/tolerations', value: ["+strings.Join(all, ", ")+"]}] : "+
			"("+strings.Join(each, " + ")+")"))
	}
	return muts, strings.Join(need, " || ")
}

// tolerationCEL is a toleration as a CEL object of type typ, or a map when
// typ is "", with the fields the configuration sets (as the Go engine's
// patch has them).
func tolerationCEL(t *corev1.Toleration, typ string) string {
	var f []string
	if t.Key != "" {
		f = append(f, "key: "+lit(t.Key))
	}
	if t.Operator != "" {
		f = append(f, "operator: "+lit(string(t.Operator)))
	}
	if t.Value != "" {
		f = append(f, "value: "+lit(t.Value))
	}
	if t.Effect != "" {
		f = append(f, "effect: "+lit(string(t.Effect)))
	}
	if t.TolerationSeconds != nil {
		f = append(f, "tolerationSeconds: "+strconv.FormatInt(*t.TolerationSeconds, 10))
	}
	if typ == "" {
		for i := range f {
			k, v, _ := strings.Cut(f[i], ": ")
			f[i] = lit(k) + ": " + v
		}
		return "{" + strings.Join(f, ", ") + "}"
	}
	return typ + "{" + strings.Join(f, ", ") + "}"
}

// hasTolerationCEL is true when the pod spec at spec already has t: same key,
// operator (empty meaning Equal), value, effect and tolerationSeconds.
func hasTolerationCEL(spec string, t *corev1.Toleration) string {
	op := string(t.Operator)
	if op == "" {
		op = string(corev1.TolerationOpEqual)
	}
	secs := "!h.?tolerationSeconds.hasValue()"
	if t.TolerationSeconds != nil {
		secs = "h.?tolerationSeconds.orValue(-1) == " + strconv.FormatInt(*t.TolerationSeconds, 10) + " && h.?tolerationSeconds.hasValue()"
	}
	return spec + ".?tolerations.orValue([]).exists(h, h.?key.orValue('') == " + lit(t.Key) +
		" && (h.?operator.orValue('') == '' ? 'Equal' : h.operator) == " + lit(op) +
		" && h.?value.orValue('') == " + lit(t.Value) +
		" && h.?effect.orValue('') == " + lit(string(t.Effect)) +
		" && " + secs + ")"
}
