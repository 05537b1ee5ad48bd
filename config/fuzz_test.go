package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

func FuzzDecode(f *testing.F) {
	for _, file := range []string{"testdata/defaults.yaml", "testdata/example.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"",
		"# comment\n---\n",
		"null",
		"{}",
		header,
		header + "mode: warn\nworkloadMode: audit\n",
		header + "mode: deny\n",
		header + "mode: 3\n",
		header + "Mode: warn\n",
		header + "namespaceRule: []\n",
		header + "namespaceRules:\n- namespaces: [kube-system]\n  allowedUser: [x]\n",
		header + "namespaceRules:\n- namespaceSelector: {matchExpressions: [{key: a, operator: In}]}\n",
		header + "allowedUsers: foo\n",
		header + "allowedUsers: ['', ' x', 'a', 'A']\n",
		header + "allowedLocalGroups: [BUILTIN\\Administrators, S-1-5-32-551, NT AUTHORITY\\SYSTEM]\n",
		header + "audit: {interval: 5 minutes}\n",
		header + "audit: {interval: 1s, enabled: yes}\n",
		header + "defaults: {tolerations: [{operator: Exists, value: x, effect: Bad, tolerationSeconds: 1e400}]}\n",
		header + "mode: warn\nmode: audit\n",
		header + "---\n" + header,
		"- a\n",
		"apiVersion: [\n",
		`{"apiVersion": "hostprocess.dev/v1alpha1", "kind": "AdmissionConfiguration", "allowedUsers": ["a\/b"]}`,
		`{"apiVersion": "hostprocess.dev/v1alpha1", "kind": "AdmissionConfiguration", "mode": "warn", "mode": "x"}`,
		`{"a": 1} {"b": 2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if c != nil {
				t.Errorf("Decode returned a configuration with the error %q", err)
			}
			checkErrorNamesSomething(t, err)
			return
		}
		if c == nil {
			t.Fatal("Decode returned neither a configuration nor an error")
		}
		if errs := Validate(c); len(errs) > 0 {
			t.Errorf("Decode returned a configuration that does not validate: %v", errs)
		}
	})
}

// checkErrorNamesSomething checks that err, and each error it aggregates, says
// where the problem is: a field path, an unknown or duplicate field, or the
// format (YAML, JSON).
func checkErrorNamesSomething(t *testing.T, err error) {
	t.Helper()
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		for _, e := range agg.Errors() {
			checkErrorNamesSomething(t, e)
		}
		return
	}
	msg := err.Error()
	if msg == "" {
		t.Fatal("Decode returned an empty error message")
	}
	if !namesSomething(msg) {
		t.Errorf("error %q names no field and no format", msg)
	}
}

func namesSomething(msg string) bool {
	if strings.HasPrefix(msg, `unknown field "`) || strings.HasPrefix(msg, `duplicate field "`) {
		return true
	}
	for _, format := range []string{"yaml", "YAML", "json", "JSON"} {
		if strings.Contains(msg, format) {
			return true
		}
	}
	for _, name := range topLevelFields(reflect.TypeFor[AdmissionConfiguration]()) {
		if rest, ok := strings.CutPrefix(msg, name); ok && rest != "" && strings.ContainsRune(".[:", rune(rest[0])) {
			return true
		}
	}
	return false
}

// topLevelFields returns the JSON names of t's fields, embedded structs' included.
func topLevelFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			names = append(names, topLevelFields(f.Type)...)
		} else if name != "" {
			names = append(names, name)
		}
	}
	return names
}
