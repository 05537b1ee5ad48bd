package audit

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// effectiveUsers returns the distinct effective runAsUserName values of the containers of
// spec (init, regular and ephemeral), sorted, with UnsetUser for a container that has none.
func effectiveUsers(spec *corev1.PodSpec) []string {
	set := map[string]struct{}{}
	policy.ForEachEffectiveUser(spec, func(user string, ok bool) {
		if !ok {
			user = UnsetUser
		}
		set[user] = struct{}{}
	})
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
