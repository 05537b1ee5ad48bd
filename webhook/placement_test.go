package webhook

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func TestValidateWarnsAboutADaemonSetThatWouldMissTheWindowsNodes(t *testing.T) {
	withTaint := func(c *config.AdmissionConfiguration) {
		c.Defaults.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	}
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "csi-proxy", Namespace: "kube-system"},
		Spec:       appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: hostProcessPod().Spec}},
	}
	ds.Spec.Template.Spec.NodeSelector = nil
	body := reviewBody(t, ds, reviewOpts{group: "apps", resource: "daemonsets", kind: "DaemonSet"})
	_, resp := post(t, newHandler(t, withTaint, nil).Validate(), body)
	want := []string{
		`pod template: spec.template.spec.tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: ` +
			`the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint; ` +
			`add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to spec.template.spec.tolerations`,
		`pod template: spec.template.spec does not constrain kubernetes.io/os to windows: ` +
			`the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start; ` +
			`add kubernetes.io/os: windows to spec.template.spec.nodeSelector`,
	}
	if !resp.Allowed || !reflect.DeepEqual(resp.Warnings, want) {
		t.Fatalf("allowed %v, warnings:\n got %q\nwant %q", resp.Allowed, resp.Warnings, want)
	}

	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpExists}}
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows"}
	_, resp = post(t, newHandler(t, withTaint, nil).Validate(), reviewBody(t, ds, reviewOpts{group: "apps", resource: "daemonsets", kind: "DaemonSet"}))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("a DaemonSet that tolerates the taint and selects Windows nodes: allowed %v, warnings %q", resp.Allowed, resp.Warnings)
	}
}

func TestMutateDefaultsWorkloadTemplatesOnlyWhenConfigured(t *testing.T) {
	taint := corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "csi-proxy", Namespace: "kube-system"},
		Spec:       appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: hostProcessPod().Spec}},
	}
	ds.Spec.Template.Spec.NodeSelector = nil
	create := reviewOpts{group: "apps", resource: "daemonsets", kind: "DaemonSet"}
	tests := []struct {
		name      string
		templates bool
		opts      reviewOpts
		want      string
	}{{
		name:      "adds the node selector and the toleration to a DaemonSet's template on CREATE under defaults.workloadTemplates",
		templates: true,
		opts:      create,
		want:      `[{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}},{"op":"add","path":"/spec/template/spec/tolerations","value":[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]}]`,
	}, {
		name: "leaves templates alone without defaults.workloadTemplates (the default)",
		opts: create,
	}, {
		name:      "leaves templates alone on UPDATE",
		templates: true,
		opts:      reviewOpts{op: "UPDATE", group: "apps", resource: "daemonsets", kind: "DaemonSet", old: ds},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, func(c *config.AdmissionConfiguration) {
				c.Defaults.Tolerations = []corev1.Toleration{taint}
				c.Defaults.WorkloadTemplates = tc.templates
			}, nil)
			_, resp := post(t, h.Mutate(), reviewBody(t, ds, tc.opts))
			if !resp.Allowed || string(resp.Patch) != tc.want {
				t.Fatalf("allowed %v, patch:\n got %s\nwant %s", resp.Allowed, resp.Patch, tc.want)
			}
		})
	}
}

// TestPlacementAtEveryWorkloadKind sends a HostProcess template without the
// Windows toleration or node selector in every workload kind of
// policy.Kinds: the validating webhook warns a DaemonSet only (the other
// kinds' pods are defaulted before they are scheduled), and under
// defaults.workloadTemplates the mutating webhook adds both to every kind's
// template on CREATE, after which no kind is warned.
func TestPlacementAtEveryWorkloadKind(t *testing.T) {
	taint := corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}
	configure := func(templates bool) func(*config.AdmissionConfiguration) {
		return func(c *config.AdmissionConfiguration) {
			c.Defaults.Tolerations = []corev1.Toleration{taint}
			c.Defaults.WorkloadTemplates = templates
		}
	}
	kinds := 0
	for i := range policy.Kinds {
		k := &policy.Kinds[i]
		if !k.Workload() {
			continue
		}
		kinds++
		t.Run(k.Kind, func(t *testing.T) {
			obj := k.New()
			obj.GetObjectKind().SetGroupVersionKind(k.GroupVersionKind)
			if rc, ok := obj.(*corev1.ReplicationController); ok {
				rc.Spec.Template = &corev1.PodTemplateSpec{}
			}
			spec := k.Extract(obj).Spec
			*spec = hostProcessPod().Spec
			path := k.SpecPath()
			opts := reviewOpts{group: k.Group, resource: k.Resource, kind: k.Kind}

			var want []string
			if k.Kind == "DaemonSet" {
				want = []string{
					`pod template: ` + path + `.tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: ` +
						`the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint; ` +
						`add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to ` + path + `.tolerations`,
					`pod template: ` + path + ` does not constrain kubernetes.io/os to windows: ` +
						`the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start; ` +
						`add kubernetes.io/os: windows to ` + path + `.nodeSelector`,
				}
			}
			_, resp := post(t, newHandler(t, configure(false), nil).Validate(), reviewBody(t, obj, opts))
			if !resp.Allowed || !reflect.DeepEqual(resp.Warnings, want) {
				t.Errorf("validate: allowed %v, warnings:\n got %q\nwant %q", resp.Allowed, resp.Warnings, want)
			}

			_, resp = post(t, newHandler(t, configure(false), nil).Mutate(), reviewBody(t, obj, opts))
			if !resp.Allowed || resp.Patch != nil {
				t.Errorf("mutate without defaults.workloadTemplates: allowed %v, patch %s; want no patch", resp.Allowed, resp.Patch)
			}

			pointer := "/" + strings.ReplaceAll(path, ".", "/")
			wantPatch := `[{"op":"add","path":"` + pointer + `/nodeSelector","value":{"kubernetes.io/os":"windows"}},` +
				`{"op":"add","path":"` + pointer + `/tolerations","value":[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]}]`
			_, resp = post(t, newHandler(t, configure(true), nil).Mutate(), reviewBody(t, obj, opts))
			if !resp.Allowed || string(resp.Patch) != wantPatch {
				t.Fatalf("mutate under defaults.workloadTemplates: allowed %v, patch:\n got %s\nwant %s", resp.Allowed, resp.Patch, wantPatch)
			}

			// What the API server then sends the validating webhook: the
			// defaulted template, which no kind is warned about.
			spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows"}
			spec.Tolerations = []corev1.Toleration{taint}
			_, resp = post(t, newHandler(t, configure(true), nil).Validate(), reviewBody(t, obj, opts))
			if !resp.Allowed || len(resp.Warnings) != 0 {
				t.Errorf("validate the defaulted template: allowed %v, warnings %q; want none", resp.Allowed, resp.Warnings)
			}
			_, resp = post(t, newHandler(t, configure(true), nil).Mutate(), reviewBody(t, obj, opts))
			if !resp.Allowed || resp.Patch != nil {
				t.Errorf("mutate the defaulted template again: allowed %v, patch %s; want none (idempotent)", resp.Allowed, resp.Patch)
			}
		})
	}
	if kinds < 8 {
		t.Fatalf("policy.Kinds has %d workload kinds, want at least 8", kinds)
	}
}
