//go:build !windows

package charttest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/certs"
	"github.com/hostprocess-admission/hostprocess-admission/webhook"
)

// install runs the README's helm install with extra args and returns the
// installed manifest. A release left behind by a test that failed is removed
// first, and the release is removed when the test ends, whatever its state,
// so that one failure cannot fail the tests after it.
func install(t *testing.T, args ...string) *manifest {
	t.Helper()
	if err := uninstall(testContext(t, 3*time.Minute)); err != nil {
		t.Fatalf("removing a release left behind: %v", err)
	}
	out := helmCluster(t, append([]string{"install", release, chartDir(t), "-n", namespace, "--create-namespace"}, args...)...)
	if !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm install:\n%s", out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := uninstall(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	m := installedManifest(t)
	if err := waitServed(testContext(t, 2*time.Minute), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// waitServed waits until the instances of every CRD of m can be listed. A CRD
// deleted before its storage has initialized fails the API server's CRD
// finalizer ("could not list instances: storage is (re)initializing"), which
// retries with an exponential backoff: on a loaded machine the deletion of a
// release uninstalled right after its install then took minutes.
func waitServed(ctx context.Context, m *manifest) error {
	for _, o := range m.objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		if len(versions) == 0 {
			return fmt.Errorf("CustomResourceDefinition %s has no versions", o.GetName())
		}
		version, _, _ := unstructured.NestedString(versions[0].(map[string]any), "name")
		var err error
		for {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
			if err = env.Client.List(ctx, list); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the instances of CustomResourceDefinition %s cannot be listed: %w", o.GetName(), err)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// uninstall removes the release in whatever state it is (deployed, failed,
// or half uninstalled by a helm that was stopped), then waits until every
// object of its manifest is gone. It does not use helm's --wait, which polls
// until its timeout and says nothing of what it waits for: here nothing but
// kube-apiserver itself finishes a deletion (no controller-manager runs), and
// the only objects of the release that need that are the OpenReports CRDs,
// whose cleanup finalizer the API server's CRD finalizer removes once it has
// listed and deleted their instances (retrying with an exponential backoff).
// This wait names each object still there, with its finalizers.
func uninstall(ctx context.Context) error {
	out, err := env.Run(ctx, "helm", "get", "manifest", release, "-n", namespace)
	if err != nil {
		if strings.Contains(err.Error(), "release: not found") {
			return nil
		}
		return err
	}
	m, err := parseManifest(out)
	if err != nil {
		return err
	}
	if _, err := env.Run(ctx, "helm", "uninstall", release, "-n", namespace, "--timeout", "60s"); err != nil {
		return err
	}
	return waitGone(ctx, m, 2*time.Minute)
}

// waitGone waits until every object of m is gone.
func waitGone(ctx context.Context, m *manifest, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, o := range m.objs {
			u, err := live(ctx, o)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				left = append(left, fmt.Sprintf("%s %s: %v", o.GetKind(), o.GetName(), err))
			default:
				left = append(left, fmt.Sprintf("%s %s (finalizers %v, deletionTimestamp %v%s)", o.GetKind(), o.GetName(), u.GetFinalizers(), u.GetDeletionTimestamp(), terminating(u)))
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("after helm uninstall, still there after %v: %s", timeout, strings.Join(left, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// terminating returns a CRD's Terminating condition, which says why the API
// server's CRD finalizer has not finished, or "" for other objects.
func terminating(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Terminating" {
			return fmt.Sprintf(", Terminating %v %v: %v", m["status"], m["reason"], m["message"])
		}
	}
	return ""
}

func installedManifest(t *testing.T) *manifest {
	t.Helper()
	m, err := parseManifest(helmCluster(t, "get", "manifest", release, "-n", namespace))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// live returns the object's state in the cluster, or the error of reading it.
func live(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(o.GroupVersionKind())
	return u, env.Client.Get(ctx, client.ObjectKeyFromObject(o), u)
}

func TestInstallUpgradeUninstall(t *testing.T) {
	ctx := testContext(t, 8*time.Minute)
	m := install(t)

	// The API server accepted every object, the CEL of the matchConditions
	// included (it compiles them on create).
	for _, o := range m.objs {
		if _, err := live(ctx, o); err != nil {
			t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fullname}, vwc); err != nil {
		t.Fatal(err)
	}
	if n := len(vwc.Webhooks[0].MatchConditions); n != 1 {
		t.Errorf("the stored pod webhook has %d matchConditions, want 1", n)
	}
	notes := helmCluster(t, "get", "notes", release, "-n", namespace)
	for _, want := range []string{"kubectl apply --dry-run=server", "hostprocess-admitted", "hostprocess-rejected", `runAsUserName: "NT AUTHORITY\\SYSTEM"`} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES lack %q:\n%s", want, notes)
		}
	}

	t.Run("the webhook pod passes Pod Security restricted and priority admission", func(t *testing.T) {
		// No controller-manager runs here, so the Deployment creates no pods:
		// create one from its template in the release namespace, enforcing
		// the restricted level there.
		helmKubectl(t, "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "--overwrite")
		t.Cleanup(func() { helmKubectl(t, "label", "namespace", namespace, "pod-security.kubernetes.io/enforce-") })
		d := &appsv1.Deployment{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, d); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "webhook-pod", Labels: d.Spec.Template.Labels},
			Spec:       d.Spec.Template.Spec,
		}
		if err := env.Client.Create(ctx, pod); err != nil {
			t.Fatalf("the API server refused the webhook's pod: %v", err)
		}
		if pod.Spec.Priority == nil || *pod.Spec.Priority < 2000000000 {
			t.Errorf("priority %v, want system-cluster-critical's", pod.Spec.Priority)
		}
		_ = env.Client.Delete(ctx, pod)
	})

	// What the running webhook would have done by now: fill the Secret and
	// the caBundles. helm upgrade must keep both.
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname + "-cert"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{"ca.crt": []byte("ca"), "ca.key": []byte("key"), "tls.crt": []byte("crt"), "tls.key": []byte("key")}
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	caBundle := []byte("-----BEGIN CERTIFICATE-----\ninjected\n-----END CERTIFICATE-----\n")
	setCABundles(t, ctx, caBundle)

	out := helmCluster(t, "upgrade", release, chartDir(t), "-n", namespace, "--set", "config.mode=warn",
		"--set-json", `config.exemptions.namespaces=["kube-system"]`)
	if !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "REVISION: 2") {
		t.Fatalf("helm upgrade:\n%s", out)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname + "-config"}, cm); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Decode([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("the upgraded configuration does not load: %v", err)
	}
	if cfg.Mode != config.ModeWarn || len(cfg.Exemptions.Namespaces) != 1 || cfg.Exemptions.Namespaces[0] != "kube-system" {
		t.Errorf("after the upgrade: mode %s, exemptions %v", cfg.Mode, cfg.Exemptions.Namespaces)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["tls.crt"]) != "crt" || string(secret.Data["ca.key"]) != "key" {
		t.Errorf("helm upgrade changed the certificate Secret: %v", secret.Data)
	}
	if err := checkCABundles(ctx, caBundle); err != nil {
		t.Errorf("after helm upgrade: %v", err)
	}

	if err := uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range m.objs {
		if _, err := live(ctx, o); !apierrors.IsNotFound(err) {
			t.Errorf("after helm uninstall, %s %s: %v, want not found", o.GetKind(), o.GetName(), err)
		}
	}
}

func helmKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := env.Run(testContext(t, time.Minute), "kubectl", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setCABundles writes ca into every webhook of the chart's configurations,
// as the webhook does in selfManaged mode.
func setCABundles(t *testing.T, ctx context.Context, ca []byte) {
	t.Helper()
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fullname}, vwc); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fullname}, mwc); err != nil {
		t.Fatal(err)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig.CABundle = ca
	}
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig.CABundle = ca
	}
	if err := env.Client.Update(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, mwc); err != nil {
		t.Fatal(err)
	}
}

