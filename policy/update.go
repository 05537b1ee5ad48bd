package policy

/*
Changes after creation. A pod's containers and images, its runtime annotations
(runtime.go) and, while it is scheduling-gated, its nodeSelector and node
affinity can change after the pod was admitted, through the pod itself or a
subresource (status, binding, ephemeralcontainers); the kubelet reads the
annotations again each time it creates the pod's sandbox. Such a change is
judged on the pod as it will be after the change, and only the violations the
change introduces count: removing a problem, or changing nothing the policy
reads, is never blocked (docs/policy.md, "Updates").
*/

// Introduced returns the violations of after that before does not have, in
// the order of after: what an update of an object adds. When the update adds
// containers (pods/ephemeralcontainers), the pod's own violations (against
// PodTarget, e.g. the inherit-user annotation or a pod-level user) count
// whether or not before had them: the new containers run under them too.
func Introduced(before, after []Violation, addsContainers bool) []Violation {
	if len(before) == 0 || len(after) == 0 {
		return after
	}
	had := make(map[Violation]struct{}, len(before))
	for _, v := range before {
		if addsContainers && v.Container == PodTarget {
			continue
		}
		had[v] = struct{}{}
	}
	var added []Violation
	for _, v := range after {
		if _, ok := had[v]; !ok {
			added = append(added, v)
		}
	}
	return added
}

// EvaluateBinding judges the annotations of a Binding (pods/binding), which
// the API server merges into the pod it binds. A Binding does not show the
// pod, so its runtime annotations are judged as if the pod were a HostProcess
// pod of the namespace: the scheduler never sets them, and the native
// policies, which cannot read the pod either, judge a Binding the same way.
func (p *Policy) EvaluateBinding(ns Namespace, annotations map[string]string) Result {
	ev := evaluation{p: p, in: Input{Namespace: ns, SpecPath: "spec", Annotations: annotations}}
	ev.scope, ev.nsMatched = p.scopeFor(ns)
	ev.inheritValue, ev.inheritUser = inheritsUser(annotations)
	checkInheritUser(&ev)
	return ev.res
}
