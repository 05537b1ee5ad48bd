//go:build linux

package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// The demo's exception (docs/exceptions.md): the rejected example
// bad-user.yaml, which runs as NT AUTHORITY\ANONYMOUS LOGON, is granted that
// account for two minutes and admitted under the grant, with a warning.
const (
	exceptionExample = "examples/rejected/bad-user.yaml"
	exceptionAccount = `NT AUTHORITY\ANONYMOUS LOGON`
	exceptionPodName = "bad-user-excepted"
)

// showException creates the exception with the exception command and
// applies bad-user.yaml again, renamed, under it.
func showException(ctx context.Context, c *harness.Cluster, root, namespace string) error {
	bin, err := testenv.Bin(harness.Binary)
	if err != nil {
		return err
	}
	args := []string{"exception", "--name", "demo-bad-user", "--namespace", namespace, "--account", exceptionAccount,
		"--name-prefix", "bad-user", "--for", "2m", "--reason", "demo: let bad-user run for two minutes", "--ticket", "DEMO-1"}
	fmt.Printf("$ hostprocess-admission %s | kubectl apply -f -\n", strings.Join(quoteArgs(args), " "))
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return fmt.Errorf("hostprocess-admission exception: %w", err)
	}
	res := c.KubectlStdin(ctx, string(out), "apply", "-f", "-")
	if res.Failed() {
		return fmt.Errorf("%s", res)
	}
	fmt.Printf("  %s\n", strings.TrimSpace(res.Stdout))
	manifest, err := harness.Renamed(filepath.Join(root, exceptionExample), exceptionPodName)
	if err != nil {
		return err
	}
	fmt.Printf("$ kubectl apply -f %s (renamed %s)\n", exceptionExample, exceptionPodName)
	// The webhook learns of the exception from its watch, within a moment.
	for range 20 {
		res = c.KubectlStdin(ctx, manifest, "apply", "-f", "-")
		if !res.Failed() {
			break
		}
		if err := sleep(ctx); err != nil {
			return err
		}
	}
	if res.Failed() {
		fmt.Printf("  rejected: %s\n", res.Errors())
		return nil
	}
	fmt.Printf("  admitted: %s\n", strings.TrimSpace(res.Stdout))
	for _, w := range res.Warnings() {
		fmt.Printf("  Warning: %s\n", w)
	}
	fmt.Println("  (kubectl get hostprocessexceptions lists it; two minutes later a new bad-user pod is rejected again,")
	fmt.Println("   and the audit report flags the one still running: docs/exceptions.md)")
	return nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, ` \:`) {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// sleep waits a quarter of a second, or until ctx ends.
func sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(250 * time.Millisecond):
		return nil
	}
}
