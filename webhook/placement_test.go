package webhook

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
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
