//go:build !windows

package charttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// env is the control plane shared by this package's tests that need an API
// server. Tests run one after another: every release they install
// intercepts pods cluster-wide, so no two exist at once.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	// Webhook Services resolve through their EndpointSlices, of which there
	// are none here (no controller-manager, no webhook pods): a call that a
	// matchCondition lets through fails at once, with no connection to any
	// address, and takes the webhook's failurePolicy.
	if env, err = testenv.New(testenv.WithLogger(logr.Discard()), testenv.WithAPIServerFlags("--enable-aggregator-routing=true")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

const (
	// release and namespace are the README's: helm install hostprocess-admission
	// charts/hostprocess-admission -n hostprocess-system --create-namespace.
	release   = "hostprocess-admission"
	namespace = "hostprocess-system"
)

func chartDir(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "charts", "hostprocess-admission")
}

func repoFile(t testing.TB, rel string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, rel)
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// helm runs bin/helm without a cluster (lint, template), with helm's homes in
// a temporary directory. It returns stdout, and an error holding stderr.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	path := testenv.RequireBin(t, testenv.Helm)
	home := t.TempDir()
	cmd := exec.CommandContext(testContext(t, 2*time.Minute), path, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// helmCluster runs bin/helm against the test control plane.
func helmCluster(t testing.TB, args ...string) string {
	t.Helper()
	out, err := env.Run(testContext(t, 3*time.Minute), testenv.Helm, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Values for the certificate modes. external needs a Secret name and a CA
// bundle; any base64 passes the schema.
var modes = []struct {
	name string
	args []string
}{
	{"selfManaged", nil},
	{"certManager", []string{"--set", "certificates.mode=certManager"}},
	{"external", []string{"--set", "certificates.mode=external", "--set", "certificates.external.secretName=webhook-tls",
		"--set", "certificates.external.caBundle=" + testCABundle}},
}

// testCABundle is base64 of a PEM block; the chart does not parse it.
const testCABundle = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ0ZXN0Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

// manifest is a rendered chart.
type manifest struct {
	objs []*unstructured.Unstructured
}

// render runs helm template for the README's release and namespace.
func render(t testing.TB, args ...string) *manifest {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir(t), "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m
}

func parseManifest(s string) (*manifest, error) {
	m := &manifest{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(s), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return m, nil
			}
			return nil, err
		}
		if obj == nil {
			continue
		}
		m.objs = append(m.objs, &unstructured.Unstructured{Object: obj})
	}
}

// find returns the object of kind and name, or nil.
func (m *manifest) find(kind, name string) *unstructured.Unstructured {
	for _, o := range m.objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// kinds returns "Kind/name" of every object, in order.
func (m *manifest) kinds() []string {
	var out []string
	for _, o := range m.objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// get decodes the object of kind and name into a typed object, failing the
// test when it is missing.
func get[T any](t testing.TB, m *manifest, kind, name string) *T {
	t.Helper()
	o := m.find(kind, name)
	if o == nil {
		t.Fatalf("no %s %s in the rendered chart; have %v", kind, name, m.kinds())
	}
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &v, true); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
	return &v
}
