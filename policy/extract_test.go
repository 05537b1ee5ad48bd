package policy

import (
	"reflect"
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

// TestKinds checks each row of the table: its objects and lists are of its
// kind, its template is found at its path, owners come before the kinds they
// own, and Pods come last.
func TestKinds(t *testing.T) {
	owned := map[string]string{"ReplicaSet": "Deployment", "Job": "CronJob", "Pod": "ReplicaSet"}
	pos := map[string]int{}
	for i := range Kinds {
		k := &Kinds[i]
		pos[k.Kind] = i
		obj := k.New()
		if got := KindOf(obj); got != k {
			t.Errorf("KindOf(%T) = %v, want %s", obj, got, k.Kind)
		}
		if KindFor(k.GroupKind()) != k || KindForResource(k.GroupResource()) != k {
			t.Errorf("%s is not found by its group kind or resource", k.Kind)
		}
		if list := k.NewList(); !isListOf(list, obj) {
			t.Errorf("%s: NewList returns %T", k.Kind, list)
		}
		tmpl := k.Extract(obj)
		if tmpl.SpecPath != k.SpecPath() || tmpl.Workload != k.Workload() {
			t.Errorf("%s: Extract gives path %q workload %v", k.Kind, tmpl.SpecPath, tmpl.Workload)
		}
		if tmpl.Spec == nil && k.Kind != "ReplicationController" {
			t.Errorf("%s: Extract finds no pod spec in an empty object", k.Kind)
		}
	}
	for kind, owner := range owned {
		if pos[owner] > pos[kind] {
			t.Errorf("%s comes after %s, which it owns", owner, kind)
		}
	}
	if last := Kinds[len(Kinds)-1]; last.Kind != "Pod" || last.Workload() {
		t.Errorf("the last kind is %s, want Pod", last.Kind)
	}
}

func isListOf(list, obj interface{}) bool {
	return fmtType(list) == fmtType(obj)+"List"
}

func fmtType(v interface{}) string { return reflect.TypeOf(v).Elem().Name() }
