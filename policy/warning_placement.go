package policy

/*
Workload placement (spec "Workload placement"): the DaemonSet controller
decides from a DaemonSet's pod template which nodes get a pod, before any pod
exists; the mutating webhook's defaults reach each pod only when it is
created, after that decision. (The pods of the other workload kinds are
defaulted before they are scheduled, so their templates need nothing.) A
HostProcess DaemonSet template therefore gets a warning, never a violation,
for each default its pods would still need:

  - a toleration of defaults.tolerations that no toleration of the template
    tolerates: the controller creates no pods on the nodes with that taint
    (the Windows nodes);
  - a kubernetes.io/os constraint, when defaults.nodeSelector is on and the
    template has none (the same test as the default's): the controller
    creates a pod on every Linux node too, which the webhook's node selector
    then keeps from ever starting.

With defaults.workloadTemplates the mutating webhook adds both to the template
on CREATE, and a template that has them gets no warning.
*/

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

func warnPlacement(ev *evaluation) {
	if ev.in.Kind != "DaemonSet" {
		return
	}
	spec, path := ev.in.Spec, ev.in.SpecPath
	d := &ev.p.cfg.Defaults
	for i := range d.Tolerations {
		want := &d.Tolerations[i]
		if !toleratesDefault(spec.Tolerations, want) {
			ev.res.Warnings = append(ev.res.Warnings, PlacementTolerationWarning(path, want))
		}
	}
	if (d.NodeSelector == nil || *d.NodeSelector) && len(defaultNodeSelector(nil, spec, "")) > 0 {
		ev.res.Warnings = append(ev.res.Warnings, PlacementNodeSelectorWarning(path))
	}
}

// PlacementTolerationWarning is the warning for a DaemonSet template, whose
// pod spec is at path, that does not tolerate the default toleration want.
// The native policies give the same words.
func PlacementTolerationWarning(path string, want *corev1.Toleration) string {
	return "pod template: " + path + ".tolerations do not tolerate the taint " +
		taintString(want) + " of defaults.tolerations: the DaemonSet controller places pods from the template and will " +
		"create no pods on the nodes with that taint; add the toleration " + tolerationJSON(want) + " to " + path + ".tolerations"
}

// PlacementNodeSelectorWarning is the warning for a DaemonSet template,
// whose pod spec is at path, that does not constrain kubernetes.io/os.
func PlacementNodeSelectorWarning(path string) string {
	return "pod template: " + path + " does not constrain " + OSLabel + " to windows: " +
		"the DaemonSet controller places pods from the template and will create a pod on every Linux node too, " +
		"where it can never start; add " + OSLabel + ": windows to " + path + ".nodeSelector"
}

// toleratesDefault reports whether one of have tolerates every taint that
// want tolerates, with the matching of corev1.Toleration.ToleratesTaint.
func toleratesDefault(have []corev1.Toleration, want *corev1.Toleration) bool {
	for i := range have {
		h := &have[i]
		if h.Effect != "" && h.Effect != want.Effect {
			continue
		}
		if h.Key != "" && h.Key != want.Key {
			continue
		}
		switch normalOp(h.Operator) {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual:
			if h.Key != "" && normalOp(want.Operator) == corev1.TolerationOpEqual && h.Value == want.Value {
				return true
			}
		}
	}
	return false
}

// taintString writes the taint a toleration is for as kubectl taint does:
// key=value:effect, key:effect, or key=value when any effect is meant.
func taintString(t *corev1.Toleration) string {
	s := t.Key
	if normalOp(t.Operator) == corev1.TolerationOpEqual {
		s += "=" + t.Value
	}
	if t.Effect != "" {
		s += ":" + string(t.Effect)
	}
	if s == "" {
		s = "of any key"
	}
	return s
}

func tolerationJSON(t *corev1.Toleration) string {
	b, err := json.Marshal(t)
	if err != nil {
		return t.String()
	}
	return string(b)
}
