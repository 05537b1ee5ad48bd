//go:build !windows

package certs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/webhook"
)

// env is the control plane shared by this package's tests.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.New(testenv.WithLogger(logr.Discard())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

const namespace = "hostprocess-system"

// fixture is one test's Secret, Service name and pair of webhook
// configurations, all named after the test.
type fixture struct {
	opts    Options
	certDir string
}

func newFixture(t *testing.T, name string) *fixture {
	t.Helper()
	ctx := testContext(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	f := &fixture{certDir: filepath.Join(t.TempDir(), "certs")}
	f.opts = Options{
		Enabled:                        true,
		Secret:                         types.NamespacedName{Namespace: namespace, Name: name + "-cert"},
		Service:                        types.NamespacedName{Namespace: namespace, Name: name},
		ValidatingWebhookConfiguration: name,
		MutatingWebhookConfiguration:   name,
		CertDir:                        f.certDir,
		ControllerName:                 "cert-rotator-" + name,
	}
	// Two webhooks per configuration: every one of them gets the caBundle. The
	// rules name a group that does not exist, so that they never intercept a
	// request of the tests.
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"certs-test.hostprocess.dev"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"},
		},
	}}
	svc := &admissionregistrationv1.ServiceReference{Namespace: namespace, Name: name, Path: new("/validate")}
	none := admissionregistrationv1.SideEffectClassNone
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, hook := range []string{"a.certs-test.hostprocess.dev", "b.certs-test.hostprocess.dev"} {
		vwc.Webhooks = append(vwc.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: hook, ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: svc},
			Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		})
		mwc.Webhooks = append(mwc.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name: hook, ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: svc},
			Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		})
	}
	for _, obj := range []client.Object{vwc, mwc} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: f.opts.Secret.Name}})
	})
	return f
}

// start runs a manager with Setup(f.opts) until the test ends and returns the
// ready channel.
func (f *fixture) start(t *testing.T) <-chan struct{} {
	t.Helper()
	mgr, err := manager.New(env.Config, manager.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	ready, err := Setup(mgr, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("the manager did not stop within a minute")
		}
	})
	return ready
}

func waitReady(t *testing.T, ready <-chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(3 * time.Minute):
		t.Fatal("certificates not ready within 3 minutes")
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every 200ms until it returns nil, failing the test
// with cond's last error after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *fixture) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := env.Client.Get(testContext(t), f.opts.Secret, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkCABundles returns an error unless every webhook of both configurations
// has caBundle ca.
func (f *fixture) checkCABundles(ctx context.Context, ca []byte) error {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: f.opts.ValidatingWebhookConfiguration}, vwc); err != nil {
		return err
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: f.opts.MutatingWebhookConfiguration}, mwc); err != nil {
		return err
	}
	var errs []error
	for _, w := range vwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, ca) {
			errs = append(errs, fmt.Errorf("ValidatingWebhookConfiguration %s webhook %s: caBundle is not the CA (%d bytes)", vwc.Name, w.Name, len(w.ClientConfig.CABundle)))
		}
	}
	for _, w := range mwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, ca) {
			errs = append(errs, fmt.Errorf("MutatingWebhookConfiguration %s webhook %s: caBundle is not the CA (%d bytes)", mwc.Name, w.Name, len(w.ClientConfig.CABundle)))
		}
	}
	return errors.Join(errs...)
}

// checkFiles returns an error unless certDir holds exactly the Secret's key
// pair, and the pair is one a TLS server can load.
func (f *fixture) checkFiles(s *corev1.Secret) error {
	for _, k := range []string{CertKey, KeyKey} {
		got, err := os.ReadFile(filepath.Join(f.certDir, k))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, s.Data[k]) {
			return fmt.Errorf("%s in the cert dir differs from the Secret's", k)
		}
	}
	_, err := tls.LoadX509KeyPair(filepath.Join(f.certDir, CertKey), filepath.Join(f.certDir, KeyKey))
	return err
}

// verifyServing checks that the Secret's tls.crt is a server certificate
// for the Service's names, signed by its ca.crt, and returns it.
func (f *fixture) verifyServing(t *testing.T, s *corev1.Secret) *x509.Certificate {
	t.Helper()
	ca := parseCert(t, s.Data[CACertKey])
	if !ca.IsCA {
		t.Fatal("ca.crt is not a CA certificate")
	}
	leaf := parseCert(t, s.Data[CertKey])
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{
		f.opts.Service.Name + "." + namespace + ".svc",
		f.opts.Service.Name + "." + namespace + ".svc.cluster.local",
		f.opts.Service.Name + "." + namespace,
		f.opts.Service.Name,
	} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("tls.crt does not verify for %s: %v", name, err)
		}
	}
	return leaf
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no PEM block in %q", data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSetupCreatesTheSecretWritesCertDirAndInjectsBothConfigurations(t *testing.T) {
	f := newFixture(t, "fresh")
	ready := f.start(t)
	waitReady(t, ready)

	s := f.secret(t)
	for _, k := range []string{CACertKey, CAKeyKey, CertKey, KeyKey} {
		if len(s.Data[k]) == 0 {
			t.Errorf("Secret %s has no %s", f.opts.Secret, k)
		}
	}
	f.verifyServing(t, s)
	if err := f.checkFiles(s); err != nil {
		t.Error(err)
	}
	if err := f.checkCABundles(testContext(t), s.Data[CACertKey]); err != nil {
		t.Error(err)
	}
}

