//go:build !windows

package webhook_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hostprocess-admission/hostprocess-admission/internal/servetest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// placementConfig configures the Windows nodes' taint as a default
// toleration, with defaults.workloadTemplates set to %t.
const placementConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
defaults:
  tolerations: [{key: os, operator: Equal, value: windows, effect: NoSchedule}]
  workloadTemplates: %t
`

// placementWebhooks are the chart's webhooks for pods and DaemonSets, with
// the mutating webhook also called for DaemonSet CREATEs, as the chart
// configures it under config.defaults.workloadTemplates.
func placementWebhooks() envtest.WebhookInstallOptions {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	svc := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "x", Namespace: "x", Path: ptr.To(path)}}
	}
	rules := func(ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
		return []admissionregistrationv1.RuleWithOperations{
			{Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}},
			{Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"daemonsets"}}},
		}
	}
	return envtest.WebhookInstallOptions{
		ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-admission"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: "validate.hostprocess.dev", ClientConfig: svc("validate"),
				Rules:         rules(admissionregistrationv1.Create, admissionregistrationv1.Update),
				FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			}},
		}},
		MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-admission"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "mutate.hostprocess.dev", ClientConfig: svc("mutate"),
				Rules:         rules(admissionregistrationv1.Create),
				FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			}},
		}},
	}
}

func csiProxyDaemonSet(name string) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       hpPod(name, `NT AUTHORITY\SYSTEM`).Spec,
			},
		},
	}
}

func TestDaemonSetPlacementAgainstTheAPIServer(t *testing.T) {
	env := testenv.Start(t, testenv.WithWebhookInstallOptions(placementWebhooks()))
	w := env.Environment.WebhookInstallOptions
	serve := servetest.Start(t, servetest.Options{
		Kubeconfig: env.Kubeconfig, CertDir: w.LocalServingCertDir, Port: w.LocalServingPort,
		Config: []byte(fmt.Sprintf(placementConfig, false)),
	})
	warned := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warned
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-windows"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	daemonSets := cs.AppsV1().DaemonSets("kube-windows")
	taint := corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}

	t.Run("without defaults.workloadTemplates a DaemonSet that would miss the Windows nodes is admitted as written, with warnings", func(t *testing.T) {
		warned.take()
		created, err := daemonSets.Create(ctx, csiProxyDaemonSet("csi-proxy"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			`pod template: spec.template.spec.tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: ` +
				`the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint; ` +
				`add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to spec.template.spec.tolerations`,
			`pod template: spec.template.spec does not constrain kubernetes.io/os to windows: ` +
				`the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start; ` +
				`add kubernetes.io/os: windows to spec.template.spec.nodeSelector`,
		}
		if got := warned.take(); !reflect.DeepEqual(got, want) {
			t.Errorf("warnings:\n got %q\nwant %q", got, want)
		}
		if s := created.Spec.Template.Spec; len(s.Tolerations) != 0 || len(s.NodeSelector) != 0 {
			t.Errorf("the template was changed: tolerations %v, nodeSelector %v", s.Tolerations, s.NodeSelector)
		}
	})

	t.Run("with defaults.workloadTemplates a new DaemonSet's template gets the toleration and the node selector, and no warning", func(t *testing.T) {
		servetest.WriteFile(t, serve.ConfigPath, []byte(fmt.Sprintf(placementConfig, true)))
		var created *appsv1.DaemonSet
		eventually(t, 20*time.Second, "the reloaded configuration", func() error {
			name := fmt.Sprintf("csi-proxy-%d", time.Now().UnixNano())
			warned.take()
			ds, err := daemonSets.Create(ctx, csiProxyDaemonSet(name), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Spec.Template.Spec.Tolerations) == 0 {
				return fmt.Errorf("%s has no toleration yet", name)
			}
			created = ds
			return nil
		})
		s := created.Spec.Template.Spec
		if !reflect.DeepEqual(s.Tolerations, []corev1.Toleration{taint}) || !reflect.DeepEqual(s.NodeSelector, map[string]string{"kubernetes.io/os": "windows"}) {
			t.Errorf("template tolerations %v, nodeSelector %v; want the default toleration and kubernetes.io/os: windows", s.Tolerations, s.NodeSelector)
		}
		if got := warned.take(); len(got) != 0 {
			t.Errorf("warnings %q, want none for a defaulted template", got)
		}
		// Idempotent and CREATE only: an update leaves the template as it is.
		created.Labels = map[string]string{"relabelled": "yes"}
		updated, err := daemonSets.Update(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(updated.Spec.Template.Spec.Tolerations, s.Tolerations) {
			t.Errorf("the update changed the tolerations to %v", updated.Spec.Template.Spec.Tolerations)
		}
	})
}
