//go:build linux

package nativepolicy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// TestNativePoliciesGiveTheDemosOutcomes is the acceptance test of native
// enforcement: `generate native-policies --config examples/config.yaml`,
// applied with kubectl to a real API server with no webhook, gives every file
// in examples/ the outcome `make demo` prints with the webhook: admitted (with
// the same warnings and the defaulted nodeSelector), rejected by the policy
// with the same messages, or rejected by the API server's own validation.
func TestNativePoliciesGiveTheDemosOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	examples, configPath, err := harness.LoadExamples(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(root, configPath))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.WithLogger(logr.Discard()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	bin := buildBinary(t)
	policies := filepath.Join(t.TempDir(), "policies.yaml")
	gen := exec.CommandContext(ctx, bin, "generate", "native-policies", "--config", configPath)
	gen.Dir = root
	out, err := gen.Output()
	if err != nil {
		t.Fatalf("generate native-policies: %v", err)
	}
	if err := os.WriteFile(policies, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Run(ctx, testenv.Kubectl, "apply", "-f", policies); err != nil {
		t.Fatal(err)
	}

	kubectl := func(args ...string) (code int, stdout, stderr string) {
		cmd := env.Command(ctx, testenv.Kubectl, args...)
		cmd.Dir = root
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, o.String(), e.String()
	}
	// The policies take effect once the API server's informers have them.
	if code, _, e := kubectl("apply", "-f", "examples/namespace.yaml"); code != 0 {
		t.Fatalf("kubectl apply -f examples/namespace.yaml: %s", e)
	}
	// Each kind of policy comes into force on its own: wait for the validating
	// policies, the defaults (MutatingAdmissionPolicy) and the warnings.
	eventually(t, 60*time.Second, "the native policies to deny examples/rejected/bad-user.yaml", func() error {
		if code, _, e := kubectl("create", "--dry-run=server", "-f", "examples/rejected/bad-user.yaml"); code == 0 || !strings.Contains(e, policyMarker) {
			return fmt.Errorf("exit %d: %s", code, e)
		}
		return nil
	})
	eventually(t, 60*time.Second, "the native defaults to add the nodeSelector", func() error {
		code, o, e := kubectl("create", "--dry-run=server", "-f", "examples/admitted/network-service-pod.yaml", "-o", "jsonpath={.spec.nodeSelector}")
		if code != 0 || !strings.Contains(o, `"kubernetes.io/os":"windows"`) {
			return fmt.Errorf("exit %d: %s%s", code, o, e)
		}
		return nil
	})
	eventually(t, 60*time.Second, "the native warnings", func() error {
		code, _, e := kubectl("create", "--dry-run=server", "-f", "examples/admitted/kube-proxy.yaml")
		if code != 0 || !strings.Contains(e, "privileged is ignored for HostProcess containers") {
			return fmt.Errorf("exit %d: %s", code, e)
		}
		return nil
	})

	var admitted, warned, rejected, invalid int
	for _, ex := range examples {
		t.Run(ex.Path, func(t *testing.T) {
			code, stdout, stderr := kubectl("apply", "-f", ex.Path)
			t.Logf("$ kubectl apply -f %s\n%s%s", ex.Path, stdout, stderr)
			objs, errs := manifest.ReadPaths([]string{filepath.Join(root, ex.Path)}, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var denied, warnings []string
			hostProcess := false
			for _, o := range objs {
				tmpl, err := policy.Extract(o.Object)
				if err != nil {
					continue // the Namespace
				}
				res := p.Evaluate(policy.Input{Namespace: policy.Namespace{Name: tmpl.Meta.Namespace}, Spec: tmpl.Spec,
					SpecPath: tmpl.SpecPath, Annotations: tmpl.Meta.Annotations})
				if tmpl.Meta.Namespace == "" {
					res = p.Evaluate(policy.Input{Namespace: policy.Namespace{Name: ex.Namespace}, Spec: tmpl.Spec,
						SpecPath: tmpl.SpecPath, Annotations: tmpl.Meta.Annotations})
				}
				hostProcess = hostProcess || (res.HostProcess && !tmpl.Workload)
				var msgs []string
				for _, v := range res.Violations {
					msgs = append(msgs, v.Message)
				}
				switch {
				case len(msgs) > 0 && p.ModeFor(tmpl.Workload) == config.ModeEnforce:
					denied = append(denied, policyMarker+strings.Join(msgs, "; "))
				case len(msgs) > 0 && p.ModeFor(tmpl.Workload) == config.ModeWarn:
					for _, m := range msgs {
						warnings = append(warnings, warnMarker+m)
					}
				}
				if len(msgs) == 0 || p.ModeFor(tmpl.Workload) != config.ModeAudit {
					warnings = append(warnings, res.Warnings...)
				}
			}
			switch {
			case ex.RejectedByAPIServer:
				invalid++
				if code == 0 || !strings.Contains(stderr, " is invalid: ") {
					t.Errorf("want the API server's own validation to reject it, got exit %d: %s", code, stderr)
				}
			case len(denied) > 0:
				rejected++
				if code == 0 {
					t.Errorf("admitted, want rejected with %q", denied)
				}
				for _, d := range denied {
					if !strings.Contains(stderr, d) {
						t.Errorf("the rejection lacks %q:\n%s", d, stderr)
					}
				}
			default:
				admitted++
				if code != 0 {
					t.Errorf("exit %d, want admitted: %s", code, stderr)
				}
				if len(warnings) > 0 {
					warned++
				}
				if hostProcess {
					_, sel, _ := kubectl("get", "pod", ex.Name, "-n", ex.Namespace, "-o", "jsonpath={.spec.nodeSelector}")
					if !strings.Contains(sel, `"kubernetes.io/os":"windows"`) {
						t.Errorf("nodeSelector %s, want kubernetes.io/os=windows", sel)
					}
				}
			}
			// The directory says what make demo shows for the file.
			violationWarned := strings.Contains(stderr, warnMarker)
			switch ex.Group {
			case "admitted":
				if code != 0 || violationWarned {
					t.Errorf("examples/admitted: want admitted without violations, got exit %d: %s", code, stderr)
				}
			case "warned":
				if code != 0 || !violationWarned {
					t.Errorf("examples/warned: want admitted with violation warnings, got exit %d: %s", code, stderr)
				}
			case "rejected":
				if code == 0 {
					t.Errorf("examples/rejected: admitted")
				}
			}
			for _, w := range warnings {
				if !strings.Contains(stderr, w) {
					t.Errorf("the output lacks the warning %q:\n%s", w, stderr)
				}
			}
			if len(warnings) == 0 && len(denied) == 0 && strings.Contains(stderr, "Warning:") {
				t.Errorf("warnings where the engine has none:\n%s", stderr)
			}
		})
	}
	summary := fmt.Sprintf("%d manifests applied: %d admitted (%d with warnings), %d rejected by the policy, %d rejected by the API server's own validation",
		admitted+rejected+invalid, admitted, warned, rejected, invalid)
	t.Log(summary)
}
