package nativepolicy

import "github.com/hostprocess-admission/hostprocess-admission/policy"

// runAsUserNameCEL is policy/rule_runasusername.go: every container's
// effective runAsUserName is set and allowed in the pod's scope, unless the
// inherit-user annotation decides the account (rule inheritUser). A bad
// pod-level name is reported once, at the first container that inherits it.
func runAsUserNameCEL(*generator) ruleCEL {
	allowedSuffix := " + ' is not allowed (allowed: ' + variables.allowedNames + ')'"
	return ruleCEL{
		fails: "!variables.inheritUser && variables.all.exists(c, c.?securityContext.?windowsOptions.?runAsUserName.hasValue() ? " +
			"!(c.securityContext.windowsOptions.runAsUserName.lowerAscii() in variables.allowed) : " +
			"!(variables.podUserSet && variables.podUser.lowerAscii() in variables.allowed))",
		violations: "variables.containers.filter(x, x.userSrc == '' || " +
			"(!(x.user.lowerAscii() in variables.allowed) && (x.userSrc == 'c' || x.k == variables.firstPodUser))).map(x, " +
			violation(policy.RuleRunAsUserName, "x.userSrc == '' ? 'container ' + x.qname + ': securityContext.windowsOptions.runAsUserName is not set (allowed: ' + variables.allowedNames + ')' : "+
				"(x.userSrc == 'c' ? 'container ' + x.qname + ': securityContext.windowsOptions.runAsUserName ' : "+
				"'pod: ' + variables.specPath + '.securityContext.windowsOptions.runAsUserName ') + "+quoteCEL("x.user")+allowedSuffix) + ")",
	}
}
