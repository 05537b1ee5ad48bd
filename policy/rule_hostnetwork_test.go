package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHostNetwork(t *testing.T) {
	runPods(t, []podCase{{
		name: "a HostProcess pod without hostNetwork is denied",
		pod:  func(p *corev1.Pod) { p.Spec.HostNetwork = false },
		want: []want{{RuleHostNetwork, "pod", "{spec}.hostNetwork", "pod: {spec}.hostNetwork is false (allowed: true)"}},
	}, {
		name: "a HostProcess pod with hostNetwork is admitted",
		pod:  func(p *corev1.Pod) { p.Spec.HostNetwork = true },
	}})
}
