package policy

import "github.com/hostprocess-admission/hostprocess-admission/config"

/*
Rule runAsUserName: every container of a HostProcess pod has an effective
runAsUserName, and it equals an allowed user or allowed local group of the
scope that applies to the pod's namespace.

Fields:
  spec.securityContext.windowsOptions.runAsUserName
  spec.initContainers[*].securityContext.windowsOptions.runAsUserName
  spec.containers[*].securityContext.windowsOptions.runAsUserName
  spec.ephemeralContainers[*].securityContext.windowsOptions.runAsUserName

Allowed: an entry of allowedUsers or allowedLocalGroups. Matching folds ASCII
letter case only, as Windows compares account names case-insensitively; every
other character, spaces included, must match exactly, and Unicode case folding
or look-alike characters never match.

A disallowed value set at pod level is reported once, against "pod", when at
least one container inherits it.

Names are compared with config.SameAccount: ASCII case folding, and every
spelling of a well-known service account matches the others (config/accounts.go).

When the annotation microsoft.com/hostprocess-inherit-user makes every
container run as SYSTEM, runAsUserName has no effect and the rule inheritUser
judges the pod instead.
*/

// RuleRunAsUserName is the rule's stable ID: messages, metrics and reports use it.
const RuleRunAsUserName = "runAsUserName"

func checkRunAsUserName(ev *evaluation) {
	if ev.inheritUser {
		return
	}
	podReported := false
	visitContainers(ev.in.Spec, func(c containerRef) bool {
		switch c.eff.runAsUserNameSrc {
		case unset:
			ev.add(RuleRunAsUserName, c.Name(),
				c.path(ev.in.SpecPath)+".securityContext.windowsOptions.runAsUserName",
				"container "+quote(c.Name())+": securityContext.windowsOptions.runAsUserName is not set (allowed: "+ev.scope.allowedNames+")")
		case fromContainer:
			if !ev.scope.allowsUser(c.eff.runAsUserName) {
				ev.add(RuleRunAsUserName, c.Name(),
					c.path(ev.in.SpecPath)+".securityContext.windowsOptions.runAsUserName",
					"container "+quote(c.Name())+": securityContext.windowsOptions.runAsUserName "+quote(c.eff.runAsUserName)+
						" is not allowed (allowed: "+ev.scope.allowedNames+")")
			}
		case fromPod:
			if !podReported && !ev.scope.allowsUser(c.eff.runAsUserName) {
				podReported = true
				field := ev.in.SpecPath + ".securityContext.windowsOptions.runAsUserName"
				ev.add(RuleRunAsUserName, PodTarget, field,
					"pod: "+field+" "+quote(c.eff.runAsUserName)+" is not allowed (allowed: "+ev.scope.allowedNames+")")
			}
		}
		return true
	})
}

// allowsUser reports whether name is an allowed user or local group.
func (s *scope) allowsUser(name string) bool {
	return containsName(s.users, name) || containsName(s.groups, name)
}

// isLocalGroup reports whether name is an allowed local group.
func (s *scope) isLocalGroup(name string) bool { return containsName(s.groups, name) }

func containsName(list []string, name string) bool {
	for _, n := range list {
		if config.SameAccount(n, name) {
			return true
		}
	}
	return false
}
