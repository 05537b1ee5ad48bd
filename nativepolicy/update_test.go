//go:build !windows

package nativepolicy_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// TestUpdatesThroughTheNativePolicies: the changes after admission of issue
// 21 against the generated policies alone, in a real API server, under a
// configuration that allows only NT AUTHORITY\Local service.
func TestUpdatesThroughTheNativePolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	c := startCluster(t, "native-updates", false)
	if c == nil {
		return
	}
	cfg, err := config.Decode([]byte("apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\nallowedUsers: [\"NT AUTHORITY\\\\Local service\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	createNamespaces(t, c)
	installNative(t, c, cfg)
	waitForMode(t, c, cfg, "local-service")
	ctx := context.Background()
	pods := c.cs.CoreV1().Pods("default")
	const inheritMsg = `pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)`
	expect := func(t *testing.T, err error, want string) {
		t.Helper()
		switch {
		case want == "" && err != nil:
			t.Fatalf("refused, want admitted: %v", err)
		case want != "" && (err == nil || !strings.HasSuffix(err.Error(), "denied request: violates the HostProcess policy: "+want)):
			t.Fatalf("error:\ngot:  %v\nwant: ... denied request: violates the HostProcess policy: %s", err, want)
		}
	}
	gated := func(t *testing.T, name string, change func(*corev1.Pod)) {
		t.Helper()
		p := validPod()
		p.Name = name
		p.Spec.EphemeralContainers = nil
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(`NT AUTHORITY\Local service`)
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
		if change != nil {
			change(p)
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patch := func(name, sub string, body any) error { return testenv.MergePatchPod(ctx, pods, name, sub, body) }
	annotate := map[string]any{"metadata": map[string]any{"annotations": map[string]string{policy.InheritUserAnnotation: "true"}}}

	t.Run("annotating a gated pod to inherit the shim's user is refused, naming the annotation", func(t *testing.T) {
		gated(t, "annotate", nil)
		expect(t, patch("annotate", "", annotate), inheritMsg)
	})
	t.Run("so is the same annotation through pods/status", func(t *testing.T) {
		gated(t, "status", nil)
		expect(t, patch("status", "status", annotate), inheritMsg)
	})
	t.Run("so is the same annotation through a Binding, and the plain Binding is admitted", func(t *testing.T) {
		gated(t, "bound", func(p *corev1.Pod) { p.Spec.SchedulingGates = nil })
		bind := func(annotations map[string]string) error {
			return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound", Annotations: annotations},
				Target: corev1.ObjectReference{Kind: "Node", Name: "win-node-1"}}, metav1.CreateOptions{})
		}
		expect(t, bind(map[string]string{policy.InheritUserAnnotation: "true"}), inheritMsg)
		expect(t, bind(nil), "")
	})
	t.Run("a nodeSelector for Linux added while gated is refused, naming the field", func(t *testing.T) {
		gated(t, "linux", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpIn, Values: []string{"windows", "linux"}}}}}}}}
		})
		expect(t, patch("linux", "", map[string]any{"spec": map[string]any{"nodeSelector": map[string]string{"kubernetes.io/os": "linux"}}}),
			`pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`)
	})
	t.Run("a gated pod that stays compliant can be relabelled, annotated and un-gated", func(t *testing.T) {
		gated(t, "ok", nil)
		expect(t, patch("ok", "", map[string]any{"metadata": map[string]any{
			"labels": map[string]string{"team": "b"}, "annotations": map[string]string{"example.com/owner": "team-b"}}}), "")
		expect(t, patch("ok", "", map[string]any{"spec": map[string]any{"schedulingGates": nil}}), "")
	})
}
