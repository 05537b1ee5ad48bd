package nativepolicy

import (
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// ruleCEL is one rule of policy.RuleTable in CEL, built by the rule's
// builder in nativepolicy/rule_<id>.go (beside policy/rule_<id>.go).
//
// fails is a cheap boolean, true when the rule is broken: the validation
// that decides reads only these, so a valid pod never builds a message.
// violations is the rule's list of {'rule': id, 'msg': message}, read only
// when fails is true (the generator guards it with fails), for the
// messageExpression and the audit annotations.
//
// Both read the variables every policy has (see generator.variables):
// spec, specPath, annotations, metaPath; podHP, podHPSet, podUser,
// podUserSet, podNR, podNRSet (the pod level's values); all (the raw
// containers, init containers first, then containers, then ephemeral
// containers); rule (the matched namespace rule, -1 for none), allowed
// (the folded account spellings allowed), allowedNames, inheritUser. The
// violations may also read containers (each container's effective values:
// name, qname (quoted), k (index in all), image, hp, hpSrc, user, userSrc,
// nr, nrSrc, privileged; a *Src is 'c' when the container sets the field,
// 'p' when it inherits the pod level's, ” when neither is set),
// firstPodUser and firstPodNR (the k of the first container that inherits
// the pod level's runAsUserName or runAsNonRoot, -1 for none).
type ruleCEL struct {
	fails, violations string
}

// ruleBuilders has one CEL builder per rule of policy.RuleTable.
// TestEveryRuleHasACELBuilder fails when a rule has none.
var ruleBuilders = map[string]func(g *generator) ruleCEL{
	policy.RuleHostProcessMixed: hostProcessMixedCEL,
	policy.RuleHostNetwork:      hostNetworkCEL,
	policy.RuleRunAsUserName:    runAsUserNameCEL,
	policy.RuleInheritUser:      inheritUserCEL,
	policy.RuleRunAsNonRoot:     runAsNonRootCEL,
	policy.RuleWindowsOS:        windowsOSCEL,
	policy.RuleNamespace:        namespaceCEL,
	policy.RuleImage:            imageCEL,
}

// violation is a CEL map literal of one violation of rule id with the CEL
// string expression msg.
func violation(id, msg string) string {
	return "{'rule': " + lit(id) + ", 'msg': " + msg + "}"
}
