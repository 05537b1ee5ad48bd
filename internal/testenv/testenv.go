//go:build !windows

package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Names of the binaries in bin/ that `make tools` builds.
const (
	KubeAPIServer = "kube-apiserver"
	Etcd          = "etcd"
	Kubectl       = "kubectl"
	Helm          = "helm"
	// PodSecurityWebhook is only built by `hack/build-control-plane.sh psa-webhook`.
	PodSecurityWebhook = "pod-security-webhook"
)

// Env is a running control plane.
type Env struct {
	// Config is an admin (system:masters) client configuration for the API server.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same admin user, for bin/kubectl
	// and bin/helm (Command sets KUBECONFIG to it).
	Kubeconfig string
	// Client is a controller-runtime client using Scheme.
	Client client.Client
	// Scheme is the scheme of Client (client-go's scheme unless WithScheme was given).
	Scheme *runtime.Scheme
	// Environment is the underlying envtest environment. After start,
	// Environment.WebhookInstallOptions holds the local serving host, port and certificate
	// directory that the installed webhook configurations point at.
	Environment *envtest.Environment
	// Dir is a temporary directory owned by the Env (kubeconfig, helm homes); removed by Stop.
	Dir string

	stopOnce sync.Once
	stopErr  error
}

type options struct {
	webhook      envtest.WebhookInstallOptions
	crds         []string
	apiServer    []string
	etcd         []string
	etcdDataDir  string
	scheme       *runtime.Scheme
	logger       *logr.Logger
	attachOutput bool
	startTimeout time.Duration
}

// Option configures Start and New.
type Option func(*options)

// WithWebhookInstallOptions installs the given Validating/MutatingWebhookConfigurations once the
// API server is up. envtest rewrites their client configs to point at a local serving address
// (Environment.WebhookInstallOptions.LocalServingHost/LocalServingPort) with a generated CA and
// serving certificate in LocalServingCertDir, where the test's webhook server must listen.
// A webhook's ClientConfig.Service (any name; Path required, e.g. "/validate") becomes
// ClientConfig.URL "https://LocalServingHost:LocalServingPort/validate". The configurations are
// copied; read the installed ones from Env.Environment.WebhookInstallOptions.
func WithWebhookInstallOptions(o envtest.WebhookInstallOptions) Option {
	return func(opts *options) { opts.webhook = o }
}

// WithCRDs installs the CustomResourceDefinitions in the YAML files at paths
// once the API server is up, and waits until they are served.
func WithCRDs(paths ...string) Option {
	return func(opts *options) { opts.crds = append(opts.crds, paths...) }
}

// ExceptionCRD returns the path of the chart's HostProcessException CRD.
func ExceptionCRD() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "charts", "hostprocess-admission", "files", "crds", "hostprocess.dev_hostprocessexceptions.yaml"), nil
}

// WithAPIServerFlags passes extra kube-apiserver flags, e.g. "--admission-control-config-file=/x"
// or "--feature-gates=Foo=true". A flag given here replaces envtest's default for the same name
// (envtest sets --authorization-mode=RBAC, --disable-admission-plugins=ServiceAccount,
// --allow-privileged=true, --service-cluster-ip-range=10.0.0.0/24 and the serving/etcd/cert
// flags); repeating a flag passes it several times. "--name" alone means "--name=true".
func WithAPIServerFlags(flags ...string) Option {
	return func(opts *options) { opts.apiServer = append(opts.apiServer, flags...) }
}

// WithEtcdFlags passes extra etcd flags, in the same form as WithAPIServerFlags.
func WithEtcdFlags(flags ...string) Option {
	return func(opts *options) { opts.etcd = append(opts.etcd, flags...) }
}

// WithEtcdDataDir keeps etcd's data in dir (the caller's; it is not
// removed), so that Environment.ControlPlane.Etcd can be stopped and started
// again with its data, as in an etcd outage.
func WithEtcdDataDir(dir string) Option {
	return func(opts *options) { opts.etcdDataDir = dir }
}

// WithScheme sets the scheme of Env.Client (and of envtest's CRD/webhook handling).
func WithScheme(s *runtime.Scheme) Option {
	return func(opts *options) { opts.scheme = s }
}

// WithLogger sets controller-runtime's global logger (pkg/log.SetLogger) before starting.
func WithLogger(l logr.Logger) Option {
	return func(opts *options) { opts.logger = &l }
}

// WithOutput attaches the etcd and kube-apiserver output to the test process's stdout/stderr
// (also enabled by KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true).
func WithOutput() Option {
	return func(opts *options) { opts.attachOutput = true }
}

