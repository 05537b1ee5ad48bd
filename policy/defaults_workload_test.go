package policy

import (
	"encoding/json"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// patched returns obj with ops applied as the API server applies a mutating
// webhook's patch, decoded into a new object of obj's type.
func patched(t *testing.T, obj runtime.Object, ops []PatchOp) runtime.Object {
	t.Helper()
	doc, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patch.Apply(doc)
	if err != nil {
		t.Fatalf("the patch %s does not apply: %v", raw, err)
	}
	obj = obj.DeepCopyObject()
	if err := json.Unmarshal(out, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestWorkloadTemplateDefaultsAtEveryWorkloadKind(t *testing.T) {
	on := func(c *config.AdmissionConfiguration) {
		c.Defaults.WorkloadTemplates = true
		c.Defaults.Tolerations = []corev1.Toleration{windowsTaint}
	}
	other := corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists}
	tests := []struct {
		name   string
		config func(*config.AdmissionConfiguration)
		spec   func(*corev1.PodSpec)
		want   func(at string) []PatchOp
	}{{
		name:   "adds the node selector and the toleration to a template that has neither",
		config: on,
		spec:   func(*corev1.PodSpec) {},
		want: func(at string) []PatchOp {
			return []PatchOp{add(at+"/nodeSelector", map[string]string{OSLabel: "windows"}), add(at+"/tolerations", []corev1.Toleration{windowsTaint})}
		},
	}, {
		name:   "adds only what is missing, keeping the template's own selector entries and tolerations",
		config: on,
		spec: func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{"pool": "win"}
			s.Tolerations = []corev1.Toleration{other}
		},
		want: func(at string) []PatchOp {
			return []PatchOp{add(at+"/nodeSelector/kubernetes.io~1os", "windows"), add(at+"/tolerations/-", windowsTaint)}
		},
	}, {
		name:   "adds nothing to a template that has both",
		config: on,
		spec: func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{OSLabel: "windows"}
			s.Tolerations = []corev1.Toleration{windowsTaint}
		},
		want: func(string) []PatchOp { return nil },
	}, {
		name:   "adds nothing to templates while defaults.workloadTemplates is off (the default)",
		config: func(c *config.AdmissionConfiguration) { c.Defaults.Tolerations = []corev1.Toleration{windowsTaint} },
		spec:   func(*corev1.PodSpec) {},
		want:   func(string) []PatchOp { return nil },
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
					in := Input{Namespace: Namespace{Name: "kube-system"}, Spec: tmpl.Spec, SpecPath: tmpl.SpecPath, Kind: w.kind}
					ops := p.Default(in)
					want := tc.want("/" + pathOf(w.path))
					if !reflect.DeepEqual(ops, want) {
						t.Fatalf("patch:\n got %v\nwant %v", ops, want)
					}
					if len(ops) == 0 {
						return
					}
					// Idempotent: the defaulted workload needs nothing more, and
					// gets no placement warning.
					again, err := Extract(patched(t, w.obj, ops))
					if err != nil {
						t.Fatal(err)
					}
					in.Spec = again.Spec
					if ops := p.Default(in); ops != nil {
						t.Errorf("a second pass patches %v", ops)
					}
					if res := p.Evaluate(in); len(res.Warnings) != 0 || len(res.Violations) != 0 {
						t.Errorf("the defaulted template has warnings %q, violations %v", res.Warnings, res.Violations)
					}
				})
			}
		})
	}
}

// pathOf turns a field path into a JSON pointer without its leading slash.
func pathOf(fieldPath string) string {
	b := []byte(fieldPath)
	for i := range b {
		if b[i] == '.' {
			b[i] = '/'
		}
	}
	return string(b)
}

func TestWorkloadTemplateDefaultsLeaveNonHostProcessTemplatesAndPodsAsBefore(t *testing.T) {
	p := mustPolicy(t, func(c *config.AdmissionConfiguration) {
		c.Defaults.WorkloadTemplates = true
		c.Defaults.Tolerations = []corev1.Toleration{windowsTaint}
	})
	plain := corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}
	if ops := p.Default(Input{Spec: &plain, SpecPath: "spec.template.spec", Kind: "DaemonSet"}); ops != nil {
		t.Errorf("a non-HostProcess DaemonSet is patched: %v", ops)
	}
	pod := validPod()
	want := []PatchOp{add("/spec/nodeSelector", map[string]string{OSLabel: "windows"}), add("/spec/tolerations", []corev1.Toleration{windowsTaint})}
	for _, kind := range []string{"", "Pod"} {
		if ops := p.Default(Input{Spec: &pod.Spec, Kind: kind}); !reflect.DeepEqual(ops, want) {
			t.Errorf("kind %q: pod patch %v, want %v", kind, ops, want)
		}
	}
}
