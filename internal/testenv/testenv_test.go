//go:build !windows

package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// env is the one control plane shared by this package's tests.
var env *Env

func TestMain(m *testing.M) {
	var err error
	env, err = New(WithLogger(logr.Discard()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// pinned returns the version of module mod required in hack/tools/DIR/go.mod.
func pinned(t *testing.T, dir, mod string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "hack", "tools", dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == mod {
			return fields[1]
		}
	}
	t.Fatalf("%s not required in hack/tools/%s/go.mod", mod, dir)
	return ""
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestServerVersionIsPinned(t *testing.T) {
	want := pinned(t, "controlplane", "k8s.io/kubernetes")
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != want {
		t.Errorf("server GitVersion = %q, want %q", v.GitVersion, want)
	}
	if wantMinor := strings.Split(want, ".")[1]; v.Major != "1" || v.Minor != wantMinor {
		t.Errorf("server version %s.%s, want 1.%s", v.Major, v.Minor, wantMinor)
	}
}

func TestNamespaceAndPodRoundTrip(t *testing.T) {
	c := ctx(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   "testenv-roundtrip",
		Labels: map[string]string{"purpose": "testenv"},
	}}
	if err := env.Client.Create(c, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	var gotNS corev1.Namespace
	if err := env.Client.Get(c, client.ObjectKey{Name: ns.Name}, &gotNS); err != nil {
		t.Fatalf("get namespace: %v", err)
	}
	if gotNS.Name != "testenv-roundtrip" || gotNS.Labels["purpose"] != "testenv" {
		t.Errorf("namespace = %s labels %v", gotNS.Name, gotNS.Labels)
	}
	// The NamespaceLifecycle admission adds the name label; phase is Active.
	if got := gotNS.Labels[corev1.LabelMetadataName]; got != "testenv-roundtrip" {
		t.Errorf("label %s = %q", corev1.LabelMetadataName, got)
	}
	if gotNS.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace phase = %q, want Active", gotNS.Status.Phase)
	}
	if gotNS.UID == "" || gotNS.UID != ns.UID {
		t.Errorf("namespace UID read back %q, created %q", gotNS.UID, ns.UID)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns.Name},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:    "main",
				Image:   "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0",
				Command: []string{"cmd.exe", "/c", "echo hi"},
			}},
			NodeSelector: map[string]string{corev1.LabelOSStable: "windows"},
		},
	}
	if err := env.Client.Create(c, pod); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	var got corev1.Pod
	if err := env.Client.Get(c, client.ObjectKeyFromObject(pod), &got); err != nil {
		t.Fatalf("get pod: %v", err)
	}
	if got.Namespace != "testenv-roundtrip" || got.Name != "app" {
		t.Errorf("pod = %s/%s", got.Namespace, got.Name)
	}
	if len(got.Spec.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(got.Spec.Containers))
	}
	ctr := got.Spec.Containers[0]
	if ctr.Name != "main" ||
		ctr.Image != "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0" ||
		strings.Join(ctr.Command, " ") != "cmd.exe /c echo hi" {
		t.Errorf("container = %s %s %q", ctr.Name, ctr.Image, ctr.Command)
	}
	if got.Spec.NodeSelector[corev1.LabelOSStable] != "windows" {
		t.Errorf("nodeSelector = %v", got.Spec.NodeSelector)
	}
	// API-server defaulting, as a real cluster applies it.
	if got.Spec.RestartPolicy != corev1.RestartPolicyAlways ||
		got.Spec.DNSPolicy != corev1.DNSClusterFirst ||
		got.Spec.SchedulerName != corev1.DefaultSchedulerName ||
		got.Spec.TerminationGracePeriodSeconds == nil || *got.Spec.TerminationGracePeriodSeconds != 30 ||
		ctr.TerminationMessagePolicy != corev1.TerminationMessageReadFile ||
		ctr.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pod defaults not applied: restart=%q dns=%q scheduler=%q grace=%v tmp=%q pull=%q",
			got.Spec.RestartPolicy, got.Spec.DNSPolicy, got.Spec.SchedulerName,
			got.Spec.TerminationGracePeriodSeconds, ctr.TerminationMessagePolicy, ctr.ImagePullPolicy)
	}
	if got.Status.Phase != corev1.PodPending || got.Spec.NodeName != "" {
		t.Errorf("pod phase %q node %q, want Pending and unscheduled (no scheduler runs)",
			got.Status.Phase, got.Spec.NodeName)
	}

	var pods corev1.PodList
	if err := env.Client.List(c, &pods, client.InNamespace(ns.Name)); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != "app" {
		t.Errorf("pods in %s = %d", ns.Name, len(pods.Items))
	}
}

func TestKubectlSeesNamespace(t *testing.T) {
	c := ctx(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "testenv-kubectl"}}
	if err := env.Client.Create(c, ns); err != nil {
		t.Fatal(err)
	}
	out, err := env.Run(c, Kubectl, "--kubeconfig", env.Kubeconfig, "get", "ns", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, want := range []string{"namespace/testenv-kubectl", "namespace/default", "namespace/kube-system"} {
		found := false
		for _, l := range lines {
			if l == want {
				found = true
			}
		}
		if !found {
			t.Errorf("kubectl get ns -o name: no line %q in:\n%s", want, out)
		}
	}
}

