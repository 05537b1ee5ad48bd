//go:build !windows

package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hostprocess-admission/hostprocess-admission/internal/servetest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// This test drives the real serve command through a real kube-apiserver and
// etcd: objects are created with client-go, the API server calls the webhooks
// over TLS, and the test asserts what the client sees.

const testConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: %s
workloadMode: %s
allowedLocalGroups: [hpc-agents]
namespaceRules:
- namespaces: [hp-system]
- namespaceSelector:
    matchLabels: {hostprocess.dev/allowed: "true"}
  allowedImages: ["mcr.microsoft.com/*"]
`

const allowedNames = `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM, hpc-agents`

func webhookConfigurations() envtest.WebhookInstallOptions {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources},
		}
	}
	svc := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "x", Namespace: "x", Path: ptr.To(path)}}
	}
	return envtest.WebhookInstallOptions{
		ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-admission"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "validate.hostprocess.dev",
				ClientConfig:            svc("validate"),
				Rules:                   []admissionregistrationv1.RuleWithOperations{rule("", "pods", "pods/ephemeralcontainers"), rule("apps", "deployments")},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}},
		MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-admission"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name:         "mutate.hostprocess.dev",
				ClientConfig: svc("mutate"),
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}},
	}
}

// serveProcess is a running `hostprocess-admission serve`.
type serveProcess struct {
	*servetest.Process
	cmd        *exec.Cmd
	configPath string
	probeAddr  string
	metricsURL string
}

func (s *serveProcess) setConfig(t *testing.T, mode, workloadMode string) {
	t.Helper()
	writeFile(t, s.configPath, fmt.Sprintf(testConfig, mode, workloadMode))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	servetest.WriteFile(t, path, []byte(content))
}

var (
	freeAddr   = servetest.FreeAddr
	eventually = servetest.Eventually
)

func TestMain(m *testing.M) { servetest.Main(m) }

// startServe runs the serve command against env with the test configuration;
// args are added after the default flags and override them (e.g. "--port").
func startServe(t *testing.T, env *testenv.Env, args ...string) *serveProcess {
	t.Helper()
	w := env.Environment.WebhookInstallOptions
	p := servetest.Start(t, servetest.Options{
		Kubeconfig: env.Kubeconfig, CertDir: w.LocalServingCertDir, Port: w.LocalServingPort,
		Config: []byte(fmt.Sprintf(testConfig, "enforce", "warn")), Args: args,
	})
	return &serveProcess{Process: p, cmd: p.Cmd, configPath: p.ConfigPath, probeAddr: p.ProbeAddr, metricsURL: p.MetricsURL}
}

// warnings collects the warnings the API server returns to the client.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

func hpPod(name, user string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess: ptr.To(true), RunAsUserName: ptr.To(user)}},
			Containers: []corev1.Container{{Name: "agent", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}},
		},
	}
}

func TestServeAgainstTheAPIServer(t *testing.T) {
	env := testenv.Start(t, testenv.WithWebhookInstallOptions(webhookConfigurations()))
	serve := startServe(t, env)
	warned := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warned
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "hp-system"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "agents"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "labelled", Labels: map[string]string{"hostprocess.dev/allowed": "true"}}},
	} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods := func(ns string) interface {
		Create(context.Context, *corev1.Pod, metav1.CreateOptions) (*corev1.Pod, error)
	} {
		return cs.CoreV1().Pods(ns)
	}
	const denied = `admission webhook "validate.hostprocess.dev" denied the request: `

	t.Run("a violating pod is rejected with the rule's message", func(t *testing.T) {
		for _, tc := range []struct {
			name, ns string
			pod      func() *corev1.Pod
			want     string
		}{{
			name: "runAsUserName", ns: "hp-system",
			pod: func() *corev1.Pod {
				p := hpPod("bad-user", `NT AUTHORITY\SYSTEM`)
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To(`NT AUTHORITY\ANONYMOUS LOGON`)}}
				return p
			},
			want: denied + `pods "bad-user" is forbidden: violates the HostProcess policy: container "agent": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: ` + allowedNames + `)`,
		}, {
			name: "runAsNonRoot", ns: "hp-system",
			pod: func() *corev1.Pod {
				p := hpPod("non-root", `NT AUTHORITY\SYSTEM`)
				p.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
				return p
			},
			want: denied + `pods "non-root" is forbidden: violates the HostProcess policy: pod: spec.securityContext.runAsNonRoot is true (allowed: unset or false)`,
		}, {
			name: "windowsOS", ns: "hp-system",
			pod: func() *corev1.Pod {
				p := hpPod("linux-node", `NT AUTHORITY\SYSTEM`)
				p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
				return p
			},
			want: denied + `pods "linux-node" is forbidden: violates the HostProcess policy: pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`,
		}, {
			name: "namespace", ns: "agents",
			pod:  func() *corev1.Pod { return hpPod("wrong-namespace", `NT AUTHORITY\SYSTEM`) },
			want: denied + `pods "wrong-namespace" is forbidden: violates the HostProcess policy: pod: namespace "agents" is not allowed to run HostProcess pods (allowed: hp-system, namespaces with labels hostprocess.dev/allowed=true)`,
		}, {
			name: "image", ns: "labelled",
			pod: func() *corev1.Pod {
				p := hpPod("docker-image", `NT AUTHORITY\SYSTEM`)
				p.Spec.Containers[0].Image = "docker.io/library/nginx:latest"
				return p
			},
			want: denied + `pods "docker-image" is forbidden: violates the HostProcess policy: container "agent": image "docker.io/library/nginx:latest" is not allowed (allowed: mcr.microsoft.com/*)`,
		}, {
			// The API server's own validation rejects mixed pods before any
			// validating webhook runs; the webhook's hostProcessMixed rule
			// covers check, the audit and direct reviews.
			name: "hostProcessMixed, by the API server's validation", ns: "hp-system",
			pod: func() *corev1.Pod {
				p := hpPod("mixed", `NT AUTHORITY\SYSTEM`)
				p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}}
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"})
				return p
			},
			want: `Pod "mixed" is invalid: spec: Invalid value: "": If pod contains any hostProcess containers then all containers must be HostProcess containers`,
		}, {
			name: "hostNetwork, by the API server's validation", ns: "hp-system",
			pod: func() *corev1.Pod {
				p := hpPod("no-host-network", `NT AUTHORITY\SYSTEM`)
				p.Spec.HostNetwork = false
				return p
			},
			want: `Pod "no-host-network" is invalid: spec.hostNetwork: Invalid value: false: hostNetwork must be true if pod contains any hostProcess containers`,
		}} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := pods(tc.ns).Create(ctx, tc.pod(), metav1.CreateOptions{})
				if err == nil || err.Error() != tc.want {
					t.Fatalf("error:\ngot:  %v\nwant: %s", err, tc.want)
				}
			})
		}
	})

	t.Run("a valid HostProcess pod is created with the defaulted nodeSelector", func(t *testing.T) {
		p := hpPod("valid", `nt authority\system`)
		p.Spec.NodeSelector = map[string]string{"agentpool": "win"}
		created, err := pods("hp-system").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"agentpool": "win", "kubernetes.io/os": "windows"}
		if fmt.Sprint(created.Spec.NodeSelector) != fmt.Sprint(want) {
			t.Fatalf("nodeSelector %v, want %v", created.Spec.NodeSelector, want)
		}
	})

	t.Run("a plain pod in a namespace without rules is created untouched", func(t *testing.T) {
		plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}}
		created, err := pods("agents").Create(ctx, plain, metav1.CreateOptions{})
		if err != nil || created.Spec.NodeSelector != nil {
			t.Fatalf("err %v nodeSelector %v", err, created.Spec.NodeSelector)
		}
	})

	deployment := func(name string) *appsv1.Deployment {
		p := hpPod(name, `NT AUTHORITY\SYSTEM`)
		p.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: p.Spec},
			},
		}
	}
	t.Run("a violating Deployment is admitted with warnings in warn workload mode", func(t *testing.T) {
		warned.take()
		if _, err := cs.AppsV1().Deployments("hp-system").Create(ctx, deployment("warned"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []string{"would violate the HostProcess policy: pod: spec.template.spec.securityContext.runAsNonRoot is true (allowed: unset or false)"}
		if got := warned.take(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("warnings %q, want %q", got, want)
		}
	})

	t.Run("a reloaded config enforces the workload mode without a restart", func(t *testing.T) {
		serve.setConfig(t, "enforce", "enforce")
		eventually(t, 20*time.Second, "the enforce workload mode", func() error {
			_, err := cs.AppsV1().Deployments("hp-system").Create(ctx, deployment("enforced"), metav1.CreateOptions{})
			want := denied + `deployments.apps "enforced" is forbidden: violates the HostProcess policy: pod: spec.template.spec.securityContext.runAsNonRoot is true (allowed: unset or false)`
			if err == nil {
				_ = cs.AppsV1().Deployments("hp-system").Delete(ctx, "enforced", metav1.DeleteOptions{})
				return fmt.Errorf("created")
			}
			if err.Error() != want {
				t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
			}
			return nil
		})
	})

	t.Run("an invalid config keeps the last good one and shows in metrics", func(t *testing.T) {
		writeFile(t, serve.configPath, "apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\nmode: lenient\n")
		eventually(t, 20*time.Second, "the reload error metric", func() error {
			m := scrape(t, serve.metricsURL)
			if !strings.Contains(m, "hostprocess_admission_config_reload_errors_total 1") ||
				!strings.Contains(m, "hostprocess_admission_config_last_reload_successful 0") {
				return fmt.Errorf("metrics do not show the error yet")
			}
			return nil
		})
		_, err := cs.AppsV1().Deployments("hp-system").Create(ctx, deployment("still-enforced"), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "violates the HostProcess policy") {
			t.Fatalf("the last good config is not in force: %v", err)
		}
		resp, err := http.Get("http://" + serve.probeAddr + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("readiness after a bad config: %v %v", err, resp)
		}
		resp.Body.Close()
		if logs := serve.Logs(); !strings.Contains(logs, `configuration not reloaded`) || !strings.Contains(logs, `mode: Unsupported value: \"lenient\"`) {
			t.Fatalf("the reload error is not logged:\n%s", logs)
		}
		serve.setConfig(t, "enforce", "warn")
	})

	t.Run("an existing violating pod can be relabelled and deleted", func(t *testing.T) {
		serve.setConfig(t, "audit", "warn")
		bad := hpPod("admitted-in-audit", `NT AUTHORITY\SYSTEM`)
		bad.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
		eventually(t, 20*time.Second, "audit mode", func() error {
			_, err := pods("hp-system").Create(ctx, bad, metav1.CreateOptions{})
			return err
		})
		serve.setConfig(t, "enforce", "warn")
		eventually(t, 20*time.Second, "enforce mode", func() error {
			_, err := pods("hp-system").Create(ctx, hpPod("probe-"+strconv.FormatInt(time.Now().UnixNano(), 36), "Administrator"), metav1.CreateOptions{})
			if err == nil {
				return fmt.Errorf("still in audit mode")
			}
			return nil
		})
		patch := []byte(`{"metadata":{"labels":{"relabelled":"yes"},"finalizers":["example.com/hold"]}}`)
		if _, err := cs.CoreV1().Pods("hp-system").Patch(ctx, bad.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("relabel: %v", err)
		}
		if err := cs.CoreV1().Pods("hp-system").Delete(ctx, bad.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := cs.CoreV1().Pods("hp-system").Patch(ctx, bad.Name, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("removing the finalizer of a deleting pod: %v", err)
		}
	})

	t.Run("ephemeral containers are checked through the subresource", func(t *testing.T) {
		plain, err := pods("hp-system").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "normal"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		debug := func(hostProcess bool, user string) corev1.EphemeralContainer {
			return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debugger", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022",
				SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(hostProcess), RunAsUserName: ptr.To(user)}}}}
		}
		plain.Spec.EphemeralContainers = []corev1.EphemeralContainer{debug(true, `NT AUTHORITY\SYSTEM`)}
		_, err = cs.CoreV1().Pods("hp-system").UpdateEphemeralContainers(ctx, "normal", plain, metav1.UpdateOptions{})
		if err == nil || !strings.Contains(err.Error(), "hostProcess") {
			t.Fatalf("a HostProcess debug container on a normal pod: %v", err)
		}
		t.Logf("normal pod + HostProcess debug container: %v", err)

		hp, err := cs.CoreV1().Pods("hp-system").Get(ctx, "valid", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		withBadUser := hp.DeepCopy()
		withBadUser.Spec.EphemeralContainers = []corev1.EphemeralContainer{debug(true, "Administrator")}
		_, err = cs.CoreV1().Pods("hp-system").UpdateEphemeralContainers(ctx, "valid", withBadUser, metav1.UpdateOptions{})
		want := denied + `pods "valid" is forbidden: violates the HostProcess policy: container "debugger": securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: ` + allowedNames + `)`
		if err == nil || err.Error() != want {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
		hp.Spec.EphemeralContainers = []corev1.EphemeralContainer{debug(true, `NT AUTHORITY\Local service`)}
		if _, err := cs.CoreV1().Pods("hp-system").UpdateEphemeralContainers(ctx, "valid", hp, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("a HostProcess debug container with an allowed user: %v", err)
		}
	})

	t.Run("namespace selector rules follow a label change", func(t *testing.T) {
		if _, err := pods("agents").Create(ctx, hpPod("before-label", `NT AUTHORITY\SYSTEM`), metav1.CreateOptions{}); err == nil {
			t.Fatal("admitted before the namespace was labelled")
		}
		patch := []byte(`{"metadata":{"labels":{"hostprocess.dev/allowed":"true"}}}`)
		if _, err := cs.CoreV1().Namespaces().Patch(ctx, "agents", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the label to take effect", func() error {
			_, err := pods("agents").Create(ctx, hpPod("after-label", `NT AUTHORITY\SYSTEM`), metav1.CreateOptions{})
			return err
		})
		unlabel := []byte(`{"metadata":{"labels":{"hostprocess.dev/allowed":null}}}`)
		if _, err := cs.CoreV1().Namespaces().Patch(ctx, "agents", types.MergePatchType, unlabel, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the label removal to take effect", func() error {
			_, err := pods("agents").Create(ctx, hpPod("after-unlabel-"+strconv.FormatInt(time.Now().UnixNano(), 36), `NT AUTHORITY\SYSTEM`), metav1.CreateOptions{})
			if err == nil {
				return fmt.Errorf("still admitted")
			}
			return nil
		})
	})

	t.Run("metrics count requests, decisions and violations, and denials are logged with the uid", func(t *testing.T) {
		m := scrape(t, serve.metricsURL)
		for _, want := range []string{
			`hostprocess_admission_requests_total{decision="denied",operation="CREATE",resource="pods",webhook="validate"}`,
			`hostprocess_admission_requests_total{decision="warned",operation="CREATE",resource="deployments.apps",webhook="validate"}`,
			`hostprocess_admission_requests_total{decision="allowed",operation="CREATE",resource="pods",webhook="mutate"}`,
			`hostprocess_admission_violations_total{mode="enforce",namespace="hp-system",rule="runAsUserName"}`,
			`hostprocess_admission_violations_total{mode="audit",namespace="hp-system",rule="runAsNonRoot"} 1`,
			`hostprocess_admission_duration_seconds_count{webhook="validate"}`,
			// The serving certificate of testenv is loaded; its expiry is in the future.
			`hostprocess_admission_serving_certificate_expiry_timestamp_seconds `,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		logs := serve.Logs()
		if !strings.Contains(logs, `"msg":"denied"`) || !strings.Contains(logs, `"uid":"`) {
			t.Errorf("no structured denial log with a uid:\n%s", logs)
		}
	})
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
