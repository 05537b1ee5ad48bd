//go:build linux

// Command demo brings up what the e2e suite tests against (package
// e2e/harness), installs the Helm chart the same way, applies every example
// and prints what happened to each. Then it keeps the cluster running until
// SIGTERM or SIGINT (make demo-down), or tears it down at once with -exit.
//
// hack/demo.sh runs it inside a network namespace of its own; it refuses to
// run anywhere else.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

const (
	chart            = "charts/hostprocess-admission"
	releaseName      = "hostprocess-admission"
	releaseNamespace = "hostprocess-system"
)

// ReadyLine is printed once the cluster is up and the examples are applied;
// hack/demo.sh waits for it.
const ReadyLine = "demo: ready"

func main() {
	state := flag.String("state", "", "directory for the kubeconfig and the helm homes the user gets (required)")
	exit := flag.Bool("exit", false, "tear everything down after applying the examples")
	verbose := flag.Bool("v", false, "print the harness's own progress (control plane, webhook command line)")
	flag.Parse()
	if *state == "" {
		fmt.Fprintln(os.Stderr, "demo: -state is required")
		os.Exit(2)
	}
	if err := run(*state, *exit, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(state string, exit, verbose bool) error {
	network, err := harness.NetworkFromEnv()
	if err != nil {
		return err
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var log io.Writer = io.Discard
	if verbose {
		log = os.Stdout
	}
	step("starting etcd and kube-apiserver from bin/ in network namespace %s", network.Name)
	cluster, err := harness.StartCluster(network, log)
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the webhook and the control plane")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping:", err)
		}
	}()

	examples, configFile, err := harness.LoadExamples(root)
	if err != nil {
		return err
	}
	values, err := harness.ConfigValues(filepath.Join(root, configFile), cluster.Dir)
	if err != nil {
		return err
	}
	step("helm install %s %s -n %s --create-namespace -f <%s as the chart's config values>", releaseName, chart, releaseNamespace, configFile)
	release, res := cluster.HelmInstall(ctx, chart, releaseName, releaseNamespace, "-f", values)
	if res.Failed() {
		return fmt.Errorf("%s", res)
	}
	step("running the chart's webhook container (bin/hostprocess-admission serve with the Deployment's args and a token of its ServiceAccount)")
	webhook, err := release.PrepareWebhook(ctx)
	if err != nil {
		return err
	}
	if err := webhook.Start(ctx); err != nil {
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := webhook.WaitReady(readyCtx); err != nil {
		return err
	}
	if err := release.WaitCABundle(readyCtx, releaseName+"-cert"); err != nil {
		return err
	}
	go webhook.RefreshToken(ctx, time.Hour)
	step("the webhook serves %s:9443; the API server calls it as %s.%s.svc through the chart's Service", network.Address, releaseName, releaseNamespace)

	fmt.Println()
	var s summary
	for _, ex := range examples {
		applyExample(ctx, cluster, ex, &s)
	}
	fmt.Println()
	fmt.Println(s)
	fmt.Println()

	if exit {
		return nil
	}
	if err := writeAccess(cluster, state); err != nil {
		return err
	}
	fmt.Printf(`The cluster keeps running. Its API server listens inside network namespace %[1]s only:

  export KUBECONFIG=%[2]s/kubeconfig
  ip netns exec %[1]s %[3]s/bin/kubectl get pods -A

or let the wrappers in %[2]s/bin run kubectl and helm there for you:

  export PATH=%[2]s/bin:$PATH
  kubectl apply -f my-hostprocess-pod.yaml
  helm upgrade %[4]s %[5]s -n %[6]s --reuse-values --set config.mode=warn

The webhook's log: %[7]s
Stop everything with: make demo-down
`, network.Name, state, root, releaseName, filepath.Join(root, chart), releaseNamespace, webhook.LogFile)
	fmt.Println(ReadyLine)

	select {
	case <-ctx.Done():
	case <-webhook.Process.Exited():
		return fmt.Errorf("the webhook exited: %v\n%s", webhook.Process.ExitErr(), webhook.Logs())
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

type summary struct {
	admitted, warned, rejectedByWebhook, rejectedByAPIServer, other int
}

func (s summary) String() string {
	total := s.admitted + s.rejectedByWebhook + s.rejectedByAPIServer + s.other
	out := fmt.Sprintf("Summary: %d manifests applied: %d admitted (%d with warnings), %d rejected by the webhook, %d rejected by the API server's own validation",
		total, s.admitted, s.warned, s.rejectedByWebhook, s.rejectedByAPIServer)
	if s.other > 0 {
		out += fmt.Sprintf(", %d failed otherwise", s.other)
	}
	return out
}

// applyExample applies one file and prints the outcome the user would see.
func applyExample(ctx context.Context, c *harness.Cluster, ex harness.Example, s *summary) {
	fmt.Printf("$ kubectl apply -f %s\n", ex.Path)
	res := c.Kubectl(ctx, "apply", "-f", ex.Path)
	warnings := res.Warnings()
	if !res.Failed() {
		s.admitted++
		if len(warnings) > 0 {
			s.warned++
		}
		fmt.Printf("  admitted: %s\n", strings.TrimSpace(res.Stdout))
		for _, w := range warnings {
			fmt.Printf("  Warning: %s\n", w)
		}
		if ex.Kind == "Pod" {
			sel := c.Kubectl(ctx, "get", "pod", ex.Name, "-n", ex.Namespace, "-o", "jsonpath={.spec.nodeSelector}")
			if !sel.Failed() {
				fmt.Printf("  nodeSelector: %s\n", sel.Stdout)
			}
		}
		return
	}
	msg := res.Errors()
	switch {
	case strings.Contains(msg, "admission webhook "):
		s.rejectedByWebhook++
		// kubectl's prefix names the file again; the webhook's message is
		// the part that matters.
		if i := strings.Index(msg, "admission webhook "); i >= 0 {
			msg = msg[i:]
		}
		fmt.Printf("  rejected: %s\n", msg)
	case strings.Contains(msg, " is invalid: "):
		s.rejectedByAPIServer++
		fmt.Printf("  rejected by the API server's own validation (before any validating webhook runs):\n    %s\n",
			strings.ReplaceAll(msg, "\n", "\n    "))
	default:
		s.other++
		fmt.Printf("  failed: %s\n", msg)
	}
	for _, w := range warnings {
		fmt.Printf("  Warning: %s\n", w)
	}
}

// writeAccess copies the admin kubeconfig into state and writes kubectl and
// helm wrappers that run bin/kubectl and bin/helm inside the network
// namespace with it.
func writeAccess(c *harness.Cluster, state string) error {
	if err := os.MkdirAll(filepath.Join(state, "bin"), 0o755); err != nil {
		return err
	}
	kc, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(state, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	bin, err := testenv.BinDir()
	if err != nil {
		return err
	}
	for _, name := range []string{testenv.Kubectl, testenv.Helm} {
		script := fmt.Sprintf(`#!/bin/sh
# Runs bin/%[1]s inside the demo's network namespace, where its API server is.
export KUBECONFIG=%[2]s
export HELM_CONFIG_HOME=%[3]s/helm/config HELM_CACHE_HOME=%[3]s/helm/cache HELM_DATA_HOME=%[3]s/helm/data
exec ip netns exec %[4]s %[5]s "$@"
`, name, kubeconfig, state, c.Network.Name, filepath.Join(bin, name))
		if err := os.WriteFile(filepath.Join(state, "bin", name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}
