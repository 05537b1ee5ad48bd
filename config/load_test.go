package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const header = "apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\n"

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	missing := filepath.Join(dir, "missing.yaml")
	tests := []struct {
		name    string
		path    string
		want    *AdmissionConfiguration
		wantErr string
	}{
		{name: "an empty path means no file and gives the defaults", path: "", want: Default()},
		{name: "an empty file gives the defaults", path: write("empty.yaml", ""), want: Default()},
		{name: "a file of whitespace gives the defaults", path: write("blank.yaml", " \n\t\r\n  "), want: Default()},
		{name: "a file of comments gives the defaults", path: write("comments.yaml", "# nothing configured yet\n---\n"), want: Default()},
		{
			name:    "a path that does not exist is an error naming the path",
			path:    missing,
			wantErr: "reading configuration: open " + missing + ": no such file or directory",
		},
		{
			name:    "a directory is an error naming the path",
			path:    dir,
			wantErr: "reading configuration: read " + dir + ": is a directory",
		},
		{
			name:    "an invalid file is an error naming the path and the field",
			path:    write("bad.yaml", header+"mode: block\n"),
			wantErr: "configuration file " + filepath.Join(dir, "bad.yaml") + `: mode: Unsupported value: "block": supported values: "enforce", "warn", "audit"`,
		},
		{
			name: "a valid file is decoded and defaulted",
			path: write("warn.yaml", header+"mode: warn\n"),
			want: func() *AdmissionConfiguration { c := Default(); c.Mode = ModeWarn; return c }(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(tc.path)
			checkResult(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestDecode(t *testing.T) {
	withDefaults := func(edit func(c *AdmissionConfiguration)) *AdmissionConfiguration {
		c := Default()
		edit(c)
		return c
	}
	tests := []struct {
		name    string
		in      string
		want    *AdmissionConfiguration
		wantErr string
	}{
		{
			name: "the example of the spec decodes",
			in: header + `mode: enforce
workloadMode: warn
allowedUsers:
- NT AUTHORITY\SYSTEM
- NT AUTHORITY\Local service
- NT AUTHORITY\NetworkService
allowedLocalGroups: []
namespaceRules: []
exemptions:
  namespaces: []
  usernames: []
defaults:
  nodeSelector: true
  tolerations: []
  localGroupNodeAffinity: false
`,
			want: withDefaults(func(c *AdmissionConfiguration) {
				c.AllowedLocalGroups = []string{}
				c.NamespaceRules = []NamespaceRule{}
				c.Exemptions = Exemptions{Namespaces: []string{}, Usernames: []string{}}
				c.Defaults.Tolerations = []corev1.Toleration{}
			}),
		},
		{
			name: "JSON decodes, with escapes that YAML parsers reject",
			in:   `{"apiVersion": "hostprocess.dev\/v1alpha1", "kind": "AdmissionConfiguration", "allowedLocalGroups": ["node\u002dagents"], "audit": {"interval": "1h"}}`,
			want: withDefaults(func(c *AdmissionConfiguration) {
				c.AllowedLocalGroups = []string{"node-agents"}
				c.Audit.Interval = &metav1.Duration{Duration: time.Hour}
			}),
		},
		{
			name: "an explicit empty allowedUsers list allows no users",
			in:   header + "allowedUsers: []\nallowedLocalGroups: [hpc-agents]\n",
			want: withDefaults(func(c *AdmissionConfiguration) {
				c.AllowedUsers = []string{}
				c.AllowedLocalGroups = []string{"hpc-agents"}
			}),
		},
		{
			name: "a null allowedUsers counts as absent and gives the default users",
			in:   header + "allowedUsers: null\n",
			want: Default(),
		},
		{
			name: "a leading document marker is allowed",
			in:   "---\n" + header,
			want: Default(),
		},
		{
			name:    "an unknown field is an error naming it",
			in:      header + "namespaceRule: []\n",
			wantErr: `unknown field "namespaceRule"`,
		},
		{
			name:    "an unknown nested field is an error naming its path",
			in:      header + "namespaceRules:\n- namespaces: [kube-system]\n  allowedUser: [x]\n",
			wantErr: `unknown field "namespaceRules[0].allowedUser"`,
		},
		{
			name:    "field names are case-sensitive",
			in:      header + "Mode: warn\n",
			wantErr: `unknown field "Mode"`,
		},
		{
			name:    "every unknown field is listed",
			in:      header + "foo: 1\naudit: {enable: true}\n",
			wantErr: `[unknown field "audit.enable", unknown field "foo"]`,
		},
		{
			name:    "a key repeated in YAML is an error",
			in:      header + "mode: warn\nmode: enforce\n",
			wantErr: "yaml: unmarshal errors:\n  line 4: key \"mode\" already set in map",
		},
		{
			name:    "a key repeated in JSON is an error",
			in:      `{"apiVersion": "hostprocess.dev/v1alpha1", "kind": "AdmissionConfiguration", "mode": "warn", "mode": "audit"}`,
			wantErr: `duplicate field "mode"`,
		},
		{
			name:    "a number for mode is an error naming the field",
			in:      header + "mode: 3\n",
			wantErr: "mode: must be a string, not a number",
		},
		{
			name:    "a number for apiVersion is an error naming the field",
			in:      "apiVersion: 1\nkind: AdmissionConfiguration\n",
			wantErr: "apiVersion: must be a string, not a number",
		},
		{
			name:    "a string for allowedUsers is an error naming the field",
			in:      header + "allowedUsers: foo\n",
			wantErr: "allowedUsers: must be a list, not a string",
		},
		{
			name:    "a wrong type deep down is an error naming the field path",
			in:      header + "namespaceRules:\n- namespaceSelector: {matchLabels: {os: [windows]}}\n",
			wantErr: "namespaceRules.namespaceSelector.matchLabels: must be a string, not a list",
		},
		{
			name:    "a quoted boolean is an error naming the field",
			in:      header + "defaults: {nodeSelector: \"true\"}\n",
			wantErr: "defaults.nodeSelector: must be a boolean (true or false), not a string",
		},
		{
			name:    "a duration that does not parse is an error naming the field",
			in:      header + "audit: {interval: 5 minutes}\n",
			wantErr: `audit.interval: time: unknown unit " minutes" in duration "5 minutes" (want a duration such as 5m or 1h30m)`,
		},
		{
			name:    "an exceptions.maxLifetime that does not parse is an error naming that field",
			in:      header + "audit: {interval: 5m}\nexceptions: {maxLifetime: 1 day}\n",
			wantErr: `exceptions.maxLifetime: time: unknown unit " day" in duration "1 day" (want a duration such as 5m or 1h30m)`,
		},
		{
			name:    "a negative exceptions.maxLifetime is an error naming the field",
			in:      header + "exceptions: {maxLifetime: -1h}\n",
			wantErr: `exceptions.maxLifetime: Invalid value: "-1h0m0s": must be positive`,
		},
		{
			name:    "an unknown field under exceptions is an error naming it",
			in:      header + "exceptions: {maxLifeTime: 1h}\n",
			wantErr: `unknown field "exceptions.maxLifeTime"`,
		},
		{
			name:    "a list instead of a mapping is an error",
			in:      "- mode: warn\n",
			wantErr: "the configuration must be a YAML or JSON object, not a list",
		},
		{
			name:    "a bad mode is an error listing the supported modes",
			in:      header + "mode: deny\n",
			wantErr: `mode: Unsupported value: "deny": supported values: "enforce", "warn", "audit"`,
		},
		{
			name:    "a wrong apiVersion is an error saying which one is supported",
			in:      "apiVersion: hostprocess.dev/v1\nkind: AdmissionConfiguration\n",
			wantErr: `apiVersion: Unsupported value: "hostprocess.dev/v1": supported values: "hostprocess.dev/v1alpha1"`,
		},
		{
			name:    "a wrong kind is an error saying which one is supported",
			in:      "apiVersion: hostprocess.dev/v1alpha1\nkind: PodSecurityConfiguration\n",
			wantErr: `kind: Unsupported value: "PodSecurityConfiguration": supported values: "AdmissionConfiguration"`,
		},
		{
			name:    "a configuration without apiVersion and kind is an error saying what is expected",
			in:      "mode: warn\n",
			wantErr: "[apiVersion: Required value: must be hostprocess.dev/v1alpha1, kind: Required value: must be AdmissionConfiguration]",
		},
		{
			name:    "an empty mapping is an error saying what is expected",
			in:      "{}",
			wantErr: "[apiVersion: Required value: must be hostprocess.dev/v1alpha1, kind: Required value: must be AdmissionConfiguration]",
		},
		{
			name:    "the version is checked before the fields, which depend on it",
			in:      "apiVersion: hostprocess.dev/v2\nkind: AdmissionConfiguration\nnewField: 1\n",
			wantErr: `apiVersion: Unsupported value: "hostprocess.dev/v2": supported values: "hostprocess.dev/v1alpha1"`,
		},
		{
			name:    "two YAML documents are an error",
			in:      header + "---\n" + header,
			wantErr: "YAML document 2: the configuration file must hold exactly one YAML document",
		},
		{
			name:    "two JSON objects are an error",
			in:      `{"apiVersion": "hostprocess.dev/v1alpha1"} {"kind": "AdmissionConfiguration"}`,
			wantErr: "yaml: did not find expected <document start>",
		},
		{
			name:    "YAML that does not parse is an error with its line",
			in:      header + "allowedUsers: [\n",
			wantErr: "yaml: line 3: did not find expected node content",
		},
		{
			name:    "an empty user is an error naming the entry",
			in:      header + "allowedUsers: ['NT AUTHORITY\\SYSTEM', '']\n",
			wantErr: "allowedUsers[1]: Required value: must not be empty",
		},
		{
			name: "every validation error is listed with its path",
			in: header + `mode: deny
allowedLocalGroups: [BUILTIN\Administrators]
namespaceRules:
- namespaces: [kube-system]
  allowedUsers: [CONTOSO\agent]
audit: {interval: 1s}
`,
			wantErr: `[mode: Unsupported value: "deny": supported values: "enforce", "warn", "audit", ` +
				`allowedLocalGroups[0]: Forbidden: "BUILTIN\\Administrators" names the built-in group Administrators (S-1-5-32-544), which has administrative rights: members have full control of the node, ` +
				`namespaceRules[0].allowedUsers[0]: Invalid value: "CONTOSO\\agent": not in the top-level allowedUsers; a rule can only narrow it, ` +
				`audit.interval: Invalid value: "1s": must be at least 10s]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.in))
			checkResult(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func checkResult(t *testing.T, got *AdmissionConfiguration, err error, want *AdmissionConfiguration, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("got no error, want %q", wantErr)
		}
		if err.Error() != wantErr {
			t.Fatalf("got error\n%s\nwant\n%s", err, wantErr)
		}
		if got != nil {
			t.Errorf("got %+v with the error, want nil", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
