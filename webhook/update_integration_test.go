//go:build !windows

package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// The changes after admission of issue 21, through the chart's own rendered
// webhook configurations (rules and matchConditions) and the real serve
// binary, under a configuration that allows only NT AUTHORITY\Local service.
const localServiceConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: enforce
workloadMode: enforce
allowedUsers: ["NT AUTHORITY\\Local service"]
namespaceRules:
- namespaces: [agents]
  allowedImages: ["mcr.microsoft.com/*"]
`

func TestUpdatesThroughTheChartsWebhooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hooks, err := testenv.ChartWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.WithWebhookInstallOptions(hooks))
	serve := startServe(t, env)
	writeFile(t, serve.configPath, localServiceConfig)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	const ns = "agents"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods(ns)
	const denied = `admission webhook "validate.hostprocess.dev" denied the request: `
	forbidden := func(name, msg string) string {
		return denied + `pods "` + name + `" is forbidden: violates the HostProcess policy: ` + msg
	}
	const inheritMsg = `pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)`

	gatedPod := func(name string) *corev1.Pod {
		p := hpPod(name, `NT AUTHORITY\Local service`)
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
		return p
	}
	// In force when a Local service pod is admitted in the namespace (the
	// configuration startServe wrote allows no HostProcess pod there) and a
	// SYSTEM pod is not.
	inForce := func() error {
		if _, err := pods.Create(ctx, hpPod("probe", `NT AUTHORITY\Local service`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			return err
		}
		if _, err := pods.Create(ctx, hpPod("probe", `NT AUTHORITY\SYSTEM`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil {
			return fmt.Errorf("a SYSTEM pod is still admitted")
		}
		return nil
	}
	eventually(t, 30*time.Second, "the Local service configuration", inForce)
	create := func(t *testing.T, p *corev1.Pod) {
		t.Helper()
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patch := func(name, sub string, body any) error { return testenv.MergePatchPod(ctx, pods, name, sub, body) }
	expect := func(t *testing.T, err error, want string) {
		t.Helper()
		switch {
		case want == "" && err != nil:
			t.Fatalf("refused, want admitted: %v", err)
		case want != "" && (err == nil || err.Error() != want):
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
	}
	annotate := map[string]any{"metadata": map[string]any{"annotations": map[string]string{policy.InheritUserAnnotation: "true"}}}

	t.Run("annotating a gated pod to inherit the shim's user is refused, naming the annotation", func(t *testing.T) {
		create(t, gatedPod("gated-annotate"))
		expect(t, patch("gated-annotate", "", annotate), forbidden("gated-annotate", inheritMsg))
	})
	t.Run("so is the same annotation through pods/status", func(t *testing.T) {
		create(t, gatedPod("gated-status"))
		expect(t, patch("gated-status", "status", annotate), forbidden("gated-status", inheritMsg))
	})
	t.Run("so is the same annotation through a Binding", func(t *testing.T) {
		create(t, hpPod("bound", `NT AUTHORITY\Local service`))
		err := pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: "bound", Annotations: map[string]string{policy.InheritUserAnnotation: "true"}},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "win-node-1"},
		}, metav1.CreateOptions{})
		expect(t, err, forbidden("bound", inheritMsg))
		t.Run("and the scheduler's Binding is admitted", func(t *testing.T) {
			err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"},
				Target: corev1.ObjectReference{Kind: "Node", Name: "win-node-1"}}, metav1.CreateOptions{})
			expect(t, err, "")
			p, err := pods.Get(ctx, "bound", metav1.GetOptions{})
			if err != nil || p.Spec.NodeName != "win-node-1" || p.Annotations[policy.InheritUserAnnotation] != "" {
				t.Fatalf("pod after binding: %v %v", p, err)
			}
		})
	})
	t.Run("a nodeSelector for Linux added while gated is refused, naming the field", func(t *testing.T) {
		// A term that can match both operating systems leaves kubernetes.io/os
		// to the owner: the mutating webhook adds no nodeSelector.
		p := gatedPod("gated-linux")
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpIn, Values: []string{"windows", "linux"}}}}}}}}
		create(t, p)
		expect(t, patch("gated-linux", "", map[string]any{"spec": map[string]any{"nodeSelector": map[string]string{"kubernetes.io/os": "linux"}}}),
			forbidden("gated-linux", `pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`))
	})
	t.Run("a node affinity that excludes Windows added while gated is refused", func(t *testing.T) {
		create(t, gatedPod("gated-notin"))
		expect(t, patch("gated-notin", "", map[string]any{"spec": map[string]any{"affinity": map[string]any{"nodeAffinity": map[string]any{
			"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
				map[string]any{"key": "kubernetes.io/os", "operator": "NotIn", "values": []string{"windows"}}}}}}}}}}),
			forbidden("gated-notin", `pod: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0] `+
				`can only match kubernetes.io/os values other than windows (allowed: terms that can match kubernetes.io/os=windows)`))
	})
	t.Run("a gated pod that stays compliant can be relabelled, annotated and un-gated", func(t *testing.T) {
		create(t, gatedPod("gated-ok"))
		expect(t, patch("gated-ok", "", map[string]any{"metadata": map[string]any{
			"labels": map[string]string{"team": "b"}, "annotations": map[string]string{"example.com/owner": "team-b"}}}), "")
		expect(t, patch("gated-ok", "", map[string]any{"spec": map[string]any{"nodeSelector": map[string]string{"pool": "agents"}}}), "")
		p, err := pods.Get(ctx, "gated-ok", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.SchedulingGates = nil
		_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
		expect(t, err, "")
	})
	t.Run("a pod the configuration no longer allows can still be relabelled and un-gated", func(t *testing.T) {
		writeFile(t, serve.configPath, "apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\n")
		eventually(t, 30*time.Second, "the default configuration", func() error {
			_, err := pods.Create(ctx, gatedPod("old").DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return err
			}
			system := hpPod("old-system", `NT AUTHORITY\SYSTEM`)
			_, err = pods.Create(ctx, system, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		})
		old := gatedPod("old")
		old.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(`NT AUTHORITY\SYSTEM`)
		create(t, old)
		writeFile(t, serve.configPath, localServiceConfig)
		eventually(t, 30*time.Second, "the Local service configuration again", inForce)
		expect(t, patch("old", "", map[string]any{"metadata": map[string]any{"labels": map[string]string{"team": "c"}}}), "")
		expect(t, patch("old", "", map[string]any{"metadata": map[string]any{"annotations": map[string]string{policy.InheritUserAnnotation: "true"}}}),
			forbidden("old", inheritMsg))
		expect(t, patch("old", "", map[string]any{"spec": map[string]any{"schedulingGates": nil}}), "")
	})

	t.Run("workload templates are judged on every way to change them", func(t *testing.T) {
		const wdenied = `admission webhook "validate-workloads.hostprocess.dev" denied the request: deployments.apps "agent" is forbidden: violates the HostProcess policy: `
		const inheritTemplate = `pod: spec.template.metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)`
		const badImage = `container "agent": image "docker.io/library/busybox:1" is not allowed (allowed: mcr.microsoft.com/*)`
		p := hpPod("agent", `NT AUTHORITY\Local service`)
		d := &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "agent"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}}, Spec: p.Spec},
			},
		}
		deployments := cs.AppsV1().Deployments(ns)
		if _, err := deployments.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		annotation := `{"spec":{"template":{"metadata":{"annotations":{"microsoft.com/hostprocess-inherit-user":"true"}}}}}`
		for _, tc := range []struct {
			name string
			pt   types.PatchType
			body string
			want string
		}{
			{"a JSON patch of the template's annotations", types.JSONPatchType,
				`[{"op":"add","path":"/spec/template/metadata/annotations","value":{"microsoft.com/hostprocess-inherit-user":"true"}}]`, wdenied + inheritTemplate},
			{"a merge patch of the template's annotations", types.MergePatchType, annotation, wdenied + inheritTemplate},
			{"a strategic merge patch of the template's annotations", types.StrategicMergePatchType, annotation, wdenied + inheritTemplate},
			{"a strategic merge patch of an image, as kubectl set image sends", types.StrategicMergePatchType,
				`{"spec":{"template":{"spec":{"containers":[{"name":"agent","image":"docker.io/library/busybox:1"}]}}}}`, wdenied + badImage},
			{"a strategic merge patch of the restartedAt annotation, as kubectl rollout restart sends", types.StrategicMergePatchType,
				`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-07T22:00:00Z"}}}}}`, ""},
			{"a replicas change", types.MergePatchType, `{"spec":{"replicas":3}}`, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := deployments.Patch(ctx, "agent", tc.pt, []byte(tc.body), metav1.PatchOptions{})
				expect(t, err, tc.want)
			})
		}
		t.Run("server-side apply of the template's annotations", func(t *testing.T) {
			applied := d.DeepCopy()
			applied.Spec.Template.Annotations = map[string]string{policy.InheritUserAnnotation: "true"}
			body, err := json.Marshal(applied)
			if err != nil {
				t.Fatal(err)
			}
			_, err = deployments.Patch(ctx, "agent", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "ci", Force: ptr.To(true)})
			expect(t, err, wdenied+inheritTemplate)
		})
		t.Run("kubectl set image and rollout restart", func(t *testing.T) {
			res, err := env.Run(ctx, testenv.Kubectl, "set", "image", "-n", ns, "deployment/agent", "agent=docker.io/library/busybox:1")
			if err == nil || !strings.Contains(res, wdenied+badImage) {
				t.Fatalf("kubectl set image: %v\n%s", err, res)
			}
			if res, err := env.Run(ctx, testenv.Kubectl, "rollout", "restart", "-n", ns, "deployment/agent"); err != nil {
				t.Fatalf("kubectl rollout restart: %v\n%s", err, res)
			}
		})
	})
}
