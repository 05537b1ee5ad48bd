package nativepolicy

import "github.com/hostprocess-admission/hostprocess-admission/policy"

// runAsNonRootCEL is policy/rule_runasnonroot.go: every container's
// effective runAsNonRoot is unset or false. A pod-level true is reported
// once, at the first container that inherits it.
func runAsNonRootCEL(*generator) ruleCEL {
	return ruleCEL{
		fails: "variables.all.exists(c, c.?securityContext.?runAsNonRoot.orValue(variables.podNR))",
		violations: "variables.containers.filter(x, x.nr && (x.nrSrc == 'c' || x.k == variables.firstPodNR)).map(x, " +
			violation(policy.RuleRunAsNonRoot, "(x.nrSrc == 'p' ? 'pod: ' + variables.specPath + '.securityContext.runAsNonRoot' : "+
				"'container ' + x.qname + ': securityContext.runAsNonRoot') + ' is true (allowed: unset or false)'") + ")",
	}
}
