//go:build !windows

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// runCommand runs the root command with args and returns the exit code Execute would give.
func runCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := NewRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	var ee *ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.Code
		if ee.Err != nil {
			errOut.WriteString("error: " + ee.Err.Error() + "\n")
		}
	default:
		code = 2
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return code, out.String(), errOut.String()
}

func TestAuditCommand(t *testing.T) {
	env := testenv.Start(t)
	if _, err := audittest.Create(context.Background(), env.Client); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(audittest.ConfigYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	unreachable := filepath.Join(dir, "unreachable.kubeconfig")
	if err := os.WriteFile(unreachable, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// nobody is authenticated but has no permissions at all.
	nobody, err := env.Environment.AddUser(envtest.User{Name: "nobody"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nobodyConfig, err := nobody.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := filepath.Join(dir, "nobody.kubeconfig")
	if err := os.WriteFile(forbidden, nobodyConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "out.json")

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     []string
		emptyOut   bool
		checkAfter func(t *testing.T)
	}{
		{
			name:   "exits 1 and prints the table when objects violate the policy",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "--config", cfgPath, "-A"},
			code:   1,
			stdout: []string{"HostProcess audit of all namespaces", "8 HostProcess objects: 4 violating, 3 compliant, 1 exempt", "hp-system  Deployment/agent"},
		},
		{
			name:   "exits 0 for a namespace whose HostProcess objects are exempt",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "--config", cfgPath, "-n", "hp-exempt", "-o", "markdown"},
			code:   0,
			stdout: []string{"# HostProcess audit of namespace hp-exempt", "| hp-exempt | Pod/tool | - | exempt |"},
		},
		{
			name:   "exits 0 without HostProcess objects",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "-n", "plain"},
			code:   0,
			stdout: []string{"No HostProcess pods or workloads found."},
		},
		{
			name:     "writes the report to --output-file and nothing to stdout",
			args:     []string{"audit", "--kubeconfig", env.Kubeconfig, "--config", cfgPath, "-n", "hp-system", "-o", "json", "--output-file", jsonFile},
			code:     1,
			emptyOut: true,
			checkAfter: func(t *testing.T) {
				data, err := os.ReadFile(jsonFile)
				if err != nil {
					t.Fatal(err)
				}
				var res audit.Result
				if err := json.Unmarshal(data, &res); err != nil {
					t.Fatal(err)
				}
				if res.Namespace != "hp-system" || len(res.Objects) != 2 || res.Summary.Violating != 1 {
					t.Errorf("JSON report: namespace %q, %d objects, %d violating", res.Namespace, len(res.Objects), res.Summary.Violating)
				}
			},
		},
		{
			name:   "html is one page",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "--config", cfgPath, "-o", "html"},
			code:   1,
			stdout: []string{"<!DOCTYPE html>", `data-object="hp-system/Deployment/agent"`, `id="chart-users"`},
		},
		{
			name:     "exits 2 when the cluster cannot be reached",
			args:     []string{"audit", "--kubeconfig", unreachable},
			code:     2,
			emptyOut: true,
			stderr:   []string{"error: cannot reach the API server: listing namespaces: ", "127.0.0.1:1", "connection refused"},
		},
		{
			name:     "exits 2 naming the permission when listing namespaces is forbidden",
			args:     []string{"audit", "--kubeconfig", forbidden, "-A"},
			code:     2,
			emptyOut: true,
			stderr: []string{`error: listing namespaces: namespaces is forbidden: User "nobody" cannot list resource "namespaces" in API group "" at the cluster scope (` +
				audit.PermissionsHint + ")"},
		},
		{
			name:   "exits 2 when -n and -A are both given",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "-n", "x", "-A"},
			code:   2,
			stderr: []string{"error: --namespace and --all-namespaces cannot be used together"},
		},
		{
			name:   "exits 2 for an unknown format",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "-o", "yaml"},
			code:   2,
			stderr: []string{`error: --output must be one of table, json, markdown, html, not "yaml"`},
		},
		{
			name:   "exits 2 for a namespace that does not exist",
			args:   []string{"audit", "--kubeconfig", env.Kubeconfig, "-n", "nope"},
			code:   2,
			stderr: []string{`error: reading namespace nope: namespaces "nope" not found`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tc.emptyOut && stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if tc.checkAfter != nil {
				tc.checkAfter(t)
			}
		})
	}
}
