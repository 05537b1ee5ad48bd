package cmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// TestServeRefusesInvalidConfigurations: the serve binary stops at start-up,
// with exit 2 and the entry named, on a configuration that allows an
// administrative group in any form Windows accepts (or a name Windows accepts
// in none), or that exempts a pod-creating controller. serve installs a process-wide signal handler, so it runs as a
// process of its own.
func TestServeRefusesInvalidConfigurations(t *testing.T) {
	chdirRoot(t)
	bin := filepath.Join(t.TempDir(), "hostprocess-admission")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct{ file, want string }{
		{"admin-group-hex-sid.yaml", `allowedLocalGroups[0]: Forbidden: "S-1-5-32-0x220" names the built-in group Administrators (S-1-5-32-544)`},
		{"admin-group-slash.yaml", `allowedLocalGroups[0]: Invalid value: "BUILTIN/Administrators": must not contain '/'`},
		{"admin-group-rds.yaml", `allowedLocalGroups[0]: Forbidden: "RDS Management Servers" names the built-in group RDS Management Servers (S-1-5-32-577)`},
		{"exempt-controller.yaml", `exemptions.usernames[0]: Invalid value: "system:serviceaccount:kube-system:daemon-set-controller": is the identity of a controller`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := "cmd/testdata/check/" + tc.file
			cmd := exec.Command(bin, "serve", "--config", path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.HasPrefix(stderr.String(), "error: "+path+": "+tc.want) {
				t.Errorf("serve --config %s: %v, stderr %q; want exit 2 and an error starting %q", path, err, stderr.String(), "error: "+path+": "+tc.want)
			}
		})
	}
}

func TestMaxBodyBytesIsBounded(t *testing.T) {
	for _, tc := range []struct {
		n  int64
		ok bool
	}{{1, true}, {4 << 20, true}, {8 << 20, true}, {0, false}, {-1, false}, {8<<20 + 1, false}, {1 << 40, false}} {
		err := checkMaxBodyBytes(tc.n)
		if (err == nil) != tc.ok {
			t.Errorf("checkMaxBodyBytes(%d) = %v, want ok %v", tc.n, err, tc.ok)
		}
		if err != nil && err.Error() != fmt.Sprintf("--max-body-bytes %d is out of range (allowed: 1 to 8388608)", tc.n) {
			t.Errorf("checkMaxBodyBytes(%d) = %q", tc.n, err)
		}
	}
}
