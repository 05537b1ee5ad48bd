package checker

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const csiProxy = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: csi-proxy, namespace: kube-system}
spec:
  selector: {matchLabels: {app: csi-proxy}}
  template:
    metadata: {labels: {app: csi-proxy}}
    spec:
      hostNetwork: true
      securityContext: {windowsOptions: {hostProcess: true, runAsUserName: 'NT AUTHORITY\SYSTEM'}}
      containers: [{name: csi-proxy, image: csi-proxy:v1}]
`

func TestCheckDaemonSetPlacement(t *testing.T) {
	taint := corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name      string
		templates bool
		want      string
	}{{
		name: "warns that a DaemonSet without the toleration and the selector misses the Windows nodes",
		want: `ADMITTED DaemonSet kube-system/csi-proxy (ds.yaml)
  warning: pod template: spec.template.spec.tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint; add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to spec.template.spec.tolerations
  warning: pod template: spec.template.spec does not constrain kubernetes.io/os to windows: the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start; add kubernetes.io/os: windows to spec.template.spec.nodeSelector
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:      "defaults the template under defaults.workloadTemplates, and then has nothing to warn about",
		templates: true,
		want: `ADMITTED DaemonSet kube-system/csi-proxy (ds.yaml)
  default: add /spec/template/spec/nodeSelector {"kubernetes.io/os":"windows"}
  default: add /spec/template/spec/tolerations [{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Defaults.Tolerations = []corev1.Toleration{taint}
			cfg.Defaults.WorkloadTemplates = tc.templates
			p, err := policy.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := manifest.Read("ds.yaml", []byte(csiProxy))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Check(p, objs).WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("check (-want +got):\n%s", diff)
			}
		})
	}
}
