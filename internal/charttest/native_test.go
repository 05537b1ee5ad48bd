//go:build !windows

package charttest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/nativepolicy"
)

var nativeKinds = []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}

// objectsOf returns the rendered objects of the given kinds, as "Kind/name",
// sorted (helm orders objects by kind).
func (m *manifest) objectsOf(kinds ...string) []string {
	var out []string
	for _, o := range m.objs {
		if slices.Contains(kinds, o.GetKind()) {
			out = append(out, o.GetKind()+"/"+o.GetName())
		}
	}
	slices.Sort(out)
	return out
}

func TestEnforcementChoosesWebhooksPoliciesOrBoth(t *testing.T) {
	webhooks := []string{"MutatingWebhookConfiguration/" + fullname, "ValidatingWebhookConfiguration/" + fullname}
	var policies []string
	for _, name := range []string{"pods", "pods-warnings", "workloads", "workloads-warnings"} {
		policies = append(policies, "ValidatingAdmissionPolicy/"+name+".hostprocess.dev", "ValidatingAdmissionPolicyBinding/"+name+".hostprocess.dev")
	}
	policies = append(policies, "MutatingAdmissionPolicy/defaults.hostprocess.dev", "MutatingAdmissionPolicyBinding/defaults.hostprocess.dev")
	slices.Sort(policies)
	for _, tc := range []struct {
		name                   string
		args                   []string
		wantWebhooks, wantPols []string
	}{
		{"webhook (the default) installs the webhook configurations only", nil, webhooks, nil},
		{"native installs the policies and no webhook configurations", []string{"--set", "enforcement=native"}, nil, policies},
		{"both installs the policies and the webhook configurations", []string{"--set", "enforcement=both"}, webhooks, policies},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.args...)
			if got := m.objectsOf("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"); !slices.Equal(got, tc.wantWebhooks) {
				t.Errorf("webhook configurations %v, want %v", got, tc.wantWebhooks)
			}
			if got := m.objectsOf(nativeKinds...); !slices.Equal(got, tc.wantPols) {
				t.Errorf("policies %v, want %v", got, tc.wantPols)
			}
			if m.find("Deployment", fullname) == nil {
				t.Errorf("no Deployment: the background audit runs in every enforcement mode")
			}
		})
	}
}

// generated returns what `generate native-policies --config <the rendered
// ConfigMap's config.yaml> --namespace <the release namespace>` writes, as
// objects.
func generated(t *testing.T, m *manifest) *manifest {
	t.Helper()
	cm := get[corev1.ConfigMap](t, m, "ConfigMap", fullname+"-config")
	cfg, err := config.Decode([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	out := generate(t, cfg, namespace)
	g, err := parseManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func generate(t *testing.T, cfg *config.AdmissionConfiguration, ns string) string {
	t.Helper()
	p, err := nativepolicy.Generate(cfg, nativepolicy.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	out, err := nativepolicy.Render(p, "test")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func assertSamePolicies(t *testing.T, chart, gen *manifest) {
	t.Helper()
	want := gen.objectsOf(nativeKinds...)
	if got := chart.objectsOf(nativeKinds...); !slices.Equal(got, want) {
		t.Fatalf("chart's policies %v, generator's %v", got, want)
	}
	for _, o := range gen.objs {
		c := chart.find(o.GetKind(), o.GetName())
		if !reflect.DeepEqual(c.Object, o.Object) {
			cy, _ := yaml.Marshal(c.Object)
			gy, _ := yaml.Marshal(o.Object)
			t.Errorf("%s %s differs from generate native-policies' output:\nchart:\n%s\ngenerator:\n%s", o.GetKind(), o.GetName(), cy, gy)
		}
	}
}

func TestNativePoliciesAreTheGeneratorsOutputForTheSameConfig(t *testing.T) {
	t.Run("the default config uses the shipped file, which must be current (make generate-native)", func(t *testing.T) {
		m := render(t, "--set", "enforcement=native")
		assertSamePolicies(t, m, generated(t, m))
	})
	t.Run("another config takes the generator's output in native.policies", func(t *testing.T) {
		args := []string{"--set", "enforcement=both", "--set", "config.mode=warn", "--set", "config.allowedLocalGroups={hostprocess-agents}",
			"--set-json", `config.namespaceRules=[{"namespaces":["kube-system"],"allowedImages":["mcr.microsoft.com/*"]}]`,
			"--set-json", `config.defaults.tolerations=[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]`}
		cm := get[corev1.ConfigMap](t, render(t, args[2:]...), "ConfigMap", fullname+"-config")
		cfg, err := config.Decode([]byte(cm.Data["config.yaml"]))
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "policies.yaml")
		if err := os.WriteFile(file, []byte(generate(t, cfg, "RELEASE_NAMESPACE")), 0o600); err != nil {
			t.Fatal(err)
		}
		m := render(t, append(args, "--set-file", "native.policies="+file)...)
		assertSamePolicies(t, m, generated(t, m))
	})
	t.Run("another config without native.policies fails instead of enforcing the default", func(t *testing.T) {
		_, err := helm(t, "template", release, chartDir(t), "--namespace", namespace, "--set", "enforcement=native", "--set", "config.mode=warn")
		want := "enforcement native or both with a config other than the chart's default needs its policies: run `hostprocess-admission generate native-policies --config FILE --namespace RELEASE_NAMESPACE > policies.yaml` on the same config and pass --set-file native.policies=policies.yaml"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	})
	t.Run("the webhook mode ignores native.policies", func(t *testing.T) {
		m := render(t, "--set", "native.policies=anything")
		if got := m.objectsOf(nativeKinds...); len(got) != 0 {
			t.Errorf("policies %v in webhook mode", got)
		}
	})
}

func TestShippedNativeConfigIsTheChartsDefaultConfig(t *testing.T) {
	cm := get[corev1.ConfigMap](t, render(t), "ConfigMap", fullname+"-config")
	var rendered, shipped map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &rendered); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(chartDir(t), "files", "native-policies.config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &shipped); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rendered, shipped) {
		t.Errorf("files/native-policies.config.yaml is not values.yaml's config: update it and run make generate-native\nvalues: %v\nfile:   %v", rendered, shipped)
	}
}

func TestSchemaRejectsAnUnknownEnforcement(t *testing.T) {
	_, err := helm(t, "template", release, chartDir(t), "--set", "enforcement=cel")
	want := "- at '/enforcement': value must be one of 'webhook', 'native', 'both'"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error containing %q", err, want)
	}
}
