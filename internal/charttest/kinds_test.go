//go:build !windows

package charttest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// TestChartListsExactlyTheKindsOfThePolicyTable checks the chart against
// policy.Kinds: a kind added to the table must be added to the webhooks'
// rules, the audit's RBAC and, when its pod template is not at
// spec.template, the CEL helpers; a kind in the chart must be in the table.
func TestChartListsExactlyTheKindsOfThePolicyTable(t *testing.T) {
	var pods, workloads []string
	for _, k := range policy.Kinds {
		if k.Workload() {
			workloads = append(workloads, k.GroupResource().String())
		} else {
			pods = append(pods, k.GroupResource().String())
		}
	}
	all := append(slices.Clone(workloads), pods...)
	slices.Sort(pods)
	slices.Sort(workloads)
	slices.Sort(all)

	m := render(t, "--set", "webhook.workloads.enabled=true")
	vwc := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration", fullname)
	for _, w := range withoutExceptionHooks(vwc.Webhooks) {
		var want []string
		switch w.Name {
		case "validate.hostprocess.dev":
			want = pods
		case "validate-workloads.hostprocess.dev":
			want = workloads
		default:
			t.Errorf("unexpected validating webhook %s", w.Name)
			continue
		}
		var got []string
		for _, r := range w.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if !strings.Contains(res, "/") { // subresources are the webhook's own choice
						got = append(got, schema.GroupResource{Group: g, Resource: res}.String())
					}
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("webhook %s lists %v, policy.Kinds has %v", w.Name, got, want)
		}
	}

	// The audit lists every kind of the table and nothing else with a pod spec.
	cr := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname)
	var listed []string
	for _, r := range cr.Rules {
		if !slices.Contains(r.Verbs, "list") || len(r.ResourceNames) > 0 {
			continue
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				gr := schema.GroupResource{Group: g, Resource: res}
				switch gr {
				case schema.GroupResource{Resource: "namespaces"}:
				default:
					if g == "" || g == "apps" || g == "batch" {
						listed = append(listed, gr.String())
					}
				}
			}
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, all) {
		t.Errorf("the ClusterRole lets the audit list %v, policy.Kinds has %v", listed, all)
	}

	// The CEL helpers name each kind whose pod template is not at
	// spec.template, with its path, and no other resource.
	helpers, err := os.ReadFile(chartDir(t) + "/templates/_helpers.tpl")
	if err != nil {
		t.Fatal(err)
	}
	var special []string
	for _, k := range policy.Kinds {
		if k.Workload() && k.TemplatePath != "spec.template" {
			special = append(special, k.Resource)
			if want := "request.resource.resource == '" + k.Resource + "' ? (has(object." + strings.SplitN(k.TemplatePath, ".", 2)[0]; !strings.Contains(string(helpers), want) {
				t.Errorf("_helpers.tpl has no %q for %s", want, k.Kind)
			}
			if want := "object." + k.TemplatePath + ".spec"; !strings.Contains(string(helpers), want) {
				t.Errorf("_helpers.tpl does not read %s's pod template at %s", k.Kind, want)
			}
		}
	}
	var named []string
	for _, match := range regexp.MustCompile(`request\.resource\.resource == '([a-z]+)'`).FindAllStringSubmatch(string(helpers), -1) {
		if !slices.Contains(named, match[1]) {
			named = append(named, match[1])
		}
	}
	slices.Sort(named)
	slices.Sort(special)
	if !slices.Equal(named, special) {
		t.Errorf("_helpers.tpl picks the pod template by resource for %v, policy.Kinds for %v", named, special)
	}
}
