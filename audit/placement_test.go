package audit_test

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func TestScannerWarnsAboutADaemonSetThatWouldMissTheWindowsNodes(t *testing.T) {
	cfg := config.Default()
	cfg.Defaults.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := audit.NewScanner(p)
	s.AddNamespace("kube-system", nil, false)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "csi-proxy"},
		Spec:       appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: audittest.HostProcessSpec(audittest.System, "", "mcr.microsoft.com/img")}},
	}
	if err := s.AddWorkload(ds); err != nil {
		t.Fatal(err)
	}
	res := s.Result()
	if len(res.Objects) != 1 {
		t.Fatalf("objects %v, want the DaemonSet", res.Objects)
	}
	want := []string{
		`pod template: spec.template.spec.tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: ` +
			`the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint; ` +
			`add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to spec.template.spec.tolerations`,
		`pod template: spec.template.spec does not constrain kubernetes.io/os to windows: ` +
			`the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start; ` +
			`add kubernetes.io/os: windows to spec.template.spec.nodeSelector`,
	}
	if o := res.Objects[0]; o.Status != audit.StatusCompliant || !reflect.DeepEqual(o.Warnings, want) {
		t.Errorf("status %s, warnings:\n got %q\nwant %q", o.Status, o.Warnings, want)
	}
}
