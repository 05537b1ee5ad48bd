package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

const mixedAllowed = " (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)"

func TestHostProcessMixedPlaced(t *testing.T) {
	runPlaced(t, []placedCase{{
		name:         "a container that sets hostProcess false in a HostProcess pod is denied",
		setPod:       func(sc *corev1.PodSecurityContext) { sc.WindowsOptions.HostProcess = ptr.To(false) },
		setContainer: func(sc *corev1.SecurityContext) { sc.WindowsOptions.HostProcess = ptr.To(false) },
		// Pod level false with every container unset is no HostProcess pod at all.
		atPod: nil,
		atContainer: []want{{RuleHostProcessMixed, "{name}", "{c}.securityContext.windowsOptions.hostProcess",
			`container "{name}": securityContext.windowsOptions.hostProcess is false` + mixedAllowed}},
	}, {
		name:         "hostProcess true set again on a container is admitted",
		setPod:       func(sc *corev1.PodSecurityContext) { sc.WindowsOptions.HostProcess = ptr.To(true) },
		setContainer: func(sc *corev1.SecurityContext) { sc.WindowsOptions.HostProcess = ptr.To(true) },
	}})
}

func TestHostProcessMixed(t *testing.T) {
	// containersOnly moves hostProcess from pod level to the app container.
	containersOnly := func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
		setHostProcess(&p.Spec.Containers[0], ptr.To(true))
	}
	runPods(t, []podCase{{
		name: "containers left unset while the pod level is unset and another container is true are denied",
		pod:  containersOnly,
		want: []want{
			{RuleHostProcessMixed, "init", "{spec}.initContainers[0].securityContext.windowsOptions.hostProcess",
				`container "init": securityContext.windowsOptions.hostProcess is not set` + mixedAllowed},
			{RuleHostProcessMixed, "debug", "{spec}.ephemeralContainers[0].securityContext.windowsOptions.hostProcess",
				`container "debug": securityContext.windowsOptions.hostProcess is not set` + mixedAllowed},
		},
	}, {
		name: "containers inheriting a pod-level false next to a true container are denied",
		pod: func(p *corev1.Pod) {
			containersOnly(p)
			p.Spec.SecurityContext.WindowsOptions.HostProcess = ptr.To(false)
		},
		want: []want{
			{RuleHostProcessMixed, "init", "{spec}.initContainers[0].securityContext.windowsOptions.hostProcess",
				`container "init": securityContext.windowsOptions.hostProcess is not set and {spec}.securityContext.windowsOptions.hostProcess is false` + mixedAllowed},
			{RuleHostProcessMixed, "debug", "{spec}.ephemeralContainers[0].securityContext.windowsOptions.hostProcess",
				`container "debug": securityContext.windowsOptions.hostProcess is not set and {spec}.securityContext.windowsOptions.hostProcess is false` + mixedAllowed},
		},
	}, {
		name: "every container true with the pod level unset is admitted",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
			setHostProcess(&p.Spec.InitContainers[0], ptr.To(true))
			setHostProcess(&p.Spec.Containers[0], ptr.To(true))
			setHostProcess((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), ptr.To(true))
		},
	}, {
		name: "a HostProcess ephemeral container added to a normal pod is denied, naming the normal containers",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
			setHostProcess((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), ptr.To(true))
		},
		want: []want{
			{RuleHostProcessMixed, "init", "{spec}.initContainers[0].securityContext.windowsOptions.hostProcess",
				`container "init": securityContext.windowsOptions.hostProcess is not set` + mixedAllowed},
			{RuleHostProcessMixed, "app", "{spec}.containers[0].securityContext.windowsOptions.hostProcess",
				`container "app": securityContext.windowsOptions.hostProcess is not set` + mixedAllowed},
		},
	}, {
		name: "a pod-level true with every container set to false is denied for each container",
		pod: func(p *corev1.Pod) {
			setHostProcess(&p.Spec.InitContainers[0], ptr.To(false))
			setHostProcess(&p.Spec.Containers[0], ptr.To(false))
			setHostProcess((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), ptr.To(false))
		},
		want: []want{
			{RuleHostProcessMixed, "init", "{spec}.initContainers[0].securityContext.windowsOptions.hostProcess",
				`container "init": securityContext.windowsOptions.hostProcess is false` + mixedAllowed},
			{RuleHostProcessMixed, "app", "{spec}.containers[0].securityContext.windowsOptions.hostProcess",
				`container "app": securityContext.windowsOptions.hostProcess is false` + mixedAllowed},
			{RuleHostProcessMixed, "debug", "{spec}.ephemeralContainers[0].securityContext.windowsOptions.hostProcess",
				`container "debug": securityContext.windowsOptions.hostProcess is false` + mixedAllowed},
		},
	}})
}

func TestIsHostProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  func(*corev1.Pod)
		want bool
	}{
		{"pod-level true is HostProcess", func(*corev1.Pod) {}, true},
		{"pod-level false with no container set is not", func(p *corev1.Pod) { p.Spec.SecurityContext.WindowsOptions.HostProcess = ptr.To(false) }, false},
		{"nothing set is not", func(p *corev1.Pod) { p.Spec.SecurityContext = nil }, false},
		{"an init container true is", func(p *corev1.Pod) {
			p.Spec.SecurityContext = nil
			setHostProcess(&p.Spec.InitContainers[0], ptr.To(true))
		}, true},
		{"an ephemeral container true is", func(p *corev1.Pod) {
			p.Spec.SecurityContext = nil
			setHostProcess((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), ptr.To(true))
		}, true},
		{"pod-level true overridden to false everywhere still is", func(p *corev1.Pod) {
			setHostProcess(&p.Spec.InitContainers[0], ptr.To(false))
			setHostProcess(&p.Spec.Containers[0], ptr.To(false))
			setHostProcess((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), ptr.To(false))
		}, true},
		{"a pod with no containers and pod-level true is", func(p *corev1.Pod) {
			p.Spec.InitContainers, p.Spec.Containers, p.Spec.EphemeralContainers = nil, nil, nil
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := validPod()
			tc.pod(pod)
			if got := IsHostProcess(&pod.Spec); got != tc.want {
				t.Fatalf("IsHostProcess = %v, want %v", got, tc.want)
			}
		})
	}
}
