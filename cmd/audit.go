package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const auditLong = `Audit reads the Pods and workloads of a live cluster and reports every
HostProcess pod and workload: namespace, owner, effective runAsUserName, images,
nodes and the namespace's pod-security.kubernetes.io/enforce level, with the
violations of the policy under the current configuration, and counts by user,
namespace and rule.

A Pod that belongs to a workload is reported under its top-level owner (a Pod of
a ReplicaSet of a Deployment as the Deployment), whose pod template is
evaluated. Objects in exempt namespaces are listed as exempt, without
violations. Objects in namespaces being deleted are skipped.

Reads are paginated (--chunk-size per request), so memory stays flat on large
clusters; a progress line appears on stderr when the audit takes more than a
second. The audit needs only read access (see docs/audit.md).

Formats: table (the terminal), json, markdown (pastes into a review) and html
(one self-contained page with a sortable table and charts).

Exit codes: 0 no violations; 1 at least one violation; 2 an error (the cluster
cannot be reached, a read is forbidden, bad flags or configuration).`

type auditOptions struct {
	kubeconfig     string
	context        string
	configPath     string
	namespace      string
	allNamespaces  bool
	output         string
	outputFile     string
	chunkSize      int64
	requestTimeout time.Duration
}

func newAuditCommand() *cobra.Command {
	o := &auditOptions{}
	c := &cobra.Command{
		Use:   "audit [-n NAMESPACE | -A] [-o table|json|markdown|html]",
		Short: "Report the HostProcess pods and workloads of a live cluster",
		Long:  auditLong,
		Example: `  hostprocess-admission audit -A
  hostprocess-admission audit -n kube-system --config config.yaml -o json
  hostprocess-admission audit -A -o html --output-file audit.html`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runAudit(c.Context(), o, c)
		},
	}
	f := c.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; default $KUBECONFIG, then ~/.kube/config")
	f.StringVar(&o.context, "context", "", "kubeconfig context to use; default the current context")
	f.StringVar(&o.configPath, "config", "", "AdmissionConfiguration file whose policy the objects are evaluated under; empty means the built-in defaults")
	f.StringVarP(&o.namespace, "namespace", "n", "", "audit only this namespace")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "audit all namespaces (the default without --namespace)")
	f.StringVarP(&o.output, "output", "o", audit.FormatTable, "output format: "+strings.Join(audit.Formats, ", "))
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	f.Int64Var(&o.chunkSize, "chunk-size", audit.DefaultChunkSize, "objects per list request")
	f.DurationVar(&o.requestTimeout, "request-timeout", 30*time.Second, "bound on each request to the API server")
	return c
}

func runAudit(ctx context.Context, o *auditOptions, c *cobra.Command) error {
	usage := func(err error) error { return &ExitError{Code: 2, Err: err} }
	if ctx == nil {
		ctx = context.Background()
	}
	if o.namespace != "" && o.allNamespaces {
		return usage(errors.New("--namespace and --all-namespaces cannot be used together"))
	}
	if !validFormat(o.output) {
		return usage(fmt.Errorf("--output must be one of %s, not %q", strings.Join(audit.Formats, ", "), o.output))
	}
	if o.chunkSize <= 0 {
		return usage(fmt.Errorf("--chunk-size must be positive, not %d", o.chunkSize))
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return usage(err)
	}
	p, err := policy.New(cfg)
	if err != nil {
		return usage(fmt.Errorf("configuration file %s: %w", o.configPath, err))
	}
	cs, err := auditClient(o)
	if err != nil {
		return usage(err)
	}
	stderr := c.ErrOrStderr()
	res, err := audit.Collect(ctx, cs, p, audit.CollectOptions{
		Namespace:   o.namespace,
		ChunkSize:   o.chunkSize,
		Progress:    stderr,
		ProgressTTY: isTerminal(stderr),
	})
	if err != nil {
		return usage(err)
	}
	var buf bytes.Buffer
	if err := audit.Write(&buf, res, o.output); err != nil {
		return usage(err)
	}
	if o.outputFile != "" {
		if err := os.WriteFile(o.outputFile, buf.Bytes(), 0o644); err != nil {
			return usage(fmt.Errorf("--output-file: %w", err))
		}
	} else if _, err := c.OutOrStdout().Write(buf.Bytes()); err != nil {
		return usage(err)
	}
	if res.HasViolations() {
		return &ExitError{Code: 1}
	}
	return nil
}

func validFormat(f string) bool {
	for _, known := range audit.Formats {
		if f == known {
			return true
		}
	}
	return false
}

// auditClient builds the audit's clients (protobuf, audit.NewClients) from the kubeconfig the
// way kubectl finds it.
func auditClient(o *auditOptions) (audit.Clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = o.requestTimeout
	// The audit makes a few large requests in a row; the default 5 QPS would only slow it.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "hostprocess-admission-audit"
	return audit.NewClients(cfg)
}

// isTerminal reports whether w is a character device, where the progress line is rewritten
// in place.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
