package policy

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

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

// SameRuntimeAnnotations reports whether the annotations the policy reads
// (RuntimeAnnotations) are the same in old and cur.
func SameRuntimeAnnotations(old, cur map[string]string) bool {
	for _, key := range RuntimeAnnotations {
		a, okA := old[key]
		b, okB := cur[key]
		if a != b || okA != okB {
			return false
		}
	}
	return true
}

// SameForPolicy reports whether an update leaves every field the policy
// reads unchanged: hostNetwork, securityContext, os, nodeSelector, affinity
// and each container's name, image and securityContext. Tolerations are left
// out: adding them to a running pod is always allowed.
func SameForPolicy(old, cur *corev1.PodSpec) bool {
	if old == nil || cur == nil {
		return old == cur
	}
	return reflect.DeepEqual(policyFields(old), policyFields(cur))
}

// policyFields is the part of a pod spec that the policy reads.
func policyFields(s *corev1.PodSpec) corev1.PodSpec {
	containers := func(cs []corev1.Container) []corev1.Container {
		if cs == nil {
			return nil
		}
		out := make([]corev1.Container, len(cs))
		for i, c := range cs {
			out[i] = corev1.Container{Name: c.Name, Image: c.Image, SecurityContext: c.SecurityContext}
		}
		return out
	}
	out := corev1.PodSpec{
		HostNetwork: s.HostNetwork, SecurityContext: s.SecurityContext, OS: s.OS,
		NodeSelector: s.NodeSelector, Affinity: s.Affinity,
		InitContainers: containers(s.InitContainers), Containers: containers(s.Containers),
	}
	if s.EphemeralContainers != nil {
		out.EphemeralContainers = make([]corev1.EphemeralContainer, len(s.EphemeralContainers))
		for i, c := range s.EphemeralContainers {
			out.EphemeralContainers[i].Name, out.EphemeralContainers[i].Image = c.Name, c.Image
			out.EphemeralContainers[i].SecurityContext = c.SecurityContext
		}
	}
	return out
}
