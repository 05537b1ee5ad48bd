package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestRunAsNonRootPlaced(t *testing.T) {
	runPlaced(t, []placedCase{{
		name:         "runAsNonRoot true is denied",
		setPod:       func(sc *corev1.PodSecurityContext) { sc.RunAsNonRoot = ptr.To(true) },
		setContainer: func(sc *corev1.SecurityContext) { sc.RunAsNonRoot = ptr.To(true) },
		atPod: []want{{RuleRunAsNonRoot, "pod", "{spec}.securityContext.runAsNonRoot",
			"pod: {spec}.securityContext.runAsNonRoot is true (allowed: unset or false)"}},
		atContainer: []want{{RuleRunAsNonRoot, "{name}", "{c}.securityContext.runAsNonRoot",
			`container "{name}": securityContext.runAsNonRoot is true (allowed: unset or false)`}},
	}, {
		name:         "runAsNonRoot false is admitted",
		setPod:       func(sc *corev1.PodSecurityContext) { sc.RunAsNonRoot = ptr.To(false) },
		setContainer: func(sc *corev1.SecurityContext) { sc.RunAsNonRoot = ptr.To(false) },
	}})
}

func TestRunAsNonRoot(t *testing.T) {
	setNonRoot := func(c *corev1.Container, v bool) {
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.RunAsNonRoot = &v
	}
	runPods(t, []podCase{{
		name: "a pod-level true overridden to false by every container is admitted",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
			setNonRoot(&p.Spec.InitContainers[0], false)
			setNonRoot(&p.Spec.Containers[0], false)
			setNonRoot((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), false)
		},
	}, {
		name: "a pod-level true inherited by one init container is denied once, against the pod",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
			setNonRoot(&p.Spec.Containers[0], false)
			setNonRoot((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), false)
		},
		want: []want{{RuleRunAsNonRoot, "pod", "{spec}.securityContext.runAsNonRoot",
			"pod: {spec}.securityContext.runAsNonRoot is true (allowed: unset or false)"}},
	}, {
		name: "a container true next to a pod-level true is reported for both",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
			setNonRoot(&p.Spec.Containers[0], true)
		},
		want: []want{
			{RuleRunAsNonRoot, "pod", "{spec}.securityContext.runAsNonRoot",
				"pod: {spec}.securityContext.runAsNonRoot is true (allowed: unset or false)"},
			{RuleRunAsNonRoot, "app", "{spec}.containers[0].securityContext.runAsNonRoot",
				`container "app": securityContext.runAsNonRoot is true (allowed: unset or false)`},
		},
	}})
}
