// Package certs gives the webhook self-managed serving certificates: the chart's
// "selfManaged" certificate mode, with no cert-manager and no certificate that an
// operator has to renew.
//
// Setup adds to a controller-runtime manager:
//
//   - a rotator (github.com/open-policy-agent/cert-controller/pkg/rotator) that
//     keeps a CA and a serving certificate for the webhook Service in one Secret
//     (keys ca.crt, ca.key, tls.crt, tls.key), renews the serving certificate
//     RenewBefore ahead of its expiry (and the CA ahead of its own), and writes
//     the CA into caBundle of every webhook of the named Validating and Mutating
//     webhook configurations, putting it back whenever someone changes it;
//   - a writer that copies tls.crt and tls.key from the Secret into CertDir
//     whenever the Secret changes, so that the webhook server, which reloads the
//     files when they change, serves the new certificate within seconds and
//     without a restart. CertDir can be an emptyDir: nothing waits for the
//     kubelet to refresh a Secret volume.
//
// Several replicas may run Setup at once. They share the Secret: the first one
// to write it wins (updates carry the resourceVersion), and the others pick up
// its certificate from the Secret.
//
// The Secret is created when it is missing, which needs the "create" verb on
// Secrets; the Helm chart creates the (empty) Secret itself, so that the
// webhook's Role needs only get, list, watch and update.
package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Keys of the Secret, as the rotator writes them.
const (
	CACertKey = "ca.crt"
	CAKeyKey  = "ca.key"
	CertKey   = "tls.crt"
	KeyKey    = "tls.key"
)

// Defaults for the zero values of Options.
const (
	DefaultCAValidity    = 10 * 365 * 24 * time.Hour
	DefaultCertValidity  = 365 * 24 * time.Hour
	DefaultRenewBefore   = 90 * 24 * time.Hour
	DefaultCheckInterval = 12 * time.Hour
)

// Options configure Setup. AddFlags binds the ones an operator sets.
type Options struct {
	// Enabled turns self-managed certificates on (--cert-rotation). Setup must
	// only be called when it is true.
	Enabled bool
	// Secret is the Secret holding the CA and the serving certificate
	// (--cert-secret NAMESPACE/NAME).
	Secret types.NamespacedName
	// Service is the webhook's Service (--cert-service NAMESPACE/NAME). The
	// serving certificate is for NAME.NAMESPACE.svc, the name the API server
	// connects to, and also NAME.NAMESPACE.svc.cluster.local, NAME.NAMESPACE
	// and NAME.
	Service types.NamespacedName
	// ValidatingWebhookConfiguration and MutatingWebhookConfiguration name the
	// cluster-scoped configurations whose webhooks get the CA as caBundle
	// (--validating-webhook-configuration, --mutating-webhook-configuration).
	// At least one is required.
	ValidatingWebhookConfiguration string
	MutatingWebhookConfiguration   string
	// CertDir receives tls.crt and tls.key (serve's --cert-dir).
	CertDir string

	// CAValidity, CertValidity, RenewBefore and CheckInterval: how long the CA
	// and a serving certificate are valid, how long before its expiry a
	// certificate is replaced, and how often that is checked (besides every
	// change of the Secret). Zero means the Default* constants.
	CAValidity    time.Duration
	CertValidity  time.Duration
	RenewBefore   time.Duration
	CheckInterval time.Duration

	// Log defaults to controller-runtime's logger, named "certs".
	Log logr.Logger

	// ControllerName is the rotator's controller name; controller-runtime wants
	// it unique per process, which only matters to tests that run several.
	ControllerName string
}

// AddFlags binds the operator-facing options to fs:
//
//	--cert-rotation
//	--cert-secret NAMESPACE/NAME
//	--cert-service NAMESPACE/NAME
//	--validating-webhook-configuration NAME
//	--mutating-webhook-configuration NAME
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Enabled, "cert-rotation", false,
		"create and rotate the CA and serving certificate in --cert-secret, write them to --cert-dir, and keep caBundle of the webhook configurations current")
	fs.Var(namespacedNameValue{&o.Secret}, "cert-secret",
		"NAMESPACE/NAME of the Secret holding the self-managed CA and serving certificate (with --cert-rotation)")
	fs.Var(namespacedNameValue{&o.Service}, "cert-service",
		"NAMESPACE/NAME of the webhook Service the serving certificate is for (with --cert-rotation)")
	fs.StringVar(&o.ValidatingWebhookConfiguration, "validating-webhook-configuration", "",
		"ValidatingWebhookConfiguration whose caBundle is kept current (with --cert-rotation)")
	fs.StringVar(&o.MutatingWebhookConfiguration, "mutating-webhook-configuration", "",
		"MutatingWebhookConfiguration whose caBundle is kept current (with --cert-rotation)")
}

