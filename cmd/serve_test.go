package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestConfigRaisesClientGoLimits: serve's live namespace lookups must not
// be held to client-go's default of 5 requests a second.
func TestRestConfigRaisesClientGoLimits(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QPS != 50 || cfg.Burst != 100 || cfg.RateLimiter != nil {
		t.Fatalf("QPS %v burst %d rate limiter %v, want 50, 100 and none", cfg.QPS, cfg.Burst, cfg.RateLimiter)
	}
	if _, err := restConfig(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.HasPrefix(err.Error(), "--kubeconfig ") {
		t.Fatalf("a missing kubeconfig: error %v, want one naming --kubeconfig", err)
	}
}
