package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
)

// describe renders objects as "source: apiVersion kind namespace/name (Go type)"
// so that tests compare everything that matters as strings.
func describe(objs []Object) []string {
	out := []string{}
	for _, o := range objs {
		m, err := meta.Accessor(o.Object)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %s %s: no metadata", o.Source, o.GVK.GroupVersion(), o.GVK.Kind))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s %s %s/%s (%T)",
			o.Source, o.GVK.GroupVersion(), o.GVK.Kind, m.GetNamespace(), m.GetName(), o.Object))
	}
	return out
}

const pod = `apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: kube-system
spec:
  containers:
  - name: agent
    image: mcr.microsoft.com/windows/nanoserver:ltsc2022
`

func TestRead(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{{
		name:  "reads a single Pod into a typed object",
		input: pod,
		want:  []string{"x.yaml, document 1: v1 Pod kube-system/agent (*v1.Pod)"},
	}, {
		name: "numbers documents as they appear in the file and skips the empty ones",
		input: "# A leading comment block is not a document.\n---\n" + pod +
			"---\n---\n# only a comment\n---\nnull\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\n",
		want: []string{
			"x.yaml, document 1: v1 Pod kube-system/agent (*v1.Pod)",
			"x.yaml, document 5: apps/v1 Deployment /web (*v1.Deployment)",
		},
	}, {
		name:  "reads a file of nothing but comments as no objects",
		input: "# nothing here\n\n",
		want:  []string{},
	}, {
		name: "expands a v1 List into its items, whatever their kinds",
		input: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings, namespace: kube-system}
- apiVersion: batch/v1
  kind: CronJob
  metadata: {name: cleanup}
- apiVersion: example.com/v1
  kind: Widget
  metadata: {name: w}
`,
		want: []string{
			"x.yaml, document 1, item 1: v1 ConfigMap kube-system/settings (*v1.ConfigMap)",
			"x.yaml, document 1, item 2: batch/v1 CronJob /cleanup (*v1.CronJob)",
			"x.yaml, document 1, item 3: example.com/v1 Widget /w (*unstructured.Unstructured)",
		},
	}, {
		name:  "expands a typed list such as a PodList into its items",
		input: "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n",
		want: []string{
			"x.yaml, document 1, item 1: v1 Pod /a (*v1.Pod)",
			"x.yaml, document 1, item 2: v1 Pod /b (*v1.Pod)",
		},
	}, {
		name: "reads a stream of JSON objects, one document each",
		input: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-\/a"}}`,
		want: []string{
			"x.yaml, document 1: v1 Pod /a (*v1.Pod)",
			"x.yaml, document 2: v1 Namespace /team-/a (*v1.Namespace)",
		},
	}, {
		name:  "keeps a kind of a group client-go does not know as unstructured",
		input: "apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\nmode: warn\n",
		want:  []string{"x.yaml, document 1: hostprocess.dev/v1alpha1 AdmissionConfiguration / (*unstructured.Unstructured)"},
	}, {
		name:  "reads an old version that client-go still knows into its own type",
		input: "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web}\n",
		want:  []string{"x.yaml, document 1: apps/v1beta1 Deployment /web (*v1beta1.Deployment)"},
	}, {
		name:  "reads Windows line endings",
		input: strings.ReplaceAll("---\n"+pod+"---\n"+pod, "\n", "\r\n"),
		want: []string{
			"x.yaml, document 1: v1 Pod kube-system/agent (*v1.Pod)",
			"x.yaml, document 2: v1 Pod kube-system/agent (*v1.Pod)",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Read("x.yaml", []byte(tc.input))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(tc.want, describe(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{{
		name:  "rejects an unknown field in a Pod, naming its path",
		input: pod + "    imagePullPolicyy: Always\n",
		want:  `x.yaml: document 1: unknown field "spec.containers[0].imagePullPolicyy"`,
	}, {
		name:  "rejects a field in the wrong case, as the API server does",
		input: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nSpec: {}\n",
		want:  `x.yaml: document 1: unknown field "Spec"`,
	}, {
		name:  "lists every unknown and duplicate field of a JSON document",
		input: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "name": "b", "nmae": "c"}}`,
		want:  `x.yaml: document 1: duplicate field "metadata.name"; unknown field "metadata.nmae"`,
	}, {
		name:  "rejects a key repeated in YAML, with its line in the file",
		input: pod + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
		want:  `x.yaml: document 2: invalid YAML: line 15: key "name" already set in map`,
	}, {
		name:  "rejects malformed YAML, with its line in the file",
		input: pod + "---\napiVersion: v1\nkind: ConfigMap\ndata:\n  - a\n b: c\n",
		want:  `x.yaml: document 2: invalid YAML: line 15: did not find expected key`,
	}, {
		name:  "rejects a YAML syntax error, with its line in the file",
		input: pod + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: name: a\n",
		want:  `x.yaml: document 2: invalid YAML: line 13: mapping values are not allowed in this context`,
	}, {
		name:  "rejects a value of the wrong type, naming the field",
		input: "apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: \"yes\"\n",
		want:  `x.yaml: document 1: json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool`,
	}, {
		name:  "rejects a document without apiVersion",
		input: pod + "---\nkind: Pod\nmetadata: {name: a}\n",
		want:  `x.yaml: document 2: apiVersion must be set to a non-empty string`,
	}, {
		name:  "rejects a document without kind",
		input: "apiVersion: v1\nmetadata: {name: a}\n",
		want:  `x.yaml: document 1: kind must be set to a non-empty string`,
	}, {
		name:  "rejects an empty object",
		input: "{}",
		want:  `x.yaml: document 1: apiVersion and kind must be set to a non-empty string`,
	}, {
		name:  "rejects a kind that is not a string",
		input: "apiVersion: v1\nkind: 3\n",
		want:  `x.yaml: document 1: kind must be set to a non-empty string`,
	}, {
		name:  "rejects a malformed apiVersion",
		input: "apiVersion: a/b/c\nkind: Pod\n",
		want:  `x.yaml: document 1: apiVersion "a/b/c": unexpected GroupVersion string: a/b/c`,
	}, {
		name:  "rejects a document that is a list rather than an object",
		input: "- apiVersion: v1\n  kind: Pod\n",
		want:  `x.yaml: document 1: a manifest must be an object, not a list`,
	}, {
		name:  "rejects a document that is a string",
		input: pod + "---\njust some text\n",
		want:  `x.yaml: document 2: a manifest must be an object, not a string`,
	}, {
		name:  "rejects an unknown kind of a group client-go knows",
		input: "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n",
		want:  `x.yaml: document 1: unknown kind "Deploymnet" in apiVersion "apps/v1"`,
	}, {
		name:  "rejects a version of a known group that client-go does not know",
		input: "apiVersion: apps/v9\nkind: Deployment\nmetadata: {name: a}\n",
		want:  `x.yaml: document 1: unknown kind "Deployment" in apiVersion "apps/v9"`,
	}, {
		name:  "rejects an unknown field in a List item, naming the item",
		input: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n  spec: {hostNetwrok: true}\n",
		want:  `x.yaml: document 1, item 2: unknown field "spec.hostNetwrok"`,
	}, {
		name:  "rejects a List inside a List",
		input: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n",
		want:  `x.yaml: document 1, item 1: a list inside a list is not supported`,
	}, {
		name:  "rejects malformed JSON, with its line",
		input: "{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}\n{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",}\n",
		want:  `x.yaml: document 2: invalid JSON: line 3: invalid character '}' looking for beginning of object key string`,
	}, {
		name:  "rejects JSON cut short",
		input: `{"apiVersion": "v1", "kind": "Pod"`,
		want:  `x.yaml: document 1: invalid JSON: line 1: unexpected EOF`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Read("x.yaml", []byte(tc.input))
			if err == nil {
				t.Fatalf("Read returned %v, want error %q", describe(objs), tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
			if objs != nil {
				t.Errorf("objects = %v, want none with an error", describe(objs))
			}
		})
	}
}

// writeFiles creates files (path relative to dir → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadPaths(t *testing.T) {
	configMap := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\n"
	tests := []struct {
		name     string
		files    map[string]string
		paths    []string
		stdin    string
		want     []string
		wantErrs []string
	}{{
		name: "reads a directory recursively, only its .yaml, .yml and .json files, in lexical order",
		files: map[string]string{
			"m/b.yaml":       fmt.Sprintf(configMap, "b"),
			"m/a.yml":        fmt.Sprintf(configMap, "a"),
			"m/sub/c.json":   `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`,
			"m/README.md":    "# not a manifest",
			"m/d.YAML":       "not read: kubectl compares extensions exactly",
			"m/sub/notes.tx": "not read",
		},
		paths: []string{"m"},
		want: []string{
			"m/a.yml, document 1: v1 ConfigMap /a (*v1.ConfigMap)",
			"m/b.yaml, document 1: v1 ConfigMap /b (*v1.ConfigMap)",
			"m/sub/c.json, document 1: v1 ConfigMap /c (*v1.ConfigMap)",
		},
	}, {
		name:  "reads a file named explicitly whatever its extension",
		files: map[string]string{"pod.txt": pod},
		paths: []string{"pod.txt"},
		want:  []string{"pod.txt, document 1: v1 Pod kube-system/agent (*v1.Pod)"},
	}, {
		name:  "reads stdin for -, named stdin, in the order of the paths",
		files: map[string]string{"a.yaml": fmt.Sprintf(configMap, "a")},
		paths: []string{"-", "a.yaml"},
		stdin: pod,
		want: []string{
			"stdin, document 1: v1 Pod kube-system/agent (*v1.Pod)",
			"a.yaml, document 1: v1 ConfigMap /a (*v1.ConfigMap)",
		},
	}, {
		name: "reads the good files and names each bad one",
		files: map[string]string{
			"m/a.yaml": fmt.Sprintf(configMap, "a"),
			"m/b.yaml": fmt.Sprintf(configMap, "b") + "---\nkind: ConfigMap\n",
			"m/c.yaml": fmt.Sprintf(configMap, "c"),
		},
		paths: []string{"m", "missing.yaml"},
		want: []string{
			"m/a.yaml, document 1: v1 ConfigMap /a (*v1.ConfigMap)",
			"m/c.yaml, document 1: v1 ConfigMap /c (*v1.ConfigMap)",
		},
		wantErrs: []string{
			"m/b.yaml: document 2: apiVersion must be set to a non-empty string",
			"missing.yaml: no such file or directory",
		},
	}, {
		name:     "rejects a directory without manifests",
		files:    map[string]string{"empty/README.md": "nothing"},
		paths:    []string{"empty"},
		want:     []string{},
		wantErrs: []string{"empty: no .json, .yaml or .yml files in the directory"},
	}, {
		name:     "rejects - given twice",
		paths:    []string{"-", "-"},
		stdin:    pod,
		want:     []string{"stdin, document 1: v1 Pod kube-system/agent (*v1.Pod)"},
		wantErrs: []string{`stdin: "-" is given more than once`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			t.Chdir(dir)
			objs, errs := ReadPaths(tc.paths, strings.NewReader(tc.stdin))
			if diff := cmp.Diff(tc.want, describe(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			gotErrs := []string{}
			for _, err := range errs {
				gotErrs = append(gotErrs, err.Error())
			}
			if tc.wantErrs == nil {
				tc.wantErrs = []string{}
			}
			if diff := cmp.Diff(tc.wantErrs, gotErrs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadPathsUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(path, []byte(pod), 0o000); err != nil {
		t.Fatal(err)
	}
	_, errs := ReadPaths([]string{path}, strings.NewReader(""))
	want := path + ": permission denied"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors = %v, want [%s]", errs, want)
	}
}

func TestReadLines(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []int
	}{{
		name:  "gives a document without separators the line of its first content, after comments and blanks",
		input: "# header\n\n" + pod,
		want:  []int{3},
	}, {
		name:  "gives each document the line of its first content after its separator",
		input: pod + "---\n# second\n" + pod + "---\n\n\n" + pod,
		want:  []int{1, 12, 24},
	}, {
		name:  "gives the items of a list the line of the list",
		input: "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
		want:  []int{2, 2},
	}, {
		name:  "gives each value of a JSON stream the line it opens on",
		input: "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n\n  {\n\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"b\"}}\n",
		want:  []int{1, 3},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Read("x.yaml", []byte(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			got := []int{}
			for _, o := range objs {
				got = append(got, o.Source.Line)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}
