package policy

/*
Rule runAsNonRoot: the effective runAsNonRoot of every container of a
HostProcess pod is unset or false: HostProcess containers have privileged
access to the host, so runAsNonRoot cannot be true.

Fields:
  spec.securityContext.runAsNonRoot
  spec.initContainers[*].securityContext.runAsNonRoot
  spec.containers[*].securityContext.runAsNonRoot
  spec.ephemeralContainers[*].securityContext.runAsNonRoot

Allowed: unset or false. A pod-level true is reported once, against "pod", when
at least one container inherits it.
*/

// RuleRunAsNonRoot is the rule's stable ID: messages, metrics and reports use it.
const RuleRunAsNonRoot = "runAsNonRoot"

const runAsNonRootAllowed = " is true (allowed: unset or false)"

func checkRunAsNonRoot(ev *evaluation) {
	podReported := false
	visitContainers(ev.in.Spec, func(c containerRef) bool {
		if !c.eff.runAsNonRoot {
			return true
		}
		if c.eff.runAsNonRootSrc == fromPod {
			if !podReported {
				podReported = true
				field := ev.in.SpecPath + ".securityContext.runAsNonRoot"
				ev.add(RuleRunAsNonRoot, PodTarget, field, "pod: "+field+runAsNonRootAllowed)
			}
			return true
		}
		ev.add(RuleRunAsNonRoot, c.Name(), c.path(ev.in.SpecPath)+".securityContext.runAsNonRoot",
			"container "+quote(c.Name())+": securityContext.runAsNonRoot"+runAsNonRootAllowed)
		return true
	})
}
