package policy

/*
Rule namespace: when namespace rules are configured, a HostProcess pod is
admitted only in a namespace that a rule matches, by name or by label
selector. The first matching rule's users, groups and images then apply.

Field: metadata.namespace
Allowed: the namespaces the rules list, and namespaces whose labels a rule's
selector matches. The kubernetes.io/metadata.name label always equals the
namespace's name.
*/

// RuleNamespace is the rule's stable ID: messages, metrics and reports use it.
const RuleNamespace = "namespace"

func checkNamespace(ev *evaluation) {
	if ev.nsMatched {
		return
	}
	ev.add(RuleNamespace, PodTarget, "metadata.namespace",
		"pod: namespace "+quote(ev.in.Namespace.Name)+" is not allowed to run HostProcess pods (allowed: "+ev.p.nsAllowed+")")
}
