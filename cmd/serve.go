package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/certs"
	"github.com/hostprocess-admission/hostprocess-admission/internal/leader"
	"github.com/hostprocess-admission/hostprocess-admission/webhook"
)

// serveOptions are the serve command's flags. The names and defaults of
// --config, --kubeconfig, --cert-dir, --port, --metrics-bind-address and
// --health-probe-bind-address are a fixed contract used by the chart.
type serveOptions struct {
	configPath           string
	kubeconfig           string
	certDir              string
	port                 int
	metricsAddr          string
	probeAddr            string
	tlsMinVersion        string
	enableHTTP2          bool
	maxBodyBytes         int64
	maxInFlight          int
	shutdownDelay        time.Duration
	configReloadInterval time.Duration
	namespaceTimeout     time.Duration
	leaderElect          bool
	leaderElectionNS     string
	certs                certs.Options
	zap                  zap.Options
}

func newServeCommand() *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the validating and mutating admission webhooks",
		Long: `Serve the validating (/validate) and mutating (/mutate) admission webhooks over TLS.

The configuration file is re-read when it changes; an invalid new file keeps
the last good configuration. Certificates in --cert-dir are reloaded when they
change.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(ctrl.SetupSignalHandler(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.configPath, "config", "", "AdmissionConfiguration file (YAML or JSON); empty means the built-in defaults")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; the in-cluster configuration when empty")
	f.StringVar(&o.certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory holding tls.crt and tls.key")
	f.IntVar(&o.port, "port", 9443, "port the webhook server listens on")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", `address of the Prometheus metrics endpoint; "0" disables it`)
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	f.StringVar(&o.tlsMinVersion, "tls-min-version", "1.2", "minimum TLS version: 1.2 or 1.3")
	f.BoolVar(&o.enableHTTP2, "enable-http2", false, "offer HTTP/2 (off because of the HTTP/2 rapid-reset advisories)")
	f.Int64Var(&o.maxBodyBytes, "max-body-bytes", webhook.DefaultMaxBodyBytes, fmt.Sprintf("largest admission review body accepted (at most %d)", webhook.MaxBodyBytesLimit))
	f.IntVar(&o.maxInFlight, "max-in-flight", 64, "reviews handled at once; more wait their turn")
	f.DurationVar(&o.shutdownDelay, "shutdown-delay", 0, "keep serving this long after SIGTERM while readiness fails, so endpoints drop the pod first")
	f.DurationVar(&o.configReloadInterval, "config-reload-interval", 2*time.Second, "how often the configuration file is checked for changes")
	f.DurationVar(&o.namespaceTimeout, "namespace-lookup-timeout", 2*time.Second, "bound on one namespace lookup; a lookup that fails denies the HostProcess pod")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect one replica to write the background audit reports (needed with more than one replica)")
	f.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "namespace of the leader election Lease; defaults to the pod's own namespace")
	o.certs.AddFlags(f)
	gf := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.zap.BindFlags(gf)
	f.AddGoFlagSet(gf)
	return c
}

// checkMaxBodyBytes bounds --max-body-bytes: every review in flight may
// hold a body this large and the objects decoded from it.
func checkMaxBodyBytes(n int64) error {
	if n <= 0 || n > webhook.MaxBodyBytesLimit {
		return fmt.Errorf("--max-body-bytes %d is out of range (allowed: 1 to %d)", n, webhook.MaxBodyBytesLimit)
	}
	return nil
}

func parseTLSVersion(v string) (uint16, error) {
	switch v {
	case "1.2", "VersionTLS12":
		return tls.VersionTLS12, nil
	case "1.3", "VersionTLS13":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("--tls-min-version %q is not supported (allowed: 1.2, 1.3)", v)
}

// restConfig is serve's client configuration: --kubeconfig, or the pod's
// own. It allows 50 requests a second, burst 100: client-go's default of 5
// would let a burst of reviews for namespaces not yet in the cache (each a
// live lookup) starve every other lookup, so that new namespaces'
// HostProcess pods are denied.
func restConfig(kubeconfig string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		return nil, fmt.Errorf("no --kubeconfig given and not running in a cluster: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

func runServe(ctx context.Context, o *serveOptions) error {
	log := zap.New(zap.UseFlagOptions(&o.zap))
	ctrl.SetLogger(log)
	usage := func(err error) error { return &ExitError{Code: 2, Err: err} }

	minTLS, err := parseTLSVersion(o.tlsMinVersion)
	if err != nil {
		return usage(err)
	}
	if err := checkMaxBodyBytes(o.maxBodyBytes); err != nil {
		return usage(err)
	}
	metrics := webhook.NewMetrics(crmetrics.Registry)
	source, err := webhook.NewPolicySource(o.configPath, o.configReloadInterval, metrics, log.WithName("config"))
	if err != nil {
		return usage(err)
	}
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return usage(err)
	}
	scheme, err := servedScheme()
	if err != nil {
		return err
	}
	server := webhook.NewServer(webhook.ServerOptions{
		Port:          o.port,
		CertDir:       o.certDir,
		MinTLSVersion: minTLS,
		EnableHTTP2:   o.enableHTTP2,
		ShutdownDelay: o.shutdownDelay,
		MaxInFlight:   o.maxInFlight,
		Metrics:       metrics,
		Log:           log.WithName("server"),
	})
	grace := o.shutdownDelay + 35*time.Second
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:  o.probeAddr,
		GracefulShutdownTimeout: &grace,
		// No manager-wide leader election: it ends the process when the lease
		// is lost (e.g. while the API server is unreachable for 10 s), and
		// every replica must keep serving. The audit is elected on its own.
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.Add(source); err != nil {
		return err
	}
	// Namespace metadata is cached from the start, so that label lookups for
	// namespace rules are answered from memory, also while the API server is
	// briefly unreachable.
	nsInformer, err := mgr.GetCache().GetInformer(ctx, webhook.NamespaceMetadata())
	if err != nil {
		return fmt.Errorf("watching namespaces: %w", err)
	}
	// HostProcessExceptions are cached from the start too, so that each
	// review applies the exceptions active at its time (docs/exceptions.md).
	// Without the CRD (the chart installs it) there are none: nothing is
	// granted beyond the configuration.
	exceptions := webhook.NewExceptionCache(log.WithName("exceptions"), nil)
	exSynced := func() bool { return true }
	exInformer, err := mgr.GetCache().GetInformer(ctx, &config.HostProcessException{})
	switch {
	case meta.IsNoMatchError(err):
		log.Info("the CRD hostprocessexceptions.hostprocess.dev is not installed: no HostProcessException applies until it is installed and serve restarted")
	case err != nil:
		return fmt.Errorf("watching HostProcessExceptions: %w", err)
	default:
		if _, err := exInformer.AddEventHandler(exceptions.Handler()); err != nil {
			return fmt.Errorf("watching HostProcessExceptions: %w", err)
		}
		exSynced = exInformer.HasSynced
	}
	handler := &webhook.Handler{
		Policy:       source.Policy,
		Namespaces:   webhook.CachedNamespaces{Cache: mgr.GetCache(), Live: mgr.GetAPIReader(), Timeout: o.namespaceTimeout},
		Metrics:      metrics,
		Log:          log.WithName("admission"),
		MaxBodyBytes: o.maxBodyBytes,
		Exceptions:   exceptions,
	}
	server.Register(webhook.ValidatePath, handler.Validate())
	server.Register(webhook.MutatePath, handler.Mutate())
	var run crwebhook.Server = server
	if o.certs.Enabled {
		// Self-managed certificates: the server starts once they are in
		// --cert-dir and caBundle is set on both configurations.
		o.certs.CertDir = o.certDir
		ready, err := certs.Setup(mgr, o.certs)
		if err != nil {
			return usage(err)
		}
		run = certs.StartAfter(ready, server)
	}
	if err := mgr.Add(run); err != nil {
		return err
	}
	background, err := audit.NewBackground(mgr, source.Policy, crmetrics.Registry, log.WithName("audit"))
	if err != nil {
		return fmt.Errorf("setting up the background audit: %w", err)
	}
	background.Exceptions = exceptions.Exceptions
	var auditRunner manager.Runnable = background
	if o.leaderElect {
		lock, err := leader.NewLeaseLock(cfg, o.leaderElectionNS, "hostprocess-admission")
		if err != nil {
			return usage(err)
		}
		auditRunner = &leader.Elected{Lock: lock, Log: log.WithName("leader"), Work: background.Start}
	}
	if err := mgr.Add(auditRunner); err != nil {
		return err
	}

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("namespace-cache", func(*http.Request) error {
		if !nsInformer.HasSynced() {
			return errors.New("namespace cache has not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("exception-cache", func(*http.Request) error {
		if !exSynced() {
			return errors.New("HostProcessException cache has not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("starting", "config", o.configPath, "port", o.port)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// servedScheme holds the API groups serve reads and writes, and no others:
// core (namespaces, pods, secrets, events, replication controllers, pod
// templates), apps and batch (workloads, for the audit),
// admissionregistration (the caBundle of its webhook configurations) and
// coordination (the leader-election lease). All of client-go's groups cost
// a few MiB of resident memory for nothing.
func servedScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		admissionregistrationv1.AddToScheme, coordinationv1.AddToScheme,
		config.AddExceptionsToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}