func TestSetupPutsBackACABundleThatWasRemoved(t *testing.T) {
	f := newFixture(t, "drift")
	waitReady(t, f.start(t))
	ca := f.secret(t).Data[CACertKey]

	ctx := testContext(t)
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: f.opts.ValidatingWebhookConfiguration}, vwc); err != nil {
		t.Fatal(err)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig.CABundle = nil
	}
	if err := env.Client.Update(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error { return f.checkCABundles(ctx, ca) })
}

func TestSetupRenewsAnExpiringServingCertificateAndKeepsTheCA(t *testing.T) {
	f := newFixture(t, "expiring")
	// The rotator recognises its CA by the DNS name <service>-ca.
	caPEM, caKeyPEM, ca, caKey := newCA(t, f.opts.Service.Name+"-ca")
	oldCert, oldKey := newServing(t, ca, caKey, f.opts.Service.Name+"."+namespace+".svc", time.Now().Add(time.Hour))
	seeded := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: f.opts.Secret.Name},
		Data:       map[string][]byte{CACertKey: caPEM, CAKeyKey: caKeyPEM, CertKey: oldCert, KeyKey: oldKey},
	}
	if err := env.Client.Create(testContext(t), seeded); err != nil {
		t.Fatal(err)
	}

	waitReady(t, f.start(t))
	var s *corev1.Secret
	eventually(t, time.Minute, func() error {
		s = f.secret(t)
		if bytes.Equal(s.Data[CertKey], oldCert) {
			return errors.New("tls.crt, which expires within RenewBefore, was not renewed")
		}
		return f.checkFiles(s)
	})
	if !bytes.Equal(s.Data[CACertKey], caPEM) {
		t.Error("the CA was replaced, though it is valid")
	}
	leaf := f.verifyServing(t, s)
	if left := time.Until(leaf.NotAfter); left < DefaultCertValidity-time.Hour {
		t.Errorf("the renewed certificate expires in %s, want about %s", left, DefaultCertValidity)
	}
	if err := f.checkCABundles(testContext(t), caPEM); err != nil {
		t.Error(err)
	}
}

func TestSetupRotatesTheServingCertificateBeforeItExpiresWithoutARestart(t *testing.T) {
	f := newFixture(t, "rotating")
	// A certificate valid for 40s is renewed once it has less than 30s left,
	// checked every second: about 10s after it was issued.
	f.opts.CertValidity = 40 * time.Second
	f.opts.RenewBefore = 30 * time.Second
	f.opts.CheckInterval = time.Second
	waitReady(t, f.start(t))
	first, err := os.ReadFile(filepath.Join(f.certDir, CertKey))
	if err != nil {
		t.Fatal(err)
	}
	firstLeaf := parseCert(t, first)
	ca := f.secret(t).Data[CACertKey]

	eventually(t, 2*time.Minute, func() error {
		s := f.secret(t)
		if bytes.Equal(s.Data[CertKey], first) {
			return errors.New("the serving certificate was not rotated")
		}
		return f.checkFiles(s)
	})
	s := f.secret(t)
	leaf := f.verifyServing(t, s)
	if !leaf.NotAfter.After(firstLeaf.NotAfter) {
		t.Errorf("the new certificate expires at %s, not after the old one (%s)", leaf.NotAfter, firstLeaf.NotAfter)
	}
	if time.Until(firstLeaf.NotAfter) <= 0 {
		t.Error("the certificate was rotated only after it expired")
	}
	if !bytes.Equal(s.Data[CACertKey], ca) {
		t.Error("rotating the serving certificate replaced the CA")
	}
}

func TestSetupRestoresAServingCertificateRemovedFromTheSecret(t *testing.T) {
	f := newFixture(t, "tampered")
	waitReady(t, f.start(t))
	ctx := testContext(t)
	s := f.secret(t)
	old := s.Data[CertKey]
	delete(s.Data, CertKey)
	delete(s.Data, KeyKey)
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		s := f.secret(t)
		if len(s.Data[CertKey]) == 0 || bytes.Equal(s.Data[CertKey], old) {
			return errors.New("no new tls.crt in the Secret")
		}
		return f.checkFiles(s)
	})
}

