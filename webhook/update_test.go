package webhook

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// TestValidateUpdates covers every way into a pod after its creation that
// can change what its node runs (docs/policy.md, "Updates"): the pod as it
// will be is judged, and only the violations the change introduces count.
func TestValidateUpdates(t *testing.T) {
	const localService = `NT AUTHORITY\Local service`
	const forbidden = `pods "agent" is forbidden: violates the HostProcess policy: `
	const inheritMsg = `pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)`
	onlyLocalService := func(c *config.AdmissionConfiguration) { c.AllowedUsers = []string{localService} }
	onlyImages := func(c *config.AdmissionConfiguration) {
		c.NamespaceRules = []config.NamespaceRule{{Namespaces: []string{"kube-system"}, AllowedImages: []string{"mcr.microsoft.com/*"}}}
	}

	gated := hostProcessPod()
	gated.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(localService)
	gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
	with := func(base *corev1.Pod, change func(*corev1.Pod)) *corev1.Pod {
		p := base.DeepCopy()
		change(p)
		return p
	}
	inherit := func(p *corev1.Pod) {
		p.Annotations = map[string]string{policy.InheritUserAnnotation: "true"}
	}
	running := with(gated, func(p *corev1.Pod) {
		p.Spec.SchedulingGates = nil
		p.Spec.NodeName = "win-node-1"
		p.Status.Phase = corev1.PodRunning
	})
	inheriting := with(gated, inherit)
	// A pod admitted before the configuration narrowed: it runs as SYSTEM.
	grandfathered := with(gated, func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(`NT AUTHORITY\SYSTEM`)
	})
	binding := func(annotations map[string]string) *corev1.Binding {
		return &corev1.Binding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
			ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", Annotations: annotations},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "win-node-1"},
		}
	}
	bindingOpts := reviewOpts{subResource: "binding", kind: "Binding", resource: "pods"}
	update := func(old runtime.Object, sub string) reviewOpts {
		return reviewOpts{op: admissionv1.Update, old: old, subResource: sub}
	}

	for _, tc := range []struct {
		name    string
		config  func(*config.AdmissionConfiguration)
		obj     runtime.Object
		opts    reviewOpts
		message string // "" when admitted
	}{
		{name: "annotating a gated pod to inherit the shim's user is denied, naming the annotation", config: onlyLocalService,
			obj: inheriting, opts: update(gated, ""), message: forbidden + inheritMsg},
		{name: "annotating a running pod to inherit the shim's user is denied too", config: onlyLocalService,
			obj: with(running, inherit), opts: update(running, ""), message: forbidden + inheritMsg},
		{name: "the annotation through pods/status is denied", config: onlyLocalService,
			obj: with(running, inherit), opts: update(running, "status"), message: forbidden + inheritMsg},
		{name: "the annotation through a Binding is denied", config: onlyLocalService,
			obj: binding(map[string]string{policy.InheritUserAnnotation: "true"}), opts: bindingOpts, message: forbidden + inheritMsg},
		{name: "the annotation with a value hcsshim does not honour is admitted", config: onlyLocalService,
			obj: with(gated, func(p *corev1.Pod) { p.Annotations = map[string]string{policy.InheritUserAnnotation: "false"} }), opts: update(gated, "")},
		{name: "the annotation is admitted where SYSTEM is allowed",
			obj: inheriting, opts: update(gated, "")},
		{name: "a Binding with the annotation is admitted where SYSTEM is allowed",
			obj: binding(map[string]string{policy.InheritUserAnnotation: "true"}), opts: bindingOpts},
		{name: "a Binding without annotations is admitted", config: onlyLocalService,
			obj: binding(nil), opts: bindingOpts},
		{name: "a Binding with other annotations is admitted", config: onlyLocalService,
			obj: binding(map[string]string{"example.com/placed-by": "scheduler"}), opts: bindingOpts},
		{name: "removing the annotation is admitted", config: onlyLocalService,
			obj: gated, opts: update(inheriting, "")},
		{name: "relabelling a pod that already inherits the user is admitted", config: onlyLocalService,
			obj: with(inheriting, func(p *corev1.Pod) { p.Labels["team"] = "b" }), opts: update(inheriting, "")},
		{name: "a nodeSelector for Linux added while gated is denied, naming the field", config: onlyLocalService,
			obj:     with(gated, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"} }),
			opts:    update(gated, ""),
			message: forbidden + `pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`},
		{name: "a required node affinity that excludes Windows added while gated is denied", config: onlyLocalService,
			obj: with(gated, func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"windows"}}}}}}}}
			}),
			opts: update(gated, ""),
			message: forbidden + `pod: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0] ` +
				`can only match kubernetes.io/os values other than windows (allowed: terms that can match kubernetes.io/os=windows)`},
		{name: "a nodeSelector for Windows added while gated is admitted", config: onlyLocalService,
			obj: with(gated, func(p *corev1.Pod) {
				p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows", "pool": "a"}
			}),
			opts: update(gated, "")},
		{name: "removing the scheduling gate of a compliant pod is admitted", config: onlyLocalService,
			obj: with(gated, func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }), opts: update(gated, "")},
		{name: "relabelling and adding tolerations is admitted", config: onlyLocalService,
			obj: with(gated, func(p *corev1.Pod) {
				p.Labels["team"] = "b"
				p.Spec.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
			}), opts: update(gated, "")},
		{name: "a status update of a pod the configuration no longer allows is admitted", config: onlyLocalService,
			obj: with(grandfathered, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), opts: update(grandfathered, "status")},
		{name: "changing an image of a pod with an older violation is admitted", config: onlyLocalService,
			obj:  with(grandfathered, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "mcr.microsoft.com/windows/nanoserver:ltsc2025" }),
			opts: update(grandfathered, "")},
		{name: "changing an image to one that is not allowed is denied, naming only that image", config: onlyImages,
			obj:     with(hostProcessPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Image = "docker.io/library/busybox:1" }),
			opts:    update(hostProcessPod(), ""),
			message: forbidden + `container "agent": image "docker.io/library/busybox:1" is not allowed (allowed: mcr.microsoft.com/*)`},
		{name: "resizing a pod is admitted", config: onlyLocalService,
			obj: with(running, func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
			}), opts: update(running, "resize")},
		{name: "an eviction is out of scope", config: onlyLocalService,
			obj: &corev1.Pod{}, opts: reviewOpts{subResource: "eviction"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := post(t, newHandler(t, tc.config, nil).Validate(), reviewBody(t, tc.obj, tc.opts))
			if tc.message == "" {
				if !resp.Allowed || len(resp.AuditAnnotations) != 0 {
					t.Fatalf("want admitted without annotations, got allowed=%v %+v %v", resp.Allowed, resp.Result, resp.AuditAnnotations)
				}
				return
			}
			if resp.Allowed || resp.Result == nil || resp.Result.Code != 403 || resp.Result.Message != tc.message {
				t.Fatalf("want denied:\n%s\ngot allowed=%v %+v", tc.message, resp.Allowed, resp.Result)
			}
		})
	}

	t.Run("warn mode warns about what an update introduces only", func(t *testing.T) {
		h := newHandler(t, func(c *config.AdmissionConfiguration) { onlyLocalService(c); c.Mode = config.ModeWarn }, nil)
		_, resp := post(t, h.Validate(), reviewBody(t, with(grandfathered, inherit), update(grandfathered, "")))
		want := []string{"would violate the HostProcess policy: " + inheritMsg}
		if !resp.Allowed || len(resp.Warnings) != 1 || resp.Warnings[0] != want[0] {
			t.Fatalf("got allowed=%v warnings %q, want %q", resp.Allowed, resp.Warnings, want)
		}
		if got := resp.AuditAnnotations[AnnotationViolations]; got == "" {
			t.Fatal("no violations audit annotation")
		}
	})
}
