//go:build !windows

package charttest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestWorkloadTemplatesAddsAMutatingWebhookForWorkloadCreates: with
// config.defaults.workloadTemplates the mutating webhook also sees the
// CREATEs of every workload kind, and only their CREATEs.
func TestWorkloadTemplatesAddsAMutatingWebhookForWorkloadCreates(t *testing.T) {
	m := render(t)
	mwc := get[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
	mwc.Webhooks = withoutExceptionHooks(mwc.Webhooks)
	if len(mwc.Webhooks) != 1 {
		t.Fatalf("by default %d mutating webhooks, want only the pod one", len(mwc.Webhooks))
	}
	m = render(t, "--set", "config.defaults.workloadTemplates=true")
	mwc = get[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
	mwc.Webhooks = withoutExceptionHooks(mwc.Webhooks)
	if len(mwc.Webhooks) != 2 || mwc.Webhooks[1].Name != "mutate-workloads.hostprocess.dev" {
		t.Fatalf("mutating webhooks %d, want the pod one and mutate-workloads.hostprocess.dev", len(mwc.Webhooks))
	}
	w := mwc.Webhooks[1]
	var got []string
	for _, r := range w.Rules {
		for _, res := range r.Resources {
			got = append(got, strings.Join(r.APIGroups, ",")+"/"+res+":"+fmt.Sprint(r.Operations))
		}
	}
	want := []string{"apps/deployments:[CREATE]", "apps/replicasets:[CREATE]", "apps/statefulsets:[CREATE]", "apps/daemonsets:[CREATE]",
		"batch/jobs:[CREATE]", "batch/cronjobs:[CREATE]", "/replicationcontrollers:[CREATE]", "/podtemplates:[CREATE]"}
	if !slices.Equal(got, want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != "/mutate" {
		t.Errorf("clientConfig %+v, want the Service's /mutate", w.ClientConfig)
	}
	cm := get[corev1.ConfigMap](t, m, "ConfigMap", fullname+"-config")
	if !strings.Contains(cm.Data["config.yaml"], "workloadTemplates: true") {
		t.Errorf("the configuration lacks workloadTemplates: true:\n%s", cm.Data["config.yaml"])
	}
}
