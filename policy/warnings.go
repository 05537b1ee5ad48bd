package policy

/*
Fields that have no effect on a HostProcess container are not violations;
rejecting them would break manifests that work today. The AKS sample sets
securityContext.privileged: true next to hostProcess, so it gets a warning
that it is ignored.
*/

func warnIgnoredFields(ev *evaluation) {
	visitContainers(ev.in.Spec, func(c containerRef) bool {
		if c.eff.privilegedIgnored {
			ev.res.Warnings = append(ev.res.Warnings,
				"container "+quote(c.Name())+": securityContext.privileged is ignored for HostProcess containers")
		}
		return true
	})
}
