package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/executor"
)

type executorOptions struct {
	tasksDir       string
	configPath     string
	nodeName       string
	metricsAddress string
	stateFile      string
	reloadInterval time.Duration
	once           bool
	kubeconfig     string
	namespace      string
	groupFile      string
}

func newExecutorCommand() *cobra.Command {
	o := executorOptions{nodeName: os.Getenv("NODE_NAME")}
	cmd := &cobra.Command{
		Use:   "executor",
		Short: "Run node tasks in Windows Job Objects, with limits, timeouts and a report",
		Long: `executor runs on each Windows node as a HostProcess DaemonSet. It reads
executor.hostprocess.dev/v1alpha1 Task files from --tasks-dir (a mounted
ConfigMap, not via subPath), reloads them when they change, and runs each in a
Job Object of its own when its trigger says. With --config it also creates the
admission configuration's allowedLocalGroups on the node (ensureLocalGroups).

Each event is a JSON line on stdout. With credentials for the Kubernetes API
(--kubeconfig, or the pod's ServiceAccount, read under
$CONTAINER_SANDBOX_MOUNT_POINT in a HostProcess container) each run is also an
Event on the Node, the last run and the counts of every task are kept in the
ConfigMap hostprocess-executor-status-<node> of --namespace, and
ensureLocalGroups labels the node hostprocess.dev/local-groups-ready. The API
server being away never holds up a run: what could not be written is tried
again later. On SIGTERM every running job is ended and reported before the
executor exits.

Exit codes: 0 success; 1 with --once, a run did not succeed; 2 usage or
configuration errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExecutor(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.tasksDir, "tasks-dir", "", "directory of task files (required)")
	f.StringVar(&o.configPath, "config", "", "admission configuration whose allowedLocalGroups ensureLocalGroups creates; none: no ensureLocalGroups")
	f.StringVar(&o.nodeName, "node-name", o.nodeName, "name of this node in reports (default $NODE_NAME)")
	f.StringVar(&o.metricsAddress, "metrics-bind-address", ":9090", `address of the Prometheus metrics endpoint; "0" disables it`)
	f.StringVar(&o.stateFile, "state-file", "", "file that remembers which once tasks ran, across restarts; none: in memory")
	f.DurationVar(&o.reloadInterval, "reload-interval", executor.DefaultReloadInterval, "how often the tasks directory and the configuration are read again")
	f.BoolVar(&o.once, "once", false, "run each task that is due at start once, one after the other, and exit")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for reporting to Kubernetes; none: the pod's ServiceAccount")
	f.StringVar(&o.namespace, "namespace", "", "namespace of the node's status ConfigMap (default: the ServiceAccount's namespace, or the kubeconfig context's)")
	f.StringVar(&o.groupFile, "group-file", "", "not on Windows: a group(5) file in which ensureLocalGroups checks and creates the local groups (development and tests, e.g. for a simulated Windows node); none: ensureLocalGroups is unsupported there")
	return cmd
}

func runExecutor(ctx context.Context, stdout, stderr io.Writer, o executorOptions) error {
	if o.tasksDir == "" {
		return &ExitError{Code: 2, Err: errors.New("--tasks-dir is required")}
	}
	if o.reloadInterval <= 0 {
		return &ExitError{Code: 2, Err: errors.New("--reload-interval must be positive")}
	}
	if o.groupFile != "" && runtime.GOOS == "windows" {
		return &ExitError{Code: 2, Err: errors.New("--group-file is for the Linux backend only: on Windows the local groups are the node's own (NetLocalGroupAdd)")}
	}
	state, err := executor.OpenState(o.stateFile)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	backend, err := executor.NewBackend()
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	var localGroups func() ([]string, error)
	if o.configPath != "" {
		// Read once now so a wrong file fails at start, then at each reload.
		if _, err := config.Load(o.configPath); err != nil {
			return &ExitError{Code: 2, Err: err}
		}
		localGroups = func() ([]string, error) {
			c, err := config.Load(o.configPath)
			if err != nil {
				return nil, err
			}
			return c.AllowedLocalGroups, nil
		}
	}

	reporters := executor.MultiReporter{executor.NewJSONReporter(stdout)}
	// SIGTERM is also what Go delivers on Windows for CTRL_SHUTDOWN_EVENT.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.metricsAddress != "0" && o.metricsAddress != "" {
		metrics := executor.NewMetricsReporter()
		reporters = append(reporters, metrics)
		shutdown, err := serveMetrics(o.metricsAddress, metrics.Handler(), stderr)
		if err != nil {
			return &ExitError{Code: 2, Err: err}
		}
		defer shutdown()
	}
	kube, err := newKubeReporter(o, stderr)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if kube != nil {
		reporters = append(reporters, kube)
	}

	opts := executor.Options{
		TasksDir:       o.tasksDir,
		LocalGroups:    localGroups,
		GroupFile:      o.groupFile,
		Node:           o.nodeName,
		Backend:        backend,
		Reporter:       reporters,
		State:          state,
		ReloadInterval: o.reloadInterval,
		Log:            stderr,
	}
	if !o.once {
		// Run fails only when the reporters could not flush: logged, as
		// every reporting error is, never fatal.
		if err := executor.Run(ctx, opts); err != nil {
			fmt.Fprintln(stderr, "executor:", err)
		}
		return nil
	}
	reports, err := executor.RunOnce(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "executor:", err)
	}
	failed := 0
	for _, r := range reports {
		if r.Outcome != executor.OutcomeSucceeded {
			failed++
		}
	}
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d runs did not succeed", failed, len(reports))}
	}
	return nil
}

// newKubeReporter returns the Kubernetes reporter, or nil with a line on
// stderr when no credentials are there: the executor then reports JSON lines
// and metrics only. A --kubeconfig that cannot be used is an error.
func newKubeReporter(o executorOptions, stderr io.Writer) (*executor.KubeReporter, error) {
	var (
		cfg *rest.Config
		ns  string
		err error
	)
	if o.kubeconfig != "" {
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.kubeconfig}, &clientcmd.ConfigOverrides{})
		if cfg, err = loader.ClientConfig(); err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
		if ns, _, err = loader.Namespace(); err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
	} else if cfg, ns, err = executor.InClusterConfig(); err != nil {
		fmt.Fprintf(stderr, "executor: not reporting to Kubernetes (no Events, status ConfigMap or node label), only JSON lines and metrics: no credentials: %v\n", err)
		return nil, nil
	}
	if o.namespace != "" {
		ns = o.namespace
	}
	if o.nodeName == "" {
		fmt.Fprintln(stderr, "executor: not reporting to Kubernetes (no Events, status ConfigMap or node label), only JSON lines and metrics: --node-name and $NODE_NAME are empty")
		return nil, nil
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = rest.DefaultKubernetesUserAgent() + " hostprocess-admission-executor"
	client, err := executor.NewClients(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	kube, err := executor.NewKubeReporter(executor.KubeReporterOptions{Client: client, Node: o.nodeName, Namespace: ns, Log: stderr})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "executor: reporting to Kubernetes at %s: Events on node %s, status in ConfigMap %s/%s\n",
		cfg.Host, o.nodeName, ns, executor.StatusConfigMapName(o.nodeName))
	return kube, nil
}

// serveMetrics serves /metrics on address until the returned function is
// called.
func serveMetrics(address string, handler http.Handler, stderr io.Writer) (func(), error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("--metrics-bind-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", handler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "executor: metrics:", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
