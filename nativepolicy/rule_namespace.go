package nativepolicy

import "github.com/hostprocess-admission/hostprocess-admission/policy"

// namespaceCEL is policy/rule_namespace.go: with namespace rules, the
// namespace matches one of them.
func namespaceCEL(g *generator) ruleCEL {
	if len(g.ruleMatch) == 0 {
		return ruleCEL{fails: "false", violations: "[]"}
	}
	return ruleCEL{
		fails: "variables.rule < 0",
		violations: "[" + violation(policy.RuleNamespace, "'pod: namespace ' + "+quoteCEL("request.namespace")+" + "+
			lit(" is not allowed to run HostProcess pods (allowed: "+g.nsAllowed+")")) + "]",
	}
}
