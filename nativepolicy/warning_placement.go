package nativepolicy

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// placementCEL is policy/warning_placement.go: a HostProcess DaemonSet's
// template gets a warning for each default its pods would still need (a
// toleration of defaults.tolerations it does not tolerate; a
// kubernetes.io/os constraint, when defaults.nodeSelector is on). The
// messages are policy's own, written at generation time: the template's
// path is the DaemonSet's. warns is true when there is one; warnings lists
// them. Both are "false" and "[]" for Pods and when nothing is defaulted.
func (g *generator) placementCEL(t target) (warns, warnings string) {
	ds := policy.KindFor(schema.GroupKind{Group: "apps", Kind: "DaemonSet"})
	d := &g.cfg.Defaults
	if !t.workload || ds == nil {
		return "false", "[]"
	}
	path := ds.SpecPath()
	var conds, items []string
	for i := range d.Tolerations {
		want := &d.Tolerations[i]
		c := "!variables.spec.?tolerations.orValue([]).exists(h, " + toleratesCEL("h", want) + ")"
		conds = append(conds, c)
		items = append(items, "("+c+" ? ["+lit(policy.PlacementTolerationWarning(path, want))+"] : [])")
	}
	if d.NodeSelector == nil || *d.NodeSelector {
		c := "!(" + lit(policy.OSLabel) + " in variables.spec.?nodeSelector.orValue({})) && " +
			"!variables.spec.?affinity.?nodeAffinity.?requiredDuringSchedulingIgnoredDuringExecution.?nodeSelectorTerms.orValue([]).exists(t, " +
			"t.?matchExpressions.orValue([]).exists(r, r.key == " + lit(policy.OSLabel) + "))"
		conds = append(conds, c)
		items = append(items, "("+c+" ? ["+lit(policy.PlacementNodeSelectorWarning(path))+"] : [])")
	}
	if len(conds) == 0 {
		return "false", "[]"
	}
	daemonSet := "request.resource.resource == " + lit(ds.Resource)
	return "(" + daemonSet + " && (" + strings.Join(conds, " || ") + "))",
		"(" + daemonSet + " ? " + strings.Join(items, " + ") + " : [])"
}

// toleratesCEL is true when the toleration h (a CEL variable) tolerates
// every taint want tolerates, as policy's toleratesDefault decides: the
// same effect or none, the same key or none, and operator Exists, or Equal
// (the empty operator) with a key and want's value when want is Equal too.
func toleratesCEL(h string, want *corev1.Toleration) string {
	wantEqual := "false"
	if want.Operator == "" || want.Operator == corev1.TolerationOpEqual {
		wantEqual = "true"
	}
	op := "(" + h + ".?operator.orValue('') == '' ? 'Equal' : " + h + ".operator)"
	return "(" + h + ".?effect.orValue('') == '' || " + h + ".?effect.orValue('') == " + lit(string(want.Effect)) + ") && " +
		"(" + h + ".?key.orValue('') == '' || " + h + ".?key.orValue('') == " + lit(want.Key) + ") && " +
		"(" + op + " == 'Exists' || (" + op + " == 'Equal' && " + h + ".?key.orValue('') != '' && " + wantEqual +
		" && " + h + ".?value.orValue('') == " + lit(want.Value) + "))"
}