// Validate reports missing or malformed options, naming the flags.
func (o *Options) Validate() error {
	var errs []error
	if o.Secret.Name == "" || o.Secret.Namespace == "" {
		errs = append(errs, errors.New("--cert-secret: required with --cert-rotation, as NAMESPACE/NAME"))
	}
	if o.Service.Name == "" || o.Service.Namespace == "" {
		errs = append(errs, errors.New("--cert-service: required with --cert-rotation, as NAMESPACE/NAME"))
	}
	if o.ValidatingWebhookConfiguration == "" && o.MutatingWebhookConfiguration == "" {
		errs = append(errs, errors.New("--validating-webhook-configuration or --mutating-webhook-configuration: at least one is required with --cert-rotation"))
	}
	if o.CertDir == "" {
		errs = append(errs, errors.New("--cert-dir: required with --cert-rotation"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"CAValidity", o.CAValidity}, {"CertValidity", o.CertValidity}, {"RenewBefore", o.RenewBefore}, {"CheckInterval", o.CheckInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", d.name))
		}
	}
	return errors.Join(errs...)
}

// DNSNames returns the names the serving certificate is for; the first is the
// one the API server uses.
func (o *Options) DNSNames() []string {
	n, ns := o.Service.Name, o.Service.Namespace
	return []string{n + "." + ns + ".svc", n + "." + ns + ".svc.cluster.local", n + "." + ns, n}
}

// Setup adds self-managed certificate rotation to mgr. The returned channel is
// closed once tls.crt and tls.key are in CertDir and the CA has been written to
// the webhook configurations; start the webhook server only then (StartAfter),
// since it cannot serve without them. Nothing talks to the API server before
// mgr starts.
func Setup(mgr manager.Manager, o Options) (<-chan struct{}, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Log.GetSink() == nil {
		o.Log = logf.Log.WithName("certs")
	}
	if o.ControllerName == "" {
		o.ControllerName = "cert-rotator"
	}
	names := o.DNSNames()
	ready := make(chan struct{})
	cr := &rotator.CertRotator{
		SecretKey:      o.Secret,
		CertDir:        o.CertDir,
		CAName:         o.Service.Name + "-ca",
		CAOrganization: "hostprocess-admission",
		DNSName:        names[0],
		ExtraDNSNames:  names[1:],
		IsReady:        ready,
		FieldOwner:     "hostprocess-admission",
		// Every replica serves, and there is no leader election: each keeps the
		// shared Secret valid and its own files current.
		RequireLeaderElection:  false,
		CaCertDuration:         or(o.CAValidity, DefaultCAValidity),
		ServerCertDuration:     or(o.CertValidity, DefaultCertValidity),
		LookaheadInterval:      or(o.RenewBefore, DefaultRenewBefore),
		RotationCheckFrequency: or(o.CheckInterval, DefaultCheckInterval),
		ControllerName:         o.ControllerName,
	}
	if o.ValidatingWebhookConfiguration != "" {
		cr.Webhooks = append(cr.Webhooks, rotator.WebhookInfo{Name: o.ValidatingWebhookConfiguration, Type: rotator.Validating})
	}
	if o.MutatingWebhookConfiguration != "" {
		cr.Webhooks = append(cr.Webhooks, rotator.WebhookInfo{Name: o.MutatingWebhookConfiguration, Type: rotator.Mutating})
	}

	// The rotator reads the Secret and never creates it: it is created first,
	// inside the rotator's own Start, and awaited in the rotator's cache.
	ensure := func(ctx context.Context) error {
		return ensureSecret(ctx, mgr.GetAPIReader(), mgr.GetClient(), o.Secret, o.Log)
	}
	if err := rotator.AddRotator(ensureFirstManager{Manager: mgr, ensure: ensure, secret: o.Secret, cache: new(cache.Cache)}, cr); err != nil {
		return nil, fmt.Errorf("adding the certificate rotator: %w", err)
	}

	// The writer's cache holds this one Secret only (a field selector on its
	// name), whatever else is in the namespace.
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{o.Secret.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", o.Secret.Name)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the Secret cache: %w", err)
	}
	if err := mgr.Add(&fileWriter{secret: o.Secret, dir: o.CertDir, cache: c, log: o.Log}); err != nil {
		return nil, err
	}
	return ready, nil
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// StartAfter returns srv with a Start that first waits for ready (and returns
// nil, never starting srv, when ctx ends before). Add it to the manager with
// mgr.Add in place of srv: being a webhook.Server too, it runs in the
// manager's webhook group, as srv would.
func StartAfter(ready <-chan struct{}, srv crwebhook.Server) crwebhook.Server {
	return &startAfter{Server: srv, ready: ready}
}

type startAfter struct {
	crwebhook.Server
	ready <-chan struct{}
}

func (s *startAfter) Start(ctx context.Context) error {
	select {
	case <-s.ready:
		return s.Server.Start(ctx)
	case <-ctx.Done():
		return nil
	}
}

// ensureFirstManager hands AddRotator the manager, but wraps the rotator it
// adds so that the Secret exists, and is in the rotator's cache, before the
// rotator first reads it: the rotator fails for good when its first read
// finds no Secret. AddRotator adds its cache before the rotator; Add keeps it.
type ensureFirstManager struct {
	manager.Manager
	ensure func(context.Context) error
	secret types.NamespacedName
	cache  *cache.Cache
}

func (m ensureFirstManager) Add(r manager.Runnable) error {
	switch r := r.(type) {
	case *rotator.CertRotator:
		return m.Manager.Add(&ensureFirst{CertRotator: r, ensure: m.ensure, secret: m.secret, cache: *m.cache})
	case cache.Cache:
		*m.cache = r
	}
	return m.Manager.Add(r)
}

type ensureFirst struct {
	*rotator.CertRotator
	ensure func(context.Context) error
	secret types.NamespacedName
	cache  cache.Cache
}

func (e *ensureFirst) Start(ctx context.Context) error {
	if err := e.ensure(ctx); err != nil {
		return err
	}
	if e.cache != nil {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			return e.cache.Get(ctx, e.secret, &corev1.Secret{}) == nil, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for Secret %s to reach the certificate rotator's cache: %w", e.secret, err)
		}
	}
	return e.CertRotator.Start(ctx)
}

