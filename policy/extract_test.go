package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestExtractRefusesKindsWithoutAPodSpec(t *testing.T) {
	if _, err := Extract(&corev1.ConfigMap{}); err == nil || err.Error() != "no pod spec in *v1.ConfigMap" {
		t.Fatalf("Extract(ConfigMap) error = %v, want \"no pod spec in *v1.ConfigMap\"", err)
	}
}

func TestHasPodSpec(t *testing.T) {
	for gr, want := range map[schema.GroupResource]bool{
		{Resource: "pods"}:                               true,
		{Resource: "podtemplates"}:                       true,
		{Resource: "replicationcontrollers"}:             true,
		{Group: "apps", Resource: "daemonsets"}:          true,
		{Group: "batch", Resource: "cronjobs"}:           true,
		{Resource: "configmaps"}:                         false,
		{Group: "apps", Resource: "pods"}:                false,
		{Group: "extensions", Resource: "jobs"}:          false,
		{Group: "apps", Resource: "controllerrevisions"}: false,
	} {
		if got := HasPodSpec(gr); got != want {
			t.Errorf("HasPodSpec(%s) = %v, want %v", gr, got, want)
		}
	}
}
