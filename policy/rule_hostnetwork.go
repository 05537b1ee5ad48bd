package policy

/*
Rule hostNetwork: a HostProcess pod sets spec.hostNetwork: true. HostProcess
containers always share the node's network; the pod must say so.

Field: spec.hostNetwork
Allowed: true
*/

// RuleHostNetwork is the rule's stable ID: messages, metrics and reports use it.
const RuleHostNetwork = "hostNetwork"

func checkHostNetwork(ev *evaluation) {
	if ev.in.Spec.HostNetwork {
		return
	}
	field := ev.in.SpecPath + ".hostNetwork"
	ev.add(RuleHostNetwork, PodTarget, field, "pod: "+field+" is false (allowed: true)")
}
