package nativepolicy

import "github.com/hostprocess-admission/hostprocess-admission/policy"

// hostProcessMixedCEL is policy/rule_hostprocessmixed.go: every container's
// effective hostProcess is true.
func hostProcessMixedCEL(*generator) ruleCEL {
	return ruleCEL{
		fails: "variables.all.exists(c, !c.?securityContext.?windowsOptions.?hostProcess.orValue(variables.podHP))",
		violations: "variables.containers.filter(x, !x.hp).map(x, " + violation(policy.RuleHostProcessMixed,
			"'container ' + x.qname + ': ' + (x.hpSrc == 'c' ? 'securityContext.windowsOptions.hostProcess is false' : "+
				"x.hpSrc == 'p' ? 'securityContext.windowsOptions.hostProcess is not set and ' + variables.specPath + '.securityContext.windowsOptions.hostProcess is false' : "+
				"'securityContext.windowsOptions.hostProcess is not set') + "+lit(mixedAllowed)) + ")",
	}
}
