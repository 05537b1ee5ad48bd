package policy

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

const (
	system       = `NT AUTHORITY\SYSTEM`
	localService = `NT AUTHORITY\Local service`
	// defaultAllowed is the message text for the default allowed users, sorted.
	defaultAllowed = `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM`
)

// validPod is an admitted HostProcess pod with one container in each list.
// hostProcess and runAsUserName are set at pod level and inherited.
func validPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess: ptr.To(true), RunAsUserName: ptr.To(localService),
			}},
			InitContainers:      []corev1.Container{{Name: "init", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}},
			Containers:          []corev1.Container{{Name: "app", Image: "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}}},
		},
	}
}

// placement is where a case puts its setting: at pod level or in one container.
type placement struct {
	name string
	// container is "" for pod level, otherwise the container's name.
	container string
	// path is the container's path relative to the pod spec, e.g. "containers[0]".
	path string
}

var placements = []placement{
	{name: "at pod level"},
	{name: "in an init container", container: "init", path: "initContainers[0]"},
	{name: "in a regular container", container: "app", path: "containers[0]"},
	{name: "in an ephemeral container", container: "debug", path: "ephemeralContainers[0]"},
}

// containerOf returns the container of spec named name, in any list.
func containerOf(spec *corev1.PodSpec, name string) *corev1.Container {
	var found *corev1.Container
	visitContainers(spec, func(c containerRef) bool {
		if c.Name() == name {
			found = c.container
		}
		return found == nil
	})
	return found
}

// apply puts a setting at the placement: setPod on the pod's security
// context, or setContainer on the container's.
func (pl placement) apply(spec *corev1.PodSpec, setPod func(*corev1.PodSecurityContext), setContainer func(*corev1.SecurityContext)) {
	if pl.container == "" {
		if spec.SecurityContext == nil {
			spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		if spec.SecurityContext.WindowsOptions == nil {
			spec.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
		}
		setPod(spec.SecurityContext)
		return
	}
	c := containerOf(spec, pl.container)
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	if c.SecurityContext.WindowsOptions == nil {
		c.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
	}
	setContainer(c.SecurityContext)
}

// wrapper puts a pod spec into an object of one kind.
type wrapper struct {
	kind string
	wrap func(*corev1.Pod) runtime.Object
	// specPath is the field path of the pod spec in the object.
	specPath string
}

var wrappers = []wrapper{
	{"Pod", func(p *corev1.Pod) runtime.Object { return p }, "spec"},
	{"Deployment", func(p *corev1.Pod) runtime.Object {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: template(p)}}
	}, "spec.template.spec"},
	{"ReplicaSet", func(p *corev1.Pod) runtime.Object {
		return &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: template(p)}}
	}, "spec.template.spec"},
	{"StatefulSet", func(p *corev1.Pod) runtime.Object {
		return &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: template(p)}}
	}, "spec.template.spec"},
	{"DaemonSet", func(p *corev1.Pod) runtime.Object {
		return &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: template(p)}}
	}, "spec.template.spec"},
	{"Job", func(p *corev1.Pod) runtime.Object {
		return &batchv1.Job{Spec: batchv1.JobSpec{Template: template(p)}}
	}, "spec.template.spec"},
	{"CronJob", func(p *corev1.Pod) runtime.Object {
		return &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template(p)}}}}
	}, "spec.jobTemplate.spec.template.spec"},
	{"ReplicationController", func(p *corev1.Pod) runtime.Object {
		t := template(p)
		return &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &t}}
	}, "spec.template.spec"},
	{"PodTemplate", func(p *corev1.Pod) runtime.Object {
		return &corev1.PodTemplate{Template: template(p)}
	}, "template.spec"},
}

func template(p *corev1.Pod) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": p.Name}, Annotations: p.Annotations}, Spec: p.Spec}
}

// want is an expected violation. In Field and Message, {spec} stands for the
// pod spec's path in the object, {meta} for the metadata beside it and {c}
// for the placed container's path.
type want struct {
	rule, container, field, message string
}

func (w want) expand(specPath, containerPath string) Violation {
	r := placeholders(specPath, containerPath)
	return Violation{Rule: w.rule, Container: w.container, Field: r.Replace(w.field), Message: r.Replace(w.message)}
}

func placeholders(specPath, containerPath string) *strings.Replacer {
	return strings.NewReplacer("{spec}", specPath, "{meta}", metaPath(specPath), "{c}", specPath+"."+containerPath)
}