// ensureSecret creates the Secret when it does not exist, retrying transient
// errors for up to a minute.
func ensureSecret(ctx context.Context, r client.Reader, w client.Writer, key types.NamespacedName, log logr.Logger) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Steps: 9, Cap: 15 * time.Second},
		func(ctx context.Context) (bool, error) {
			last = nil
			err := r.Get(ctx, key, &corev1.Secret{})
			if err == nil {
				return true, nil
			}
			if !apierrors.IsNotFound(err) {
				last = fmt.Errorf("reading Secret %s: %w", key, err)
				return false, nil
			}
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
					Labels: map[string]string{"app.kubernetes.io/component": "webhook-certificate"}},
				Type: corev1.SecretTypeOpaque,
			}
			switch err := w.Create(ctx, s); {
			case err == nil:
				log.Info("created the certificate Secret", "secret", key.String())
				return true, nil
			case apierrors.IsAlreadyExists(err):
				return true, nil
			case apierrors.IsForbidden(err):
				return false, fmt.Errorf("the Secret %s does not exist and cannot be created (the Helm chart creates it; helm upgrade restores it): %w", key, err)
			default:
				last = fmt.Errorf("creating Secret %s: %w", key, err)
				return false, nil
			}
		})
	if err != nil && last != nil {
		return last
	}
	return err
}

// fileWriter copies tls.crt and tls.key from the Secret into dir.
type fileWriter struct {
	secret types.NamespacedName
	dir    string
	cache  cache.Cache
	log    logr.Logger
}

// NeedLeaderElection is false: every replica needs its own files.
func (f *fileWriter) NeedLeaderElection() bool { return false }

func (f *fileWriter) Start(ctx context.Context) error {
	inf, err := f.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watching Secret %s: %w", f.secret, err)
	}
	handle := func(obj any) {
		s, ok := obj.(*corev1.Secret)
		if !ok || s.Name != f.secret.Name || s.Namespace != f.secret.Namespace {
			return
		}
		if err := f.write(s); err != nil {
			f.log.Error(err, "writing the serving certificate", "dir", f.dir)
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, obj any) { handle(obj) },
	}); err != nil {
		return err
	}
	return f.cache.Start(ctx)
}

// write puts the Secret's key pair into dir when it is a valid pair that
// differs from what is there. Each file is replaced by a rename, so a reader
// never sees half a file; the key goes first, and the server keeps its old
// certificate should it read the new key with the old certificate.
func (f *fileWriter) write(s *corev1.Secret) error {
	cert, key := s.Data[CertKey], s.Data[KeyKey]
	if len(cert) == 0 || len(key) == 0 {
		return nil // the rotator has not filled the Secret yet
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return fmt.Errorf("the Secret %s holds no valid key pair: %w", f.secret, err)
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	changed := false
	for _, file := range []struct {
		name string
		data []byte
	}{{KeyKey, key}, {CertKey, cert}} {
		path := filepath.Join(f.dir, file.name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, file.data) {
			continue
		}
		if err := writeFileAtomic(path, file.data); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		f.log.Info("wrote the serving certificate", "dir", f.dir, "secret", f.secret.String())
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// namespacedNameValue is a pflag.Value for NAMESPACE/NAME.
type namespacedNameValue struct{ n *types.NamespacedName }

func (v namespacedNameValue) String() string {
	if v.n == nil || (v.n.Name == "" && v.n.Namespace == "") {
		return ""
	}
	return v.n.String()
}

func (v namespacedNameValue) Set(s string) error {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("%q is not NAMESPACE/NAME", s)
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("name %q: %s", name, strings.Join(errs, "; "))
	}
	*v.n = types.NamespacedName{Namespace: ns, Name: name}
	return nil
}

func (v namespacedNameValue) Type() string { return "namespace/name" }
