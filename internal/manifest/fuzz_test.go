package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that every error is an *Error
// naming the file and a document, and that every object says where it came
// from. Seeds: the examples and broken YAML and JSON.
func FuzzRead(f *testing.F) {
	examples, err := filepath.Glob("../../examples/*/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range examples {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		pod,
		pod + "---\n" + pod,
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n",
		"apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n",
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n",
		"apiVersion: v1\nkind: Pod\n---\nfoo:\n  - a\n b: c\n",
		"a: &a [*a]\n",
		"a: !!binary AAAA\n",
		"? [a]\n: b\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\"} {\"a\"",
		"[1, 2]",
		"---\n...\n---\n",
		"\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Read("fuzz.yaml", data)
		if err != nil {
			var readErr *Error
			if !errors.As(err, &readErr) || readErr.Source.File != "fuzz.yaml" || readErr.Source.Document < 1 {
				t.Fatalf("error %q (%T) does not name the file and a document", err, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: document ") {
				t.Fatalf("error %q does not start with the file and document", err)
			}
			if objs != nil {
				t.Fatalf("objects returned with error %q", err)
			}
			return
		}
		for _, o := range objs {
			if o.Object == nil || o.GVK.Kind == "" || o.Source.File != "fuzz.yaml" || o.Source.Document < 1 {
				t.Fatalf("object without object, kind or source: %+v", o)
			}
		}
	})
}
