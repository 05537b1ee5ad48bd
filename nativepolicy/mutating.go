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
	d := &g.cfg.Defaults
	var muts []admissionregistrationv1.Mutation
	jp := func(expr string) admissionregistrationv1.Mutation {
		return admissionregistrationv1.Mutation{PatchType: admissionregistrationv1.PatchTypeJSONPatch, JSONPatch: &admissionregistrationv1.JSONPatch{Expression: expr}}
	}
	if d.NodeSelector == nil || *d.NodeSelector {
		// Added unless scheduling already constrains kubernetes.io/os by
		// nodeSelector or by an expression of a required affinity term; an
		// empty nodeSelector is replaced as a whole (it serializes to nothing).
		muts = append(muts, jp("('kubernetes.io/os' in object.spec.?nodeSelector.orValue({})) || "+
			"object.spec.?affinity.?nodeAffinity.?requiredDuringSchedulingIgnoredDuringExecution.?nodeSelectorTerms.orValue([]).exists(t, "+
			"t.?matchExpressions.orValue([]).exists(r, r.key == 'kubernetes.io/os')) ? [] : "+
			"size(object.spec.?nodeSelector.orValue({})) == 0 ? "+
			"[JSONPatch{op: 'add', path: '/spec/nodeSelector', value: {'kubernetes.io/os': 'windows'}}] : "+
			"[JSONPatch{op: 'add', path: '/spec/nodeSelector/' + jsonpatch.escapeKey('kubernetes.io/os'), value: 'windows'}]"))
	}
	if len(d.Tolerations) > 0 {
		all := make([]string, len(d.Tolerations))
		each := make([]string, len(d.Tolerations))
		for i := range d.Tolerations {
			t := &d.Tolerations[i]
			all[i] = tolerationCEL(t)
			each[i] = "(" + hasTolerationCEL(t) + " ? [] : [JSONPatch{op: 'add', path: '/spec/tolerations/-', value: " + all[i] + "}])"
		}
		// With no tolerations at all every configured one is missing and the
		// list is added whole; otherwise each missing one is appended.
		muts = append(muts, jp("size(object.spec.?tolerations.orValue([])) == 0 ? "+
			"[JSONPatch{op: 'add', path: '/spec/tolerations', value: ["+strings.Join(all, ", ")+"]}] : "+
			"("+strings.Join(each, " + ")+")"))
	}
	if len(muts) == 0 {
		return admissionregistrationv1.MutatingAdmissionPolicy{}, false
	}
	return admissionregistrationv1.MutatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: DefaultsPolicy},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: g.matchResources([]admissionregistrationv1.NamedRuleWithOperations{
				rule([]admissionregistrationv1.OperationType{admissionregistrationv1.Create}, "", "pods"),
			}),
			MatchConditions: append(g.exemptions(), admissionregistrationv1.MatchCondition{
				Name: "hostprocess-pod", Expression: "has(object.spec) && " + hostProcessOf("object.spec"),
			}),
			FailurePolicy: failClosed,
			Mutations:     muts,
			// Applied again when a later mutation changes the pod; the
			// mutations are idempotent.
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
		},
	}, true
}

// tolerationCEL is a toleration as a CEL object, with the fields the
// configuration sets (as the Go engine's patch has them).
func tolerationCEL(t *corev1.Toleration) string {
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
	return "Object.spec.tolerations{" + strings.Join(f, ", ") + "}"
}

// hasTolerationCEL is true when the pod already has t: same key, operator
// (empty meaning Equal), value, effect and tolerationSeconds.
func hasTolerationCEL(t *corev1.Toleration) string {
	op := string(t.Operator)
	if op == "" {
		op = string(corev1.TolerationOpEqual)
	}
	secs := "!h.?tolerationSeconds.hasValue()"
	if t.TolerationSeconds != nil {
		secs = "h.?tolerationSeconds.orValue(-1) == " + strconv.FormatInt(*t.TolerationSeconds, 10) + " && h.?tolerationSeconds.hasValue()"
	}
	return "object.spec.?tolerations.orValue([]).exists(h, h.?key.orValue('') == " + lit(t.Key) +
		" && (h.?operator.orValue('') == '' ? 'Equal' : h.operator) == " + lit(op) +
		" && h.?value.orValue('') == " + lit(t.Value) +
		" && h.?effect.orValue('') == " + lit(string(t.Effect)) +
		" && " + secs + ")"
}