func TestBinaryVersions(t *testing.T) {
	c := ctx(t)
	k8s := pinned(t, "controlplane", "k8s.io/kubernetes")
	helm := pinned(t, "helm", "helm.sh/helm/v3")

	out, err := env.Run(c, Helm, "version", "--short")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != helm && !strings.HasPrefix(got, helm+"+g") {
		t.Errorf("helm version --short = %q, want %q", got, helm)
	}

	out, err = env.Run(c, Kubectl, "version", "--client")
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(out, "\n", 2)[0]; first != "Client Version: "+k8s {
		t.Errorf("kubectl version --client first line = %q, want %q", first, "Client Version: "+k8s)
	}

	out, err = env.Run(c, KubeAPIServer, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != "Kubernetes "+k8s {
		t.Errorf("kube-apiserver --version = %q, want %q", got, "Kubernetes "+k8s)
	}

	etcd := pinned(t, "etcd", "go.etcd.io/etcd/server/v3")
	out, err = env.Run(c, Etcd, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "etcd Version: "+strings.TrimPrefix(etcd, "v")+"\n") {
		t.Errorf("etcd --version = %q, want etcd Version: %s", out, strings.TrimPrefix(etcd, "v"))
	}
}

func TestKubeconfigFile(t *testing.T) {
	data, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "server: "+strings.TrimSuffix(env.Config.Host, "/")) {
		t.Errorf("kubeconfig does not name server %s:\n%s", env.Config.Host, data)
	}
	if filepath.Dir(env.Kubeconfig) != env.Dir {
		t.Errorf("kubeconfig %s not in Env.Dir %s", env.Kubeconfig, env.Dir)
	}
}

func TestBinMissing(t *testing.T) {
	_, err := Bin("no-such-tool")
	if !errors.Is(err, ErrMissingBinary) || !strings.Contains(err.Error(), "run make tools") {
		t.Fatalf("Bin(missing) error = %v, want ErrMissingBinary saying run make tools", err)
	}
	dir, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Bin(KubeAPIServer); err != nil || p != filepath.Join(dir, KubeAPIServer) {
		t.Fatalf("Bin(kube-apiserver) = %q, %v", p, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "go.mod")); err != nil {
		t.Fatalf("BinDir %s is not beside go.mod: %v", dir, err)
	}
}

func TestApplyFlags(t *testing.T) {
	args := envtest.EmptyArguments()
	if err := applyFlags(args, []string{
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=PodSecurity",
		"--enable-admission-plugins=NodeRestriction",
		"--profiling",
	}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args.AsStrings(map[string][]string{
		"authorization-mode": {"RBAC"},
		"cert-dir":           {"/certs"},
	}), " ")
	want := "--authorization-mode=Node,RBAC --cert-dir=/certs " +
		"--enable-admission-plugins=PodSecurity --enable-admission-plugins=NodeRestriction --profiling=true"
	if got != want {
		t.Errorf("args = %q\nwant   %q", got, want)
	}
	if err := applyFlags(envtest.EmptyArguments(), []string{"profiling"}); err == nil {
		t.Error("flag without -- accepted")
	}
}

// TestStartWithOptions starts a second control plane through Start, with an extra admission
// plugin and a webhook configuration, as the webhook tests do.
func TestStartWithOptions(t *testing.T) {
	path := "/validate"
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "testenv-check"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "check.testenv.example.com",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Name: "svc", Namespace: "default", Path: &path},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"},
				},
			}},
			FailurePolicy:           &ignore,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	e := Start(t,
		WithAPIServerFlags("--enable-admission-plugins=AlwaysPullImages"),
		WithWebhookInstallOptions(envtest.WebhookInstallOptions{
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{vwc},
		}),
	)
	if e.Config.Host == env.Config.Host {
		t.Fatalf("second env shares API server %s", e.Config.Host)
	}
	c := ctx(t)

	var got admissionregistrationv1.ValidatingWebhookConfiguration
	if err := e.Client.Get(c, client.ObjectKey{Name: "testenv-check"}, &got); err != nil {
		t.Fatalf("webhook configuration not installed: %v", err)
	}
	wo := e.Environment.WebhookInstallOptions
	wantURL := fmt.Sprintf("https://%s:%d/validate", wo.LocalServingHost, wo.LocalServingPort)
	if len(got.Webhooks) != 1 || got.Webhooks[0].ClientConfig.URL == nil ||
		*got.Webhooks[0].ClientConfig.URL != wantURL || got.Webhooks[0].ClientConfig.Service != nil {
		t.Errorf("webhook client config = %+v, want URL %s", got.Webhooks[0].ClientConfig, wantURL)
	}
	if _, err := os.Stat(filepath.Join(wo.LocalServingCertDir, "tls.crt")); err != nil {
		t.Errorf("no serving certificate for the local webhook server: %v", err)
	}

	// AlwaysPullImages (not enabled by default) rewrites the pull policy.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "example.com/img:v1", ImagePullPolicy: corev1.PullNever,
		}}},
	}
	if err := e.Client.Create(c, pod); err != nil {
		t.Fatal(err)
	}
	if p := pod.Spec.Containers[0].ImagePullPolicy; p != corev1.PullAlways {
		t.Errorf("imagePullPolicy = %q, want Always (AlwaysPullImages admission)", p)
	}
	// The shared env has no such plugin.
	pod2 := pod.DeepCopy()
	pod2.ResourceVersion = ""
	pod2.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	if err := env.Client.Create(c, pod2); err != nil {
		t.Fatal(err)
	}
	if p := pod2.Spec.Containers[0].ImagePullPolicy; p != corev1.PullNever {
		t.Errorf("shared env imagePullPolicy = %q, want Never", p)
	}
}