// WithStartTimeout sets how long each of etcd and kube-apiserver may take to become healthy
// (default 60s; the machines this runs on are small).
func WithStartTimeout(d time.Duration) Option {
	return func(opts *options) { opts.startTimeout = d }
}

// Start starts a control plane for the test and stops it in t.Cleanup. It fails the test
// (never skips) when the binaries are missing.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	env, err := New(opts...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("testenv: stopping control plane: %v", err)
		}
	})
	return env
}

// New starts a control plane. The caller must call Stop. It is meant for TestMain, where no
// testing.TB exists; elsewhere use Start.
func New(opts ...Option) (*Env, error) {
	o := options{startTimeout: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger != nil {
		logf.SetLogger(*o.logger)
	}

	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	apiserverPath, err := Bin(KubeAPIServer)
	if err != nil {
		return nil, err
	}
	etcdPath, err := Bin(Etcd)
	if err != nil {
		return nil, err
	}

	scheme := o.scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}

	dir, err := os.MkdirTemp("", "testenv-")
	if err != nil {
		return nil, err
	}

	te := &envtest.Environment{
		Scheme:                   scheme,
		BinaryAssetsDirectory:    bin,
		DownloadBinaryAssets:     false,
		WebhookInstallOptions:    normalizeWebhooks(o.webhook),
		ControlPlaneStartTimeout: o.startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
		AttachControlPlaneOutput: o.attachOutput,
		CRDInstallOptions:        envtest.CRDInstallOptions{Paths: o.crds, ErrorIfPathMissing: true},
	}
	// Explicit paths win over KUBEBUILDER_ASSETS / TEST_ASSET_* in the environment, so the
	// binaries from bin/ are always the ones used.
	api := te.ControlPlane.GetAPIServer()
	api.Path = apiserverPath
	te.ControlPlane.Etcd = &envtest.Etcd{Path: etcdPath, DataDir: o.etcdDataDir}
	te.ControlPlane.KubectlPath = filepath.Join(bin, Kubectl)

	apiArgs := api.Configure()
	for k, v := range defaultAPIServerFlags() {
		apiArgs.Set(k, v...)
	}
	if err := applyFlags(apiArgs, o.apiServer); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("kube-apiserver flags: %w", err)
	}
	if err := applyFlags(te.ControlPlane.Etcd.Configure(), o.etcd); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("etcd flags: %w", err)
	}

	cfg, err := te.Start()
	if err != nil {
		_ = te.Stop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting control plane from %s: %w", bin, err)
	}

	env := &Env{Config: cfg, Scheme: scheme, Environment: te, Dir: dir}
	env.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(env.Kubeconfig, te.KubeConfig, 0o600); err != nil {
		_ = env.Stop()
		return nil, err
	}
	env.Client, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return env, nil
}

// defaultAPIServerFlags returns the flags set on top of envtest's defaults. envtest's defaults
// all exist in kube-apiserver v1.37 (it drops --insecure-port itself after probing --help) and
// are kept. kube-apiserver advertises the address of the default-route interface and refuses a
// loopback one while it reconciles the "kubernetes" Service endpoints, so on a machine (or
// network namespace) without a default route it is told to advertise 127.0.0.1 and not
// reconcile those endpoints.
func defaultAPIServerFlags() map[string][]string {
	if hasDefaultRoute() {
		return nil
	}
	return map[string][]string{
		"advertise-address":        {"127.0.0.1"},
		"endpoint-reconciler-type": {"none"},
	}
}

// hasDefaultRoute reports whether an IPv4 or IPv6 default route exists (Linux /proc/net; true
// elsewhere, leaving kube-apiserver's own choice alone).
func hasDefaultRoute() bool {
	v4, err4 := os.ReadFile("/proc/net/route")
	v6, err6 := os.ReadFile("/proc/net/ipv6_route")
	if err4 != nil && err6 != nil {
		return true
	}
	for _, line := range strings.Split(string(v4), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 && f[0] != "lo" && f[1] == "00000000" {
			return true
		}
	}
	for _, line := range strings.Split(string(v6), "\n") {
		// destination, prefix length, ..., interface name last.
		if f := strings.Fields(line); len(f) >= 10 && f[9] != "lo" &&
			f[0] == strings.Repeat("0", 32) && f[1] == "00" {
			return true
		}
	}
	return false
}

