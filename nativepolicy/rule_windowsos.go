package nativepolicy

import "github.com/hostprocess-admission/hostprocess-admission/policy"

// windowsOSCEL is policy/rule_windowsos.go: spec.os.name, the
// kubernetes.io/os nodeSelector and the required node-affinity terms do
// not target another OS than windows.
func windowsOSCEL(*generator) ruleCEL {
	os := "(variables.spec.?os.hasValue() && variables.spec.os.?name.orValue('') != 'windows')"
	sel := "(" + lit(policy.OSLabel) + " in variables.spec.?nodeSelector.orValue({}) && variables.spec.nodeSelector[" + lit(policy.OSLabel) + "] != 'windows')"
	// A term excludes windows when one of its expressions on the label is
	// In without windows, NotIn with windows, or any operator but Exists.
	excludes := "t.?matchExpressions.orValue([]).exists(r, r.key == " + lit(policy.OSLabel) + " && (r.operator == 'In' ? !('windows' in r.?values.orValue([])) : " +
		"r.operator == 'NotIn' ? 'windows' in r.?values.orValue([]) : r.operator != 'Exists'))"
	terms := "variables.spec.?affinity.?nodeAffinity.?requiredDuringSchedulingIgnoredDuringExecution.?nodeSelectorTerms.orValue([])"
	return ruleCEL{
		fails: os + " || " + sel + " || " + terms + ".exists(t, " + excludes + ")",
		violations: "(" + os + " ? [" + violation(policy.RuleWindowsOS, "'pod: ' + variables.specPath + '.os.name ' + "+quoteCEL("variables.spec.os.?name.orValue('')")+" + ' is not allowed (allowed: windows)'") + "] : []) + " +
			"(" + sel + " ? [" + violation(policy.RuleWindowsOS, "'pod: ' + variables.specPath + '.nodeSelector[\""+policy.OSLabel+"\"] ' + "+quoteCEL("variables.spec.nodeSelector["+lit(policy.OSLabel)+"]")+" + ' is not allowed (allowed: windows)'") + "] : []) + " +
			terms + ".transformList(i, t, " + excludes + ", " +
			violation(policy.RuleWindowsOS, "'pod: ' + variables.specPath + '.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[' + string(i) + '] can only match "+policy.OSLabel+" values other than windows (allowed: terms that can match "+policy.OSLabel+"=windows)'") + ")",
	}
}