func mustPolicy(t testing.TB, mutate func(*config.AdmissionConfiguration)) *Policy {
	t.Helper()
	cfg := config.Default()
	if mutate != nil {
		mutate(cfg)
	}
	if errs := config.Validate(cfg); len(errs) > 0 {
		t.Fatalf("invalid test config: %v", errs.ToAggregate())
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// evaluateIn wraps pod in each workload kind, extracts it and evaluates it.
func evaluateIn(t *testing.T, p *Policy, pod *corev1.Pod, w wrapper) Result {
	t.Helper()
	tmpl, err := Extract(w.wrap(pod))
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SpecPath != w.specPath {
		t.Fatalf("Extract(%s).SpecPath = %q, want %q", w.kind, tmpl.SpecPath, w.specPath)
	}
	if tmpl.Workload != (w.kind != "Pod") {
		t.Fatalf("Extract(%s).Workload = %v", w.kind, tmpl.Workload)
	}
	return p.Evaluate(Input{Namespace: Namespace{Name: pod.Namespace}, Spec: tmpl.Spec, SpecPath: tmpl.SpecPath, Annotations: tmpl.Meta.Annotations})
}

func assertViolations(t *testing.T, got []Violation, want []Violation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\ngot:  %s\nwant: %s", len(got), len(want), fmtViolations(got), fmtViolations(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("violation %d:\ngot:  %+v\nwant: %+v", i, got[i], want[i])
		}
	}
}

func fmtViolations(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\n  " + v.Rule + " | " + v.Container + " | " + v.Field + " | " + v.Message)
	}
	return b.String()
}

// placedCase is a rule case whose setting is tried at every placement and in
// every workload kind.
type placedCase struct {
	name         string
	config       func(*config.AdmissionConfiguration)
	setPod       func(*corev1.PodSecurityContext)
	setContainer func(*corev1.SecurityContext)
	// atPod is expected when the setting is at pod level; atContainer when it
	// is on a container ({name} is replaced by the container's name).
	atPod, atContainer []want
	// annotations are set on the pod (and so on the template).
	annotations map[string]string
	// With checkWarnings, the warnings must be exactly warnAtPod or
	// warnAtContainer, with the placeholders of want.
	checkWarnings              bool
	warnAtPod, warnAtContainer []string
}

func runPlaced(t *testing.T, cases []placedCase) {
	t.Helper()
	for _, tc := range cases {
		p := mustPolicy(t, tc.config)
		for _, pl := range placements {
			for _, w := range wrappers {
				t.Run(tc.name+"/"+pl.name+"/"+w.kind, func(t *testing.T) {
					pod := validPod()
					pod.Annotations = tc.annotations
					pl.apply(&pod.Spec, tc.setPod, tc.setContainer)
					wants, warns := tc.atPod, tc.warnAtPod
					if pl.container != "" {
						wants, warns = tc.atContainer, tc.warnAtContainer
					}
					var expected []Violation
					for _, wt := range wants {
						wt.container = strings.ReplaceAll(wt.container, "{name}", pl.container)
						wt.message = strings.ReplaceAll(wt.message, "{name}", pl.container)
						expected = append(expected, wt.expand(w.specPath, pl.path))
					}
					res := evaluateIn(t, p, pod, w)
					assertViolations(t, res.Violations, expected)
					if tc.checkWarnings {
						r := placeholders(w.specPath, pl.path)
						var wantWarnings []string
						for _, wt := range warns {
							wantWarnings = append(wantWarnings, r.Replace(strings.ReplaceAll(wt, "{name}", pl.container)))
						}
						if !slices.Equal(res.Warnings, wantWarnings) {
							t.Errorf("warnings:\ngot:  %q\nwant: %q", res.Warnings, wantWarnings)
						}
					}
				})
			}
		}
	}
}

func TestValidPodIsAdmittedInEveryKind(t *testing.T) {
	p := mustPolicy(t, nil)
	for _, w := range wrappers {
		t.Run(w.kind, func(t *testing.T) {
			res := evaluateIn(t, p, validPod(), w)
			if !res.HostProcess {
				t.Fatal("HostProcess = false, want true")
			}
			assertViolations(t, res.Violations, nil)
		})
	}
}

func TestNonHostProcessPodsAreOutsideThePolicy(t *testing.T) {
	p := mustPolicy(t, func(c *config.AdmissionConfiguration) {
		c.NamespaceRules = []config.NamespaceRule{{Namespaces: []string{"only-here"}}}
	})
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
		Containers:      []corev1.Container{{Name: "nginx", Image: "nginx", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}},
		NodeSelector:    map[string]string{OSLabel: "linux"},
	}}
	for _, w := range wrappers {
		t.Run(w.kind, func(t *testing.T) {
			res := evaluateIn(t, p, pod, w)
			if res.HostProcess || len(res.Violations) != 0 || len(res.Warnings) != 0 {
				t.Fatalf("got %+v, want an empty result", res)
			}
		})
	}
}
