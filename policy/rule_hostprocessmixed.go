package policy

/*
Rule hostProcessMixed: in a HostProcess pod, every container's effective
hostProcess is true. Windows cannot run HostProcess and isolated containers in
one pod.

Fields:
  spec.securityContext.windowsOptions.hostProcess
  spec.initContainers[*].securityContext.windowsOptions.hostProcess
  spec.containers[*].securityContext.windowsOptions.hostProcess
  spec.ephemeralContainers[*].securityContext.windowsOptions.hostProcess

Allowed: true for every container, set on the container or inherited from the
pod. A container that sets false, or that is unset while the pod level is unset
or false, is a violation.
*/

// RuleHostProcessMixed is the rule's stable ID: messages, metrics and reports use it.
const RuleHostProcessMixed = "hostProcessMixed"

const hostProcessMixedAllowed = " (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)"

func checkHostProcessMixed(ev *evaluation) {
	visitContainers(ev.in.Spec, func(c containerRef) bool {
		if c.eff.hostProcess {
			return true
		}
		var state string
		switch c.eff.hostProcessSrc {
		case fromContainer:
			state = "securityContext.windowsOptions.hostProcess is false"
		case fromPod:
			state = "securityContext.windowsOptions.hostProcess is not set and " +
				ev.in.SpecPath + ".securityContext.windowsOptions.hostProcess is false"
		default:
			state = "securityContext.windowsOptions.hostProcess is not set"
		}
		ev.add(RuleHostProcessMixed, c.Name(),
			c.path(ev.in.SpecPath)+".securityContext.windowsOptions.hostProcess",
			"container "+quote(c.Name())+": "+state+hostProcessMixedAllowed)
		return true
	})
}
