package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func controlledBy(apiVersion, kind, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}}
}

func hpPod(ns, name string, owners []metav1.OwnerReference, user string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners},
		Spec: audittest.HostProcessSpec(user, "node-"+name, "mcr.microsoft.com/img")}
}

func deployment(ns, name string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}
}

func replicaSet(ns, name string, owners []metav1.OwnerReference, spec corev1.PodSpec) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners},
		Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}
}

// refs summarises the inventory as "namespace/Kind/name owner=... pods=N status".
func refs(res *audit.Result) []string {
	var out []string
	for _, o := range res.Objects {
		s := o.Namespace + "/" + o.Kind + "/" + o.Name + " " + o.Status
		if o.Owner != "" {
			s += " owner=" + o.Owner
		}
		for _, p := range o.Pods {
			s += " pod=" + p.Name
		}
		out = append(out, s)
	}
	return out
}

func TestScannerGroupsPodsUnderTheirTopLevelOwner(t *testing.T) {
	sys := audittest.System
	hp := audittest.HostProcessSpec(sys, "", "mcr.microsoft.com/img")
	plain := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}
	cfg := config.Default()
	cfg.Exemptions.Namespaces = []string{"exempt"}
	for _, tc := range []struct {
		name       string
		namespaces map[string]bool // name: terminating
		workloads  []client.Object
		pods       []*corev1.Pod
		want       []string
	}{
		{
			name:      "reports a pod of a ReplicaSet of a Deployment as the Deployment",
			workloads: []client.Object{deployment("ns", "d", hp), replicaSet("ns", "d-1", controlledBy("apps/v1", "Deployment", "d"), hp)},
			pods:      []*corev1.Pod{hpPod("ns", "d-1-a", controlledBy("apps/v1", "ReplicaSet", "d-1"), sys), hpPod("ns", "d-1-b", controlledBy("apps/v1", "ReplicaSet", "d-1"), sys)},
			want:      []string{"ns/Deployment/d compliant pod=d-1-a pod=d-1-b"},
		},
		{
			name:      "reports a ReplicaSet without an owner as itself",
			workloads: []client.Object{replicaSet("ns", "rs", nil, hp)},
			pods:      []*corev1.Pod{hpPod("ns", "rs-a", controlledBy("apps/v1", "ReplicaSet", "rs"), sys)},
			want:      []string{"ns/ReplicaSet/rs compliant pod=rs-a"},
		},
		{
			name:      "reports a ReplicaSet whose Deployment is gone as itself",
			workloads: []client.Object{replicaSet("ns", "rs", controlledBy("apps/v1", "Deployment", "gone"), hp)},
			want:      []string{"ns/ReplicaSet/rs compliant"},
		},
		{
			name: "reports a pod whose controller is no workload as itself, naming the owner",
			pods: []*corev1.Pod{hpPod("ns", "static", controlledBy("v1", "Node", "n1"), sys), hpPod("ns", "cr", controlledBy("example.com/v1", "Deployment", "d"), sys)},
			workloads: []client.Object{
				deployment("ns", "d", hp), // apps/v1, not example.com/v1
			},
			want: []string{"ns/Deployment/d compliant", "ns/Pod/cr compliant owner=Deployment/d", "ns/Pod/static compliant owner=Node/n1"},
		},
		{
			name:      "reports a HostProcess pod of a workload whose template is no longer HostProcess as itself",
			workloads: []client.Object{deployment("ns", "d", plain), replicaSet("ns", "d-1", controlledBy("apps/v1", "Deployment", "d"), plain)},
			pods:      []*corev1.Pod{hpPod("ns", "d-0-old", controlledBy("apps/v1", "ReplicaSet", "d-1"), sys)},
			want:      []string{"ns/Pod/d-0-old compliant owner=ReplicaSet/d-1"},
		},
		{
			name:       "skips objects in namespaces being deleted",
			namespaces: map[string]bool{"ns": false, "going": true},
			workloads:  []client.Object{deployment("going", "d", hp)},
			pods:       []*corev1.Pod{hpPod("going", "p", nil, sys), hpPod("ns", "p", nil, sys)},
			want:       []string{"ns/Pod/p compliant"},
		},
		{
			name: "lists objects of exempt namespaces as exempt, without violations",
			pods: []*corev1.Pod{hpPod("exempt", "p", nil, audittest.Anonymous), hpPod("ns", "p", nil, audittest.Anonymous)},
			want: []string{"exempt/Pod/p exempt", "ns/Pod/p violating"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := audit.NewScanner(p)
			for ns, terminating := range tc.namespaces {
				s.AddNamespace(ns, nil, terminating)
			}
			for _, w := range tc.workloads {
				if err := s.AddWorkload(w); err != nil {
					t.Fatal(err)
				}
			}
			for _, pod := range tc.pods {
				s.AddPod(pod)
			}
			res := s.Result()
			if diff := cmp.Diff(tc.want, refs(res)); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
			for _, o := range res.Objects {
				if o.Status == audit.StatusExempt && len(o.Violations) > 0 {
					t.Errorf("exempt %s has violations %v", o.Name, o.Violations)
				}
			}
		})
	}
}

func TestScannerRejectsKindsThatAreNoWorkload(t *testing.T) {
	p, _ := policy.New(config.Default())
	if err := audit.NewScanner(p).AddWorkload(&corev1.Pod{}); err == nil {
		t.Error("AddWorkload(Pod) = nil, want an error")
	}
}

func TestWriteRejectsUnknownFormats(t *testing.T) {
	err := audit.Write(nil, &audit.Result{GeneratedAt: time.Unix(0, 0)}, "yaml")
	if err == nil || err.Error() != `unknown output format "yaml" (known: table, json, markdown, html)` {
		t.Errorf("Write(yaml) = %v", err)
	}
}

func TestEveryFormatSaysWhenNothingWasFound(t *testing.T) {
	p, _ := policy.New(config.Default())
	s := audit.NewScanner(p)
	s.AddNamespace("ns", nil, false)
	s.AddPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}})
	res := s.Result()
	if res.HasViolations() || len(res.Objects) != 0 || res.Summary.Scanned.Pods != 1 {
		t.Fatalf("result = %+v", res)
	}
	for _, format := range audit.Formats {
		var buf strings.Builder
		if err := audit.Write(&buf, res, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		want := "No HostProcess pods or workloads"
		if format == audit.FormatJSON {
			want = `"objects": []`
		}
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%s output lacks %q:\n%s", format, want, buf.String())
		}
	}
}
