package nativepolicy

import (
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// inheritUserCEL is policy/rule_inherituser.go: a pod whose inherit-user
// annotation makes every container run as SYSTEM is a violation unless
// SYSTEM is allowed in its scope.
func inheritUserCEL(*generator) ruleCEL {
	return ruleCEL{
		fails:      "variables.inheritUser && !(" + lit(systemSpellings[0]) + " in variables.allowed)",
		violations: "[" + violation(policy.RuleInheritUser, inheritUserMessage) + "]",
	}
}

// inheritUserMessage is the inheritUser rule's message.
var inheritUserMessage = "'pod: ' + variables.metaPath + " + lit(".annotations["+InheritUserAnnotation+"] ") + " + " +
	quoteCEL("variables.annotations["+lit(InheritUserAnnotation)+"]") + " + " +
	lit(" makes every container run as "+config.SystemAccount+", which is not allowed (allowed: ") + " + variables.allowedNames + ')'"
