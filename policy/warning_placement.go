package policy

/*
Workload placement (spec "Workload placement"): the controller of a workload
creates its pods from the template, and the DaemonSet controller also decides
from the template which nodes get a pod. The mutating webhook's defaults reach
each pod only when it is created, after that decision. So a HostProcess
template gets a warning, never a violation, for each default its pods would
still need:

  - a toleration of defaults.tolerations that no toleration of the template
    tolerates: a DaemonSet creates no pods on the nodes with that taint (the
    Windows nodes), and other workloads' pods get it only from the mutating
    webhook;
  - a kubernetes.io/os constraint, when defaults.nodeSelector is on and the
    template has none (the same test as the default's): a DaemonSet creates a
    pod on every Linux node too, where it can never start, and other
    workloads' pods get it only from the mutating webhook.

With defaults.workloadTemplates the mutating webhook adds both to the template
on CREATE, and the warning is not given for a template that has them.
*/

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

func warnPlacement(ev *evaluation) {
	kind := ev.in.Kind
	if kind == "" || kind == "Pod" {
		return
	}
	spec, path := ev.in.Spec, ev.in.SpecPath
	d := &ev.p.cfg.Defaults
	for i := range d.Tolerations {
		want := &d.Tolerations[i]
		if toleratesDefault(spec.Tolerations, want) {
			continue
		}
		ev.res.Warnings = append(ev.res.Warnings, "pod template: "+path+".tolerations do not tolerate the taint "+
			taintString(want)+" of defaults.tolerations: "+placementConsequence(kind, "create no pods on the nodes with that taint")+
			"; add the toleration "+tolerationJSON(want)+" to "+path+".tolerations")
	}
	if (d.NodeSelector == nil || *d.NodeSelector) && len(defaultNodeSelector(nil, spec, "")) > 0 {
		ev.res.Warnings = append(ev.res.Warnings, "pod template: "+path+" does not constrain "+OSLabel+" to windows: "+
			placementConsequence(kind, "create a pod on every Linux node too, where it can never start")+
			"; add "+OSLabel+": windows to "+path+".nodeSelector")
	}
}

// placementConsequence says what happens to the pods of a workload of kind
// whose template lacks a default: what the DaemonSet controller does, or
// that the pods depend on the mutating webhook.
func placementConsequence(kind, daemonSet string) string {
	if kind == "DaemonSet" {
		return "the DaemonSet controller places pods from the template and will " + daemonSet
	}
	return "the " + kind + "'s pods get it only from the mutating webhook, when each is created"
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
