package policy

import (
	"github.com/hostprocess-admission/hostprocess-admission/config"
)

/*
Warnings about what the node's runtime will do, which do not change the
verdict:

  - a runAsUserName that hcsshim cannot log on, so the container fails to
    start (config.StartFailure): nt authority\system, or a name with two
    backslashes. A value set at pod level is reported once, against "pod".
  - microsoft.com/hostprocess-inherit-user when SYSTEM is allowed: the pod runs
    as SYSTEM and its runAsUserName has no effect.
  - microsoft.com/hostprocess-rootfs-location: where the files are put.
*/

func warnRuntime(ev *evaluation) {
	if ev.inheritUser {
		if ev.scope.inheritUserAllowed() {
			field := annotationPath(ev.in.SpecPath, InheritUserAnnotation)
			ev.res.Warnings = append(ev.res.Warnings, "pod: "+field+" "+quote(ev.inheritValue)+
				" makes every container run as "+config.SystemAccount+"; runAsUserName has no effect")
		}
	} else {
		warnStartFailures(ev)
	}
	if loc, ok := ev.in.Annotations[RootfsLocationAnnotation]; ok {
		field := annotationPath(ev.in.SpecPath, RootfsLocationAnnotation)
		ev.res.Warnings = append(ev.res.Warnings, "pod: "+field+" "+quote(loc)+
			" makes the runtime put the containers' files at that path on the node")
	}
}

func warnStartFailures(ev *evaluation) {
	podReported := false
	visitContainers(ev.in.Spec, func(c containerRef) bool {
		name := c.eff.runAsUserName
		src := c.eff.runAsUserNameSrc
		if src == unset || src == fromPod && podReported {
			return true
		}
		reason, instead := config.StartFailure(name)
		if reason == "" {
			return true
		}
		subject := "pod: " + ev.in.SpecPath + ".securityContext.windowsOptions.runAsUserName"
		if src == fromContainer {
			subject = "container " + quote(c.Name()) + ": securityContext.windowsOptions.runAsUserName"
		} else {
			podReported = true
		}
		msg := subject + " " + quote(name) + " will fail to start on the node: " + reason
		if instead != "" {
			msg += "; write " + quote(instead)
		}
		ev.res.Warnings = append(ev.res.Warnings, msg)
		return true
	})
}
