//go:build linux

package harness

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

func TestReplaceMountPathsRewritesFlagValuesAndBareArgumentsAtPathBoundaries(t *testing.T) {
	mounts := map[string]string{"/etc/hpa": "/tmp/x/config", "/var/run/certs/": "/tmp/x/certs"}
	for _, tc := range []struct{ name, in, want string }{
		{"a flag value under a mount", "--config=/etc/hpa/config.yaml", "--config=/tmp/x/config/config.yaml"},
		{"a flag value that is the mount itself", "--cert-dir=/var/run/certs", "--cert-dir=/tmp/x/certs"},
		{"a bare argument", "/etc/hpa/config.yaml", "/tmp/x/config/config.yaml"},
		{"a path that only shares a prefix", "--config=/etc/hpa-other/config.yaml", "--config=/etc/hpa-other/config.yaml"},
		{"a flag without a path", "--port=9443", "--port=9443"},
		{"a boolean flag", "--cert-rotation", "--cert-rotation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := replaceMountPaths(tc.in, mounts); got != tc.want {
				t.Errorf("replaceMountPaths(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriteAtomicallySwapsDataLikeTheKubelet(t *testing.T) {
	dir := t.TempDir()
	if err := writeAtomically(dir, map[string][]byte{"config.yaml": []byte("one"), "old.yaml": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	first, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomically(dir, map[string][]byte{"config.yaml": []byte("two")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.yaml")); err != nil || string(b) != "two" {
		t.Fatalf("config.yaml = %q, %v; want two", b, err)
	}
	if link, _ := os.Readlink(filepath.Join(dir, "config.yaml")); link != filepath.Join("..data", "config.yaml") {
		t.Errorf("config.yaml links to %q, want ..data/config.yaml", link)
	}
	if _, err := os.Lstat(filepath.Join(dir, "old.yaml")); !os.IsNotExist(err) {
		t.Errorf("old.yaml is still there after its key went away: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("the previous data directory %s was not removed: %v", first, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !slices.Contains(names, "..data") || !slices.Contains(names, "config.yaml") {
		t.Errorf("directory holds %v, want ..data, one timestamped directory and config.yaml", names)
	}
}

func TestWriteAtomicallyRefusesPathsOutsideTheVolume(t *testing.T) {
	if err := writeAtomically(t.TempDir(), map[string][]byte{"../escape": nil}); err == nil {
		t.Fatal("writing ../escape succeeded")
	}
}

func TestLoadExamplesReadsTheExpectationsOfEveryExample(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	examples, config, err := LoadExamples(root)
	if err != nil {
		t.Fatal(err)
	}
	if config != "examples/config.yaml" {
		t.Errorf("config = %q, want examples/config.yaml", config)
	}
	if len(examples) == 0 || examples[0].Kind != "Namespace" {
		t.Fatalf("examples do not start with the Namespace: %+v", examples)
	}
	groups := map[string]int{}
	for _, ex := range examples {
		groups[ex.Group]++
		switch ex.Group {
		case "rejected":
			if len(ex.Violations) == 0 {
				t.Errorf("%s: a rejected example states no violation", ex.Path)
			}
		case "warned":
			if len(ex.WarnedViolations) == 0 {
				t.Errorf("%s: a warned example states no warning", ex.Path)
			}
		case "admitted", "":
		default:
			t.Errorf("%s: unknown group %q", ex.Path, ex.Group)
		}
		if ex.Name == "" || ex.Kind == "" {
			t.Errorf("%s: no kind or name", ex.Path)
		}
	}
	if groups["admitted"] == 0 || groups["rejected"] == 0 || groups["warned"] == 0 {
		t.Errorf("groups %v, want admitted, rejected and warned examples", groups)
	}
	badUser := examples[slices.IndexFunc(examples, func(e Example) bool { return e.Path == "examples/rejected/bad-user.yaml" })]
	want := Finding{Rule: "runAsUserName", Message: `container "agent": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM)`}
	if len(badUser.Violations) != 1 || badUser.Violations[0] != want {
		t.Errorf("bad-user.yaml violations = %+v, want [%+v]", badUser.Violations, want)
	}
}

func TestConfigValuesPutsTheConfigurationUnderConfig(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(in, []byte("apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\nmode: warn\nallowedLocalGroups: [a]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := ConfigValues(in, dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"config": map[string]any{"mode": "warn", "allowedLocalGroups": []any{"a"}}}
	if gotY, _ := yaml.Marshal(got); string(gotY) != string(must(yaml.Marshal(want))) {
		t.Errorf("values:\n%s\nwant:\n%s", gotY, must(yaml.Marshal(want)))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