// applyFlags parses "--name=value" and "--name" (meaning "--name=true") into args. The first
// occurrence of a name replaces envtest's default for it; later ones add values
// ("--name=a --name=b").
func applyFlags(args *envtest.Arguments, flags []string) error {
	seen := map[string]bool{}
	for _, f := range flags {
		s := strings.TrimLeft(f, "-")
		if s == "" || s == f {
			return fmt.Errorf("flag %q must start with --", f)
		}
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			value = "true"
		}
		if seen[name] {
			args.AppendNoDefaults(name, value)
		} else {
			args.Set(name, value)
		}
		seen[name] = true
	}
	return nil
}

// normalizeWebhooks returns a copy of o whose configurations have service paths without a
// leading slash: envtest turns a service reference into "https://HOST:PORT/" + path, so the
// natural "/validate" would become "//validate", which Go's HTTP muxes answer with a redirect.
func normalizeWebhooks(o envtest.WebhookInstallOptions) envtest.WebhookInstallOptions {
	trim := func(cc *admissionregistrationv1.WebhookClientConfig) {
		if cc.Service != nil && cc.Service.Path != nil {
			p := strings.TrimLeft(*cc.Service.Path, "/")
			cc.Service.Path = &p
		}
	}
	mutating := make([]*admissionregistrationv1.MutatingWebhookConfiguration, len(o.MutatingWebhooks))
	for i, c := range o.MutatingWebhooks {
		mutating[i] = c.DeepCopy()
		for j := range mutating[i].Webhooks {
			trim(&mutating[i].Webhooks[j].ClientConfig)
		}
	}
	validating := make([]*admissionregistrationv1.ValidatingWebhookConfiguration, len(o.ValidatingWebhooks))
	for i, c := range o.ValidatingWebhooks {
		validating[i] = c.DeepCopy()
		for j := range validating[i].Webhooks {
			trim(&validating[i].Webhooks[j].ClientConfig)
		}
	}
	o.MutatingWebhooks, o.ValidatingWebhooks = mutating, validating
	return o
}

// Stop stops the control plane and removes Dir. It is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		if e.Environment != nil {
			e.stopErr = e.Environment.Stop()
		}
		if e.Dir != "" {
			if err := os.RemoveAll(e.Dir); err != nil && e.stopErr == nil {
				e.stopErr = err
			}
		}
	})
	return e.stopErr
}

// Command returns a command running bin/NAME (e.g. Kubectl, Helm) against this control plane:
// KUBECONFIG is set to e.Kubeconfig and helm's config, cache and data homes point into e.Dir,
// so nothing outside the Env is read or written. A missing binary shows up as the command's
// start error, which names `make tools`.
func (e *Env) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path, err := Bin(name)
	cmd := exec.CommandContext(ctx, path, args...)
	if err != nil {
		cmd.Err = err
	}
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+e.Kubeconfig,
		"HELM_CONFIG_HOME="+filepath.Join(e.Dir, "helm", "config"),
		"HELM_CACHE_HOME="+filepath.Join(e.Dir, "helm", "cache"),
		"HELM_DATA_HOME="+filepath.Join(e.Dir, "helm", "data"),
	)
	return cmd
}

// Run runs bin/NAME with args like Command and returns its combined output; the error includes
// the output.
func (e *Env) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := e.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the repository root: the nearest directory at or above the working
// directory (a test's package directory) that contains go.mod with this module's path.
func RepoRoot() (string, error) {
	rootOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for dir := wd; ; {
			if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
				strings.Contains(string(data), "module "+modulePath+"\n") {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = fmt.Errorf("no go.mod for module %s at or above %s", modulePath, wd)
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

const modulePath = "github.com/hostprocess-admission/hostprocess-admission"

// BinDir returns the repository's bin/ directory (which may not exist yet).
func BinDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// ErrMissingBinary is wrapped by the errors of Bin, New and Start when a binary is absent.
var ErrMissingBinary = errors.New("control-plane binary missing")

// Bin returns the path of bin/NAME, or an error wrapping ErrMissingBinary that says to run
// `make tools` when it is not there.
func Bin(name string) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	st, err := os.Stat(path)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		hint := "run make tools"
		if name == PodSecurityWebhook {
			hint = "run hack/build-control-plane.sh psa-webhook"
		}
		return "", fmt.Errorf("%w: %s not found (%s; binaries are built from Go modules, never downloaded)",
			ErrMissingBinary, path, hint)
	}
	return path, nil
}

// RequireBin returns the path of bin/NAME, failing the test when it is missing.
func RequireBin(t testing.TB, name string) string {
	t.Helper()
	path, err := Bin(name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return path
}
