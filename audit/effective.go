package audit

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// effectiveUsers returns the distinct effective runAsUserName values of the containers of
// spec (init, regular and ephemeral), sorted, with UnsetUser for a container that has none.
// The effective value is the container's securityContext.windowsOptions.runAsUserName when
// set, else the pod's spec.securityContext.windowsOptions.runAsUserName. This mirrors resolve
// in policy/visitor.go, which the policy package keeps unexported.
func effectiveUsers(spec *corev1.PodSpec) []string {
	var podUser *string
	if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil {
		podUser = sc.WindowsOptions.RunAsUserName
	}
	set := map[string]struct{}{}
	add := func(sc *corev1.SecurityContext) {
		u := podUser
		if sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.RunAsUserName != nil {
			u = sc.WindowsOptions.RunAsUserName
		}
		if u == nil {
			set[UnsetUser] = struct{}{}
			return
		}
		set[*u] = struct{}{}
	}
	for i := range spec.InitContainers {
		add(spec.InitContainers[i].SecurityContext)
	}
	for i := range spec.Containers {
		add(spec.Containers[i].SecurityContext)
	}
	for i := range spec.EphemeralContainers {
		add(spec.EphemeralContainers[i].SecurityContext)
	}
	return sortedKeys(set)
}

// images returns the distinct images of the containers of spec, sorted.
func images(spec *corev1.PodSpec) []string {
	set := map[string]struct{}{}
	for i := range spec.InitContainers {
		set[spec.InitContainers[i].Image] = struct{}{}
	}
	for i := range spec.Containers {
		set[spec.Containers[i].Image] = struct{}{}
	}
	for i := range spec.EphemeralContainers {
		set[spec.EphemeralContainers[i].Image] = struct{}{}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
