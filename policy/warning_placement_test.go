package policy

import (
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// windowsTaint is the Windows nodes' taint of the demo and of AKS-style
// clusters, as defaults.tolerations names it.
var windowsTaint = corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}

// workloadsOf returns one object of every workload kind around tmpl, with the
// field path of its pod spec.
func workloadsOf(tmpl corev1.PodTemplateSpec) []struct {
	kind string
	obj  runtime.Object
	path string
} {
	return []struct {
		kind string
		obj  runtime.Object
		path string
	}{
		{"DaemonSet", &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tmpl}}, "spec.template.spec"},
		{"Deployment", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: tmpl}}, "spec.template.spec"},
		{"ReplicaSet", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tmpl}}, "spec.template.spec"},
		{"StatefulSet", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: tmpl}}, "spec.template.spec"},
		{"Job", &batchv1.Job{Spec: batchv1.JobSpec{Template: tmpl}}, "spec.template.spec"},
		{"CronJob", &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}, "spec.jobTemplate.spec.template.spec"},
		{"ReplicationController", &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tmpl}}, "spec.template.spec"},
		{"PodTemplate", &corev1.PodTemplate{Template: tmpl}, "template.spec"},
	}
}

// TestWorkloadsOfIsEveryWorkloadKind keeps workloadsOf, which spells out each
// kind's object and spec path for the tables of the placement warnings and
// the template defaults, to the workload kinds of Kinds.
func TestWorkloadsOfIsEveryWorkloadKind(t *testing.T) {
	var want, got []string
	for i := range Kinds {
		if Kinds[i].Workload() {
			want = append(want, Kinds[i].Kind+" "+Kinds[i].SpecPath())
		}
	}
	for _, w := range workloadsOf(corev1.PodTemplateSpec{}) {
		got = append(got, w.kind+" "+w.path)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("workloadsOf has\n %q\nthe workload kinds of Kinds are\n %q", got, want)
	}
}

func TestPlacementWarningsAtEveryWorkloadKind(t *testing.T) {
	withTaint := func(c *config.AdmissionConfiguration) { c.Defaults.Tolerations = []corev1.Toleration{windowsTaint} }
	// Only a DaemonSet's controller places pods from the template; the pods
	// of the other kinds are defaulted before they are scheduled.
	tolerationWarning := func(kind, path string) []string {
		if kind != "DaemonSet" {
			return nil
		}
		return []string{"pod template: " + path + ".tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: " +
			"the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint" +
			`; add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to ` + path + ".tolerations"}
	}
	osWarning := func(kind, path string) []string {
		if kind != "DaemonSet" {
			return nil
		}
		return []string{"pod template: " + path + " does not constrain kubernetes.io/os to windows: " +
			"the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start" +
			"; add kubernetes.io/os: windows to " + path + ".nodeSelector"}
	}
	tests := []struct {
		name   string
		config func(*config.AdmissionConfiguration)
		spec   func(*corev1.PodSpec)
		want   func(kind, path string) []string
	}{{
		name:   "warns a DaemonSet about the missing toleration and the missing Windows node selector, and no other kind",
		config: withTaint,
		spec:   func(*corev1.PodSpec) {},
		want:   func(k, p string) []string { return append(tolerationWarning(k, p), osWarning(k, p)...) },
	}, {
		name:   "gives no warning to a template with the toleration and the node selector",
		config: withTaint,
		spec: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{windowsTaint}
			s.NodeSelector = map[string]string{OSLabel: "windows"}
		},
		want: func(string, string) []string { return nil },
	}, {
		name:   "takes a toleration of every taint (operator Exists, no key) as tolerating the Windows taint",
		config: withTaint,
		spec: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
			s.NodeSelector = map[string]string{OSLabel: "windows"}
		},
		want: func(string, string) []string { return nil },
	}, {
		name:   "takes a toleration of the key with any value and effect as tolerating the Windows taint",
		config: withTaint,
		spec: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpExists}}
			s.NodeSelector = map[string]string{OSLabel: "windows"}
		},
		want: func(string, string) []string { return nil },
	}, {
		name:   "warns when the template tolerates only another effect of the taint",
		config: withTaint,
		spec: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoExecute}}
			s.NodeSelector = map[string]string{OSLabel: "windows"}
		},
		want: func(k, p string) []string { return tolerationWarning(k, p) },
	}, {
		name:   "takes a required node-affinity term on kubernetes.io/os as constraining it, as the default does",
		config: nil,
		spec: func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: OSLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{"windows"}}}}},
			}}}
		},
		want: func(string, string) []string { return nil },
	}, {
		name:   "gives no toleration warning without configured tolerations",
		config: nil,
		spec:   func(*corev1.PodSpec) {},
		want:   func(k, p string) []string { return osWarning(k, p) },
	}, {
		name:   "gives no node selector warning when defaults.nodeSelector is off",
		config: func(c *config.AdmissionConfiguration) { c.Defaults.NodeSelector = ptr.To(false) },
		spec:   func(*corev1.PodSpec) {},
		want:   func(string, string) []string { return nil },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, tc.config)
			pod := validPod()
			pod.Spec.EphemeralContainers = nil
			tc.spec(&pod.Spec)
			for _, w := range workloadsOf(corev1.PodTemplateSpec{Spec: pod.Spec}) {
				t.Run(w.kind, func(t *testing.T) {
					tmpl, err := Extract(w.obj)
					if err != nil {
						t.Fatal(err)
					}
					if tmpl.SpecPath != w.path {
						t.Fatalf("SpecPath %s, want %s", tmpl.SpecPath, w.path)
					}
					res := p.Evaluate(Input{Namespace: Namespace{Name: "kube-system"}, Spec: tmpl.Spec, SpecPath: tmpl.SpecPath, Kind: w.kind})
					assertViolations(t, res.Violations, nil)
					if want := tc.want(w.kind, w.path); !reflect.DeepEqual(res.Warnings, want) {
						t.Errorf("warnings:\n got %q\nwant %q", res.Warnings, want)
					}
				})
			}
		})
	}
}

func TestPlacementWarningsAreNotGivenToPodsOrNonHostProcessTemplates(t *testing.T) {
	p := mustPolicy(t, func(c *config.AdmissionConfiguration) { c.Defaults.Tolerations = []corev1.Toleration{windowsTaint} })
	pod := validPod()
	pod.Spec.EphemeralContainers = nil
	for _, kind := range []string{"Pod", ""} {
		if res := p.Evaluate(Input{Namespace: Namespace{Name: "kube-system"}, Spec: &pod.Spec, Kind: kind}); len(res.Warnings) != 0 {
			t.Errorf("kind %q: warnings %q, want none", kind, res.Warnings)
		}
	}
	plain := corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}
	if res := p.Evaluate(Input{Spec: &plain, SpecPath: "spec.template.spec", Kind: "DaemonSet"}); len(res.Warnings) != 0 {
		t.Errorf("a non-HostProcess DaemonSet got warnings %q", res.Warnings)
	}
}
