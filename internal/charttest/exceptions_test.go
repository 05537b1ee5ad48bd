//go:build !windows

package charttest

import (
	"reflect"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// exceptionHook reports whether a webhook is one of the exceptions' own.
func exceptionHook(name string) bool { return strings.HasSuffix(name, "-exceptions.hostprocess.dev") }

// withoutExceptionHooks leaves out the exceptions' webhooks.
func withoutExceptionHooks[W admissionregistrationv1.ValidatingWebhook | admissionregistrationv1.MutatingWebhook](hooks []W) []W {
	var out []W
	for _, h := range hooks {
		if !exceptionHook(reflect.ValueOf(h).FieldByName("Name").String()) {
			out = append(out, h)
		}
	}
	return out
}

// TestExceptionWebhooks: the validating webhook checks every CREATE and
// UPDATE of a HostProcessException and the mutating one records the
// creator on CREATE, both failing closed, for the cluster-scoped resource
// (no namespaceSelector applies to it).
func TestExceptionWebhooks(t *testing.T) {
	m := render(t)
	rule := func(ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
		scope := admissionregistrationv1.ClusterScope
		return []admissionregistrationv1.RuleWithOperations{{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"hostprocess.dev"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"hostprocessexceptions"}, Scope: &scope}}}
	}
	vwc := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration", fullname)
	v := vwc.Webhooks[len(vwc.Webhooks)-1]
	if v.Name != "validate-exceptions.hostprocess.dev" || *v.FailurePolicy != admissionregistrationv1.Fail ||
		!reflect.DeepEqual(v.Rules, rule(admissionregistrationv1.Create, admissionregistrationv1.Update)) || *v.ClientConfig.Service.Path != "/validate" {
		t.Errorf("validating webhook %s failurePolicy %s rules %+v path %s", v.Name, *v.FailurePolicy, v.Rules, *v.ClientConfig.Service.Path)
	}
	mwc := get[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
	w := mwc.Webhooks[len(mwc.Webhooks)-1]
	if w.Name != "mutate-exceptions.hostprocess.dev" || *w.FailurePolicy != admissionregistrationv1.Fail ||
		!reflect.DeepEqual(w.Rules, rule(admissionregistrationv1.Create)) || *w.ClientConfig.Service.Path != "/mutate" {
		t.Errorf("mutating webhook %s failurePolicy %s rules %+v path %s", w.Name, *w.FailurePolicy, w.Rules, *w.ClientConfig.Service.Path)
	}
	crd := m.find("CustomResourceDefinition", "hostprocessexceptions.hostprocess.dev")
	if crd == nil {
		t.Fatal("no CRD hostprocessexceptions.hostprocess.dev")
	}
	if scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope"); scope != "Cluster" {
		t.Errorf("scope %s: a namespaced exception could be created by whoever administers the namespace", scope)
	}
	for k := range crd.GetLabels() {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			t.Errorf("the CRD carries %s", k)
		}
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	required, _, _ := unstructured.NestedStringSlice(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "required")
	if want := []string{"namespaces", "grants", "expiresAt", "reason"}; !reflect.DeepEqual(required, want) {
		t.Errorf("required %v, want %v", required, want)
	}
}
