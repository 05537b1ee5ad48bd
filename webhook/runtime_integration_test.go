//go:build !windows

package webhook_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// The spec's "Runtime fidelity" through the real serve binary and a real
// kube-apiserver: what the client sees for the annotations that change the
// account, the spellings that fail at start, and the pod kubectl debug creates
// on a Windows node.

const runtimeConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: enforce
workloadMode: enforce
namespaceRules:
- namespaces: [services]
  allowedUsers: ["NT AUTHORITY\\LocalService"]
- namespaces: [node-debug]
  allowedUsers: ["NT AUTHORITY\\SYSTEM"]
  allowedImages: ["mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:*"]
`

const (
	debugImage = "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0"
	inheritKey = "microsoft.com/hostprocess-inherit-user"
)

// debugNodePod is the pod `kubectl debug node/win-node-1 --profile sysadmin`
// creates for a Windows node (kubernetes PR 138182).
func debugNodePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "node-debugger-win-node-1-x7k2p"},
		Spec: corev1.PodSpec{
			NodeName: "win-node-1", RestartPolicy: corev1.RestartPolicyNever, HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}},
			Tolerations:     []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{Name: "debugger", Image: debugImage, Stdin: true, TTY: true,
				SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To(`NT AUTHORITY\SYSTEM`)}}}},
		},
	}
}

func TestServeJudgesTheAccountTheRuntimeRuns(t *testing.T) {
	env := testenv.Start(t, testenv.WithWebhookInstallOptions(webhookConfigurations()))
	serve := startServe(t, env)
	writeFile(t, serve.configPath, runtimeConfig)
	warned := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warned
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []string{"services", "node-debug"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const denied = `admission webhook "validate.hostprocess.dev" denied the request: `
	inheritPod := func(name string) *corev1.Pod {
		p := hpPod(name, `NT AUTHORITY\Local service`)
		p.Spec.Containers[0].Image = debugImage
		p.Annotations = map[string]string{inheritKey: "true"}
		return p
	}
	inheritDenied := func(kind, name, meta string) string {
		return denied + kind + ` "` + name + `" is forbidden: violates the HostProcess policy: pod: ` + meta +
			`.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\LocalService)`
	}
	eventually(t, 20*time.Second, "the test configuration", func() error {
		_, err := cs.CoreV1().Pods("services").Create(ctx, inheritPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if want := inheritDenied("pods", "probe", "metadata"); err == nil || err.Error() != want {
			return fmt.Errorf("not yet in force: %v", err)
		}
		return nil
	})

	t.Run("item 1: an inherit-user pod runs as SYSTEM and is denied where SYSTEM is not allowed", func(t *testing.T) {
		_, err := cs.CoreV1().Pods("services").Create(ctx, inheritPod("inherit"), metav1.CreateOptions{})
		if want := inheritDenied("pods", "inherit", "metadata"); err == nil || err.Error() != want {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
	})

	t.Run("item 1: where SYSTEM is allowed it is created, with a warning", func(t *testing.T) {
		warned.take()
		if _, err := cs.CoreV1().Pods("node-debug").Create(ctx, inheritPod("inherit"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []string{`pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM; runAsUserName has no effect`}
		if got := warned.take(); !slices.Equal(got, want) {
			t.Fatalf("warnings %q, want %q", got, want)
		}
	})

	t.Run("item 1: a Deployment's template annotation is judged, on create and on update", func(t *testing.T) {
		p := hpPod("agent", `NT AUTHORITY\Local service`)
		p.Spec.Containers[0].Image = debugImage
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "agent"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"},
					Annotations: map[string]string{inheritKey: "true"}}, Spec: p.Spec},
			},
		}
		_, err := cs.AppsV1().Deployments("services").Create(ctx, d, metav1.CreateOptions{})
		if want := inheritDenied("deployments.apps", "agent", "spec.template.metadata"); err == nil || err.Error() != want {
			t.Fatalf("create: error:\ngot:  %v\nwant: %s", err, want)
		}
		d.Spec.Template.Annotations = nil
		if _, err := cs.AppsV1().Deployments("services").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Adding the annotation changes no spec field, but every new pod would
		// run as SYSTEM: the update is judged.
		patch := []byte(`{"spec":{"template":{"metadata":{"annotations":{"microsoft.com/hostprocess-inherit-user":"true"}}}}}`)
		_, err = cs.AppsV1().Deployments("services").Patch(ctx, "agent", types.MergePatchType, patch, metav1.PatchOptions{})
		if want := inheritDenied("deployments.apps", "agent", "spec.template.metadata"); err == nil || err.Error() != want {
			t.Fatalf("update: error:\ngot:  %v\nwant: %s", err, want)
		}
	})

	t.Run("item 1: annotating an existing pod is judged, and so is an ephemeral container added to an annotated pod", func(t *testing.T) {
		p := hpPod("annotated-later", `NT AUTHORITY\Local service`)
		p.Spec.Containers[0].Image = debugImage
		if _, err := cs.CoreV1().Pods("services").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The kubelet copies the pod's annotations into every new sandbox:
		// annotating a pod after its creation is judged like creating it.
		patch := []byte(`{"metadata":{"annotations":{"microsoft.com/hostprocess-inherit-user":"true"}}}`)
		_, err := cs.CoreV1().Pods("services").Patch(ctx, "annotated-later", types.MergePatchType, patch, metav1.PatchOptions{})
		if want := inheritDenied("pods", "annotated-later", "metadata"); err == nil || err.Error() != want {
			t.Fatalf("annotating an existing pod: error:\ngot:  %v\nwant: %s", err, want)
		}
		// A pod that has the annotation already (admitted where SYSTEM is
		// allowed) gets its debug containers judged as SYSTEM.
		writeFile(t, serve.configPath, strings.Replace(runtimeConfig, "- namespaces: [services]", "- namespaces: [services-old]", 1)+
			"- namespaces: [services]\n  allowedUsers: [\"NT AUTHORITY\\\\SYSTEM\", \"NT AUTHORITY\\\\LocalService\"]\n")
		eventually(t, 20*time.Second, "SYSTEM allowed in services", func() error {
			_, err := cs.CoreV1().Pods("services").Patch(ctx, "annotated-later", types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
		writeFile(t, serve.configPath, runtimeConfig)
		got, err := cs.CoreV1().Pods("services").Get(ctx, "annotated-later", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the test configuration again", func() error {
			_, err := cs.CoreV1().Pods("services").Create(ctx, inheritPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if want := inheritDenied("pods", "probe", "metadata"); err == nil || err.Error() != want {
				return fmt.Errorf("not yet in force: %v", err)
			}
			return nil
		})
		got.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: debugImage,
			SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To(`NT AUTHORITY\Local service`)}}}}}
		_, err = cs.CoreV1().Pods("services").UpdateEphemeralContainers(ctx, "annotated-later", got, metav1.UpdateOptions{})
		if want := inheritDenied("pods", "annotated-later", "metadata"); err == nil || err.Error() != want {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
	})

	t.Run("item 2: nt authority in lower case is created with the warning that it will fail at start", func(t *testing.T) {
		warned.take()
		p := hpPod("lowercase", `nt authority\system`)
		p.Spec.Containers[0].Image = debugImage
		if _, err := cs.CoreV1().Pods("node-debug").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []string{`pod: spec.securityContext.windowsOptions.runAsUserName "nt authority\system" will fail to start on the node: ` +
			`the runtime logs NT AUTHORITY accounts on as services only when the domain is written "NT AUTHORITY" in capitals, ` +
			`and this account cannot log on otherwise; write "NT AUTHORITY\system"`}
		if got := warned.take(); !slices.Equal(got, want) {
			t.Fatalf("warnings %q, want %q", got, want)
		}
	})

	t.Run("item 3: Local Service matches the allowed LocalService, NetworkService does not", func(t *testing.T) {
		if _, err := cs.CoreV1().Pods("services").Create(ctx, hpPod("local-service", `NT AUTHORITY\Local Service`), metav1.CreateOptions{}); err != nil {
			t.Fatalf("NT AUTHORITY\\Local Service under an allowed NT AUTHORITY\\LocalService: %v", err)
		}
		_, err := cs.CoreV1().Pods("services").Create(ctx, hpPod("network-service", `NT AUTHORITY\NetworkService`), metav1.CreateOptions{})
		want := denied + `pods "network-service" is forbidden: violates the HostProcess policy: pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\NetworkService" is not allowed (allowed: NT AUTHORITY\LocalService)`
		if err == nil || err.Error() != want {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
	})

	t.Run("item 5: the kubectl debug node pod is created in the debug namespace, denied elsewhere", func(t *testing.T) {
		created, err := cs.CoreV1().Pods("node-debug").Create(ctx, debugNodePod(), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"kubernetes.io/os": "windows"}; fmt.Sprint(created.Spec.NodeSelector) != fmt.Sprint(want) {
			t.Fatalf("nodeSelector %v, want %v", created.Spec.NodeSelector, want)
		}
		_, err = cs.CoreV1().Pods("services").Create(ctx, debugNodePod(), metav1.CreateOptions{})
		want := denied + `pods "node-debugger-win-node-1-x7k2p" is forbidden: violates the HostProcess policy: container "debugger": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\LocalService)`
		if err == nil || err.Error() != want {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
	})
}
