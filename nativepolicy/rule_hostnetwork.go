package nativepolicy

import "github.com/hostprocess-admission/hostprocess-admission/policy"

// hostNetworkCEL is policy/rule_hostnetwork.go: spec.hostNetwork is true.
func hostNetworkCEL(*generator) ruleCEL {
	return ruleCEL{
		fails:      "!variables.spec.?hostNetwork.orValue(false)",
		violations: "[" + violation(policy.RuleHostNetwork, "'pod: ' + variables.specPath + '.hostNetwork is false (allowed: true)'") + "]",
	}
}
