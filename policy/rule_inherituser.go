package policy

import "github.com/hostprocess-admission/hostprocess-admission/config"

/*
Rule inheritUser: a HostProcess pod whose annotation
microsoft.com/hostprocess-inherit-user is "true" runs every container as
NT AUTHORITY\SYSTEM, whatever runAsUserName says: hcsshim then uses the shim's
own token (internal/jobcontainers/jobcontainer.go) and copies the annotation
to every container of the pod (cmd/containerd-shim-runhcs-v1/pod.go). Such a
pod is judged as running as SYSTEM: it is a violation unless SYSTEM is allowed
in the pod's scope. The rule runAsUserName does not judge the pod then.

Field:
  metadata.annotations[microsoft.com/hostprocess-inherit-user]
  (spec.template.metadata... for workloads)

Reported once, against "pod".
*/

// RuleInheritUser is the rule's stable ID: messages, metrics and reports use it.
const RuleInheritUser = "inheritUser"

func checkInheritUser(ev *evaluation) {
	if !ev.inheritUser || ev.scope.inheritUserAllowed() {
		return
	}
	field := annotationPath(ev.in.SpecPath, InheritUserAnnotation)
	ev.add(RuleInheritUser, PodTarget, field,
		"pod: "+field+" "+quote(ev.inheritValue)+" makes every container run as "+config.SystemAccount+
			", which is not allowed (allowed: "+ev.scope.allowedNames+")")
}

// inheritUserAllowed reports whether the inherit-user annotation is allowed
// in s: SYSTEM is allowed, or an exception grants the annotation.
func (s *scope) inheritUserAllowed() bool { return s.inheritUserGranted || s.systemAllowed() }