// TestTheWebhookServerServesTheRotatedCertificateThatCABundleTrusts wires
// Setup to the project's webhook server as serve does, and calls it the way
// the API server would: over TLS to the Service's name, trusting only the
// caBundle of the webhook configuration. After a rotation the server serves
// the new certificate without a restart.
func TestTheWebhookServerServesTheRotatedCertificateThatCABundleTrusts(t *testing.T) {
	f := newFixture(t, "served")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	server := webhook.NewServer(webhook.ServerOptions{Host: "127.0.0.1", Port: port, CertDir: f.certDir, Log: logr.Discard()})
	server.Register("/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) }))

	mgr, err := manager.New(env.Config, manager.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ready, err := Setup(mgr, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(StartAfter(ready, server)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("the manager did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		done <- err
		t.Fatalf("the manager stopped: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("certificates not ready within 3 minutes")
	}

	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(testContext(t), client.ObjectKey{Name: f.opts.ValidatingWebhookConfiguration}, vwc); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(vwc.Webhooks[0].ClientConfig.CABundle) {
		t.Fatal("caBundle holds no certificate")
	}
	// served returns the certificate the server presents to a client that
	// trusts only the caBundle and asks for the Service's name.
	served := func() (*x509.Certificate, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, ServerName: f.opts.Service.Name + "." + namespace + ".svc", MinVersion: tls.VersionTLS12}}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/ping", port))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "pong" {
			return nil, fmt.Errorf("body %q", body)
		}
		return resp.TLS.PeerCertificates[0], nil
	}
	var first *x509.Certificate
	eventually(t, time.Minute, func() (err error) { first, err = served(); return err })

	// Rotate: the webhook replaces a serving certificate that went missing.
	s := f.secret(t)
	delete(s.Data, CertKey)
	if err := env.Client.Update(testContext(t), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		cur, err := served()
		if err != nil {
			return err
		}
		if cur.Equal(first) {
			return errors.New("still serving the old certificate")
		}
		return nil
	})
}

// fakeServer is a webhook.Server whose Start reports that it ran.
type fakeServer struct {
	crwebhook.Server
	start func(context.Context) error
}

func (f fakeServer) Start(ctx context.Context) error { return f.start(ctx) }

func TestStartAfterWaitsForReady(t *testing.T) {
	ready := make(chan struct{})
	started := make(chan struct{})
	inner := crwebhook.NewServer(crwebhook.Options{})
	r := StartAfter(ready, fakeServer{Server: inner, start: func(context.Context) error { close(started); return nil }})
	done := make(chan error, 1)
	go func() { done <- r.Start(context.Background()) }()
	select {
	case <-started:
		t.Fatal("started before ready was closed")
	case <-time.After(100 * time.Millisecond):
	}
	close(ready)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-started
	if r.WebhookMux() != inner.WebhookMux() || r.NeedLeaderElection() {
		t.Error("StartAfter must keep the server's mux, and every replica serves (no leader election)")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	never := StartAfter(make(chan struct{}), fakeServer{Server: inner, start: func(context.Context) error { return errors.New("started") }})
	if err := never.Start(ctx); err != nil {
		t.Errorf("Start after the context ended: %v, want nil without starting", err)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    Options
	}{
		{
			name: "parses every flag",
			args: []string{"--cert-rotation", "--cert-secret=hostprocess-system/webhook-cert", "--cert-service=hostprocess-system/webhook",
				"--validating-webhook-configuration=v", "--mutating-webhook-configuration=m"},
			want: Options{
				Enabled:                        true,
				Secret:                         types.NamespacedName{Namespace: "hostprocess-system", Name: "webhook-cert"},
				Service:                        types.NamespacedName{Namespace: "hostprocess-system", Name: "webhook"},
				ValidatingWebhookConfiguration: "v",
				MutatingWebhookConfiguration:   "m",
			},
		},
		{
			name:    "rejects a Secret without a namespace",
			args:    []string{"--cert-secret=webhook-cert"},
			wantErr: `invalid argument "webhook-cert" for "--cert-secret" flag: "webhook-cert" is not NAMESPACE/NAME`,
		},
		{
			name:    "rejects a namespace that is not a DNS label",
			args:    []string{"--cert-service=Kube_System/webhook"},
			wantErr: `invalid argument "Kube_System/webhook" for "--cert-service" flag: namespace "Kube_System": a lowercase RFC 1123 label`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			fs.SetOutput(&bytes.Buffer{})
			o.AddFlags(fs)
			err := fs.Parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(o) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", o, tc.want)
			}
		})
	}
}

func TestValidateNamesEveryMissingFlag(t *testing.T) {
	o := Options{Enabled: true}
	err := o.Validate()
	want := "--cert-secret: required with --cert-rotation, as NAMESPACE/NAME\n" +
		"--cert-service: required with --cert-rotation, as NAMESPACE/NAME\n" +
		"--validating-webhook-configuration or --mutating-webhook-configuration: at least one is required with --cert-rotation\n" +
		"--cert-dir: required with --cert-rotation"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want\n%s", err, want)
	}
	if _, err := Setup(nil, o); err == nil || err.Error() != want {
		t.Errorf("Setup with invalid options = %v, want the same errors", err)
	}
}

// newCA returns a CA in the rotator's format (PKCS#1 RSA key).
func newCA(t *testing.T, name string) (certPEM, keyPEM []byte, cert *x509.Certificate, key *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), cert, key
}

func newServing(t *testing.T, ca *x509.Certificate, caKey *rsa.PrivateKey, dnsName string, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}
