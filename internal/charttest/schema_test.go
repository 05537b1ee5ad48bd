//go:build !windows

package charttest

import (
	"strings"
	"testing"
	"time"
)

// TestBadValuesFailWithAClearMessage runs helm template with values that
// values.schema.json (or a template's required/fail) must refuse, and
// compares the message helm prints.
func TestBadValuesFailWithAClearMessage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // lines of the error, each must appear
	}{
		{
			name: "rejects an unknown certificate mode",
			args: []string{"--set", "certificates.mode=letsEncrypt"},
			want: []string{"- at '/certificates/mode': value must be one of 'selfManaged', 'certManager', 'external'"},
		},
		{
			name: "rejects an unknown policy mode",
			args: []string{"--set", "config.mode=deny"},
			want: []string{"- at '/config/mode': value must be one of 'enforce', 'warn', 'audit'"},
		},
		{
			name: "rejects an unknown workload mode",
			args: []string{"--set", "config.workloadMode=Enforce"},
			want: []string{"- at '/config/workloadMode': value must be one of 'enforce', 'warn', 'audit'"},
		},
		{
			name: "rejects a replica count that is not a number",
			args: []string{"--set", "replicaCount=two"},
			want: []string{"- at '/replicaCount': got string, want integer"},
		},
		{
			name: "rejects zero replicas",
			args: []string{"--set", "replicaCount=0"},
			want: []string{"- at '/replicaCount': minimum: got 0, want 1"},
		},
		{
			name: "rejects allowedUsers given as a string",
			args: []string{"--set", `config.allowedUsers=NT AUTHORITY\SYSTEM`},
			want: []string{"- at '/config/allowedUsers': got string, want null or array"},
		},
		{
			name: "rejects an empty user name",
			args: []string{"--set-json", `config.allowedUsers=["NT AUTHORITY\\SYSTEM",""]`},
			want: []string{"- at '/config/allowedUsers/1': minLength: got 0, want 1"},
		},
		{
			name: "rejects an unknown configuration field",
			args: []string{"--set", "config.allowedUser=x"},
			want: []string{"- at '/config': additional properties 'allowedUser' not allowed"},
		},
		{
			name: "rejects an unknown top-level value",
			args: []string{"--set", "replicas=3"},
			want: []string{"- at '': additional properties 'replicas' not allowed"},
		},
		{
			name: "rejects a namespace rule without namespaces or a selector",
			args: []string{"--set-json", `config.namespaceRules=[{"allowedImages":["mcr.microsoft.com/*"]}]`},
			want: []string{
				"- at '/config/namespaceRules/0': 'anyOf' failed",
				"- at '/config/namespaceRules/0': missing property 'namespaces'",
				"- at '/config/namespaceRules/0': missing property 'namespaceSelector'",
			},
		},
		{
			name: "rejects an empty allowedImages",
			args: []string{"--set-json", `config.namespaceRules=[{"namespaces":["kube-system"],"allowedImages":[]}]`},
			want: []string{"- at '/config/namespaceRules/0/allowedImages': minItems: got 0, want 1"},
		},
		{
			name: "rejects an audit interval that is not a duration",
			args: []string{"--set", "config.audit.interval=often"},
			want: []string{"- at '/config/audit/interval': 'often' does not match pattern"},
		},
		{
			name: "rejects a workload failure policy other than Ignore and Fail",
			args: []string{"--set", "webhook.workloads.failurePolicy=fail"},
			want: []string{"- at '/webhook/workloads/failurePolicy': value must be one of 'Ignore', 'Fail'"},
		},
		{
			name: "rejects a timeout the API server would refuse",
			args: []string{"--set", "webhook.timeoutSeconds=31"},
			want: []string{"- at '/webhook/timeoutSeconds': maximum: got 31, want 30"},
		},
		{
			name: "rejects an anti-affinity mode it does not know",
			args: []string{"--set", "podAntiAffinity=strict"},
			want: []string{"- at '/podAntiAffinity': value must be one of 'soft', 'hard', 'none'"},
		},
		{
			name: "requires the Secret and CA bundle in external mode",
			args: []string{"--set", "certificates.mode=external"},
			want: []string{
				"- at '/certificates/external/secretName': minLength: got 0, want 1",
				"- at '/certificates/external/caBundle': minLength: got 0, want 1",
			},
		},
		{
			name: "rejects a CA bundle that is not base64",
			args: []string{"--set", "certificates.mode=external", "--set", "certificates.external.secretName=tls",
				"--set", "certificates.external.caBundle=-----BEGIN CERTIFICATE-----"},
			want: []string{"- at '/certificates/external/caBundle': '-----BEGIN CERTIFICATE-----' does not match pattern"},
		},
		{
			name: "requires metrics for the ServiceMonitor",
			args: []string{"--set", "metrics.enabled=false", "--set", "metrics.serviceMonitor.enabled=true"},
			want: []string{"metrics.serviceMonitor.enabled needs metrics.enabled: there is nothing to scrape"},
		},
		{
			name: "requires a ServiceAccount name when it does not create one",
			args: []string{"--set", "serviceAccount.create=false"},
			want: []string{"serviceAccount.name is required when serviceAccount.create is false"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"template", release, chartDir(t), "--namespace", namespace}, tc.args...)...)
			if err == nil {
				t.Fatalf("helm template succeeded:\n%.2000s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestSchemaRejectsAtInstallTime checks that helm install (not only template)
// validates the values, before anything reaches the cluster.
func TestSchemaRejectsAtInstallTime(t *testing.T) {
	out, err := env.Run(testContext(t, 2*time.Minute), "helm", "install", release, chartDir(t), "-n", namespace, "--create-namespace",
		"--set", "certificates.mode=vault")
	if err == nil {
		t.Fatalf("helm install succeeded:\n%s", out)
	}
	if want := "- at '/certificates/mode': value must be one of 'selfManaged', 'certManager', 'external'"; !strings.Contains(out, want) {
		t.Errorf("helm install output lacks %q:\n%s", want, out)
	}
	if out, err := env.Run(testContext(t, time.Minute), "helm", "list", "-A", "-q"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("helm list after the refused install: %q, %v", out, err)
	}
}