func checkCABundles(ctx context.Context, ca []byte) error {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fullname}, vwc); err != nil {
		return err
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fullname}, mwc); err != nil {
		return err
	}
	var errs []error
	for _, w := range vwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, ca) {
			errs = append(errs, fmt.Errorf("validating webhook %s: caBundle %q", w.Name, w.ClientConfig.CABundle))
		}
	}
	for _, w := range mwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, ca) {
			errs = append(errs, fmt.Errorf("mutating webhook %s: caBundle %q", w.Name, w.ClientConfig.CABundle))
		}
	}
	return errors.Join(errs...)
}

// impersonate returns a client acting as user (with groups).
func impersonate(t *testing.T, user string, groups ...string) (*rest.Config, client.Client) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}

// TestRBACIsEnoughForTheWebhookAndNoMore runs what serve runs with the
// chart's ServiceAccount: the self-managed certificates (internal/certs) and
// the metadata-only namespace watch, and checks that the ServiceAccount can
// do nothing beyond.
func TestRBACIsEnoughForTheWebhookAndNoMore(t *testing.T) {
	ctx := testContext(t, 8*time.Minute)
	install(t)
	sa := "system:serviceaccount:" + namespace + ":" + fullname
	cfg, saClient := impersonate(t, sa, "system:serviceaccounts", "system:serviceaccounts:"+namespace)

	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The chart's own flags, as serve parses them.
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, d); err != nil {
		t.Fatal(err)
	}
	opts := certsOptionsFromArgs(t, d.Spec.Template.Spec.Containers[0].Args)
	opts.CertDir = filepath.Join(t.TempDir(), "certs")
	// controller-runtime refuses a second controller of one name in a process,
	// and a second run of this test (-count) starts the rotator again.
	opts.ControllerName = fmt.Sprintf("cert-rotator-%d", time.Now().UnixNano())
	ready, err := certs.Setup(mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	nsInformer, err := mgr.GetCache().GetInformer(ctx, webhook.NamespaceMetadata())
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("the manager did not stop")
		}
	}
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the manager stopped before the certificates were ready: %v", err)
	case <-time.After(3 * time.Minute):
		stop()
		t.Fatal("certificates not ready within 3 minutes with the chart's RBAC")
	}
	for !nsInformer.HasSynced() {
		time.Sleep(100 * time.Millisecond)
	}
	live := webhook.CachedNamespaces{Cache: mgr.GetCache(), Live: mgr.GetAPIReader(), Timeout: 10 * time.Second}
	if _, err := live.NamespaceLabels(ctx, "kube-system"); err != nil {
		t.Errorf("namespace lookup as the ServiceAccount: %v", err)
	}
	stop()

	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname + "-cert"}, secret); err != nil {
		t.Fatal(err)
	}
	if len(secret.Data["ca.crt"]) == 0 || len(secret.Data["tls.crt"]) == 0 {
		t.Fatalf("the chart's Secret was not filled: keys %v", mapKeys(secret.Data))
	}
	if err := checkCABundles(ctx, secret.Data["ca.crt"]); err != nil {
		t.Error(err)
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if b, err := os.ReadFile(filepath.Join(opts.CertDir, f)); err != nil || !bytes.Equal(b, secret.Data[f]) {
			t.Errorf("%s in the cert dir: %v", f, err)
		}
	}

	// Nothing beyond.
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "someone-elses"}, StringData: map[string]string{"k": "v"}}
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), other) })
	otherHook := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}}
	if err := env.Client.Create(ctx, otherHook); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), otherHook) })
	denied := []struct {
		what string
		err  error
	}{
		{"update another Secret", saClient.Update(ctx, other.DeepCopy())},
		{"create a Secret", saClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "new"}})},
		{"read a Secret in another namespace", saClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "x"}, &corev1.Secret{})},
		{"update another webhook configuration", saClient.Update(ctx, otherHook.DeepCopy())},
		{"delete its own webhook configuration", saClient.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: fullname}})},
		// The audit reads pods and workloads; it never writes them.
		{"create a pod", saClient.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "p"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}})},
		{"delete a pod", saClient.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "p"}})},
		{"update a namespace", saClient.Update(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})},
	}
	for _, d := range denied {
		if !apierrors.IsForbidden(d.err) {
			t.Errorf("the ServiceAccount may %s: %v, want Forbidden", d.what, d.err)
		}
	}
}

func mapKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func certsOptionsFromArgs(t *testing.T, args []string) certs.Options {
	t.Helper()
	var o certs.Options
	get := func(name string) string { return flagValue(args, name) }
	if !strings.Contains(strings.Join(args, " "), "--cert-rotation") {
		t.Fatalf("no --cert-rotation in %v", args)
	}
	o.Enabled = true
	o.Secret = splitNN(t, get("--cert-secret"))
	o.Service = splitNN(t, get("--cert-service"))
	o.ValidatingWebhookConfiguration = get("--validating-webhook-configuration")
	o.MutatingWebhookConfiguration = get("--mutating-webhook-configuration")
	return o
}

func splitNN(t *testing.T, s string) types.NamespacedName {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		t.Fatalf("%q is not NAMESPACE/NAME", s)
	}
	return types.NamespacedName{Namespace: ns, Name: name}
}

// crds are stand-ins for cert-manager's and the Prometheus Operator's CRDs:
// the kinds and versions the chart uses, with open schemas.
const crds = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Issuer, plural: issuers, singular: issuer, listKind: IssuerList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Certificate, plural: certificates, singular: certificate, listKind: CertificateList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, listKind: ServiceMonitorList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

func TestInstallWithCertManagerAndTheOptionalExtras(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	file := filepath.Join(t.TempDir(), "crds.yaml")
	if err := os.WriteFile(file, []byte(crds), 0o600); err != nil {
		t.Fatal(err)
	}
	helmKubectl(t, "apply", "-f", file)
	helmKubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "-f", file)

	m := install(t, "--set", "certificates.mode=certManager", "--set", "metrics.serviceMonitor.enabled=true",
		"--set", "networkPolicy.enabled=true",
		"--set-json", `networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]`)
	for _, kind := range []string{"Issuer", "Certificate", "ServiceMonitor", "NetworkPolicy"} {
		var found bool
		for _, o := range m.objs {
			if o.GetKind() == kind {
				found = true
				if _, err := live(ctx, o); err != nil {
					t.Errorf("%s %s: %v", kind, o.GetName(), err)
				}
			}
		}
		if !found {
			t.Errorf("no %s installed", kind)
		}
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: fullname}, vwc); err != nil {
		t.Fatal(err)
	}
	if got := vwc.Annotations["cert-manager.io/inject-ca-from"]; got != namespace+"/"+fullname+"-serving" {
		t.Errorf("inject-ca-from %q", got)
	}
	if err := uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range m.objs {
		if _, err := live(ctx, o); !apierrors.IsNotFound(err) {
			t.Errorf("after helm uninstall, %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

func TestInstallWithAnExternalCertificate(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	caPEM, certPEM, keyPEM := externalCert(t, fullname+"."+namespace+".svc")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tlsSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "webhook-tls"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM},
	}
	if err := env.Client.Create(ctx, tlsSecret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), tlsSecret) })

	m := install(t, "--set", "certificates.mode=external", "--set", "certificates.external.secretName=webhook-tls",
		"--set", "certificates.external.caBundle="+base64.StdEncoding.EncodeToString(caPEM))
	if err := checkCABundles(ctx, caPEM); err != nil {
		t.Error(err)
	}
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, d); err != nil {
		t.Fatal(err)
	}
	if v := volume(&d.Spec.Template.Spec, "certs"); v == nil || v.Secret == nil || v.Secret.SecretName != "webhook-tls" {
		t.Errorf("certs volume %+v", v)
	}
	if m.find("Secret", "webhook-tls") != nil {
		t.Error("the chart manages the user's Secret")
	}
	if err := uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tlsSecret), &corev1.Secret{}); err != nil {
		t.Errorf("helm uninstall removed the user's Secret: %v", err)
	}
}

func externalCert(t *testing.T, dnsName string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "external-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// TestNamespaceAdminsCannotSetTheOptOutLabel checks what docs/install.md
// promises: the built-in admin role (and so edit and view), bound in a
// namespace, does not let its holder label the namespace out of the webhook.
func TestNamespaceAdminsCannotSetTheOptOutLabel(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The built-in admin role is an aggregation of these three, which the
	// controller-manager (not running here) would fill it from: bind them
	// directly.
	for _, role := range []string{"system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view"} {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "alice-" + strings.ReplaceAll(role, ":", "-")},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: "alice", APIGroup: "rbac.authorization.k8s.io"}},
		}
		if err := env.Client.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	_, alice := impersonate(t, "alice")
	// She is an admin there (once the authorizer has seen the bindings)...
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err := alice.List(ctx, &corev1.PodList{}, client.InNamespace("team-a"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice cannot even list pods in team-a: %v", err)
		}
	}
	// ...but not label her namespace.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"hostprocess.dev/webhook":"disabled"}}}`))
	err := alice.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, patch)
	if !apierrors.IsForbidden(err) {
		t.Errorf("a namespace admin labelling her namespace: %v, want Forbidden", err)
	}
}
