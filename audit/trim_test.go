package audit_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// richSpec sets every field the rules read and many they do not.
func richSpec() corev1.PodSpec {
	spec := audittest.HostProcessSpec(audittest.Anonymous, "node-1", "docker.io/x:1", "mcr.microsoft.com/y:2")
	spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux", "pool": "a"}
	spec.OS = &corev1.PodOS{Name: corev1.Linux}
	spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpIn, Values: []string{"linux"}}}}}}}}
	spec.SecurityContext.RunAsNonRoot = ptr.To(true)
	spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), RunAsNonRoot: ptr.To(false),
		WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(false), GMSACredentialSpecName: ptr.To("gmsa")}}
	spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
	spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	spec.InitContainers = []corev1.Container{{Name: "init", Image: "docker.io/init:1",
		SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To("someone")}}}}
	spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "docker.io/dbg:1"}}}
	spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	spec.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows"}}
	return spec
}

// Trimming keeps what the policy and the inventory read: every object evaluates and scans
// the same before and after.
func TestTrimTransformKeepsWhatTheAuditReads(t *testing.T) {
	cfg := config.Default()
	cfg.NamespaceRules = []config.NamespaceRule{{Namespaces: []string{"ns"}, AllowedImages: []string{"mcr.microsoft.com/*"}}}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "x", UID: "u", ResourceVersion: "7",
		Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"a": "b"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "not-controller", UID: "c"}}}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: richSpec()}
	objects := []client.Object{
		&corev1.Pod{ObjectMeta: meta, Spec: richSpec(), Status: corev1.PodStatus{Phase: corev1.PodRunning}},
		&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: tmpl}},
		&appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: tmpl}},
		&appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl}},
		&appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}},
		&batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}},
		&batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
		&corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Template: &tmpl}},
		&corev1.PodTemplate{ObjectMeta: meta, Template: tmpl},
	}
	for _, obj := range objects {
		t.Run(obj.GetObjectKind().GroupVersionKind().Kind+typeName(obj), func(t *testing.T) {
			before := scan(t, p, obj)
			out, err := audit.TrimTransform(obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			trimmed := out.(client.Object)
			if len(trimmed.GetLabels())+len(trimmed.GetAnnotations())+len(trimmed.GetManagedFields())+len(trimmed.GetOwnerReferences()) != 0 {
				t.Errorf("trimmed metadata keeps labels, annotations, managed fields or non-controller owners: %+v", trimmed)
			}
			if trimmed.GetUID() != "u" || trimmed.GetResourceVersion() != "7" || trimmed.GetName() != "x" || trimmed.GetNamespace() != "ns" {
				t.Errorf("trimmed identity = %s/%s uid %s rv %s", trimmed.GetNamespace(), trimmed.GetName(), trimmed.GetUID(), trimmed.GetResourceVersion())
			}
			if diff := cmp.Diff(before, scan(t, p, trimmed)); diff != "" {
				t.Errorf("audit of the trimmed object differs (-before +after):\n%s", diff)
			}
			if len(before.Objects) != 1 || len(before.Objects[0].Violations) < 5 || len(before.Objects[0].Warnings) != 1 {
				t.Errorf("the rich spec should break most rules and warn once: %+v", before.Objects)
			}
		})
	}
	t.Run("other objects and tombstones pass unchanged", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Labels: map[string]string{"a": "b"}}}
		if out, _ := audit.TrimTransform(cm); out != cm {
			t.Error("a ConfigMap was changed")
		}
		tomb := toolscache.DeletedFinalStateUnknown{Key: "ns/x"}
		if out, _ := audit.TrimTransform(tomb); out != tomb {
			t.Error("a tombstone was changed")
		}
	})
}

func typeName(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *batchv1.Job:
		return "Job"
	case *batchv1.CronJob:
		return "CronJob"
	case *corev1.ReplicationController:
		return "ReplicationController"
	}
	return "PodTemplate"
}

func scan(t *testing.T, p *policy.Policy, obj client.Object) *audit.Result {
	t.Helper()
	s := audit.NewScanner(p)
	s.AddNamespace("ns", nil, false)
	if pod, ok := obj.(*corev1.Pod); ok {
		s.AddPod(pod)
	} else if err := s.AddWorkload(obj); err != nil {
		t.Fatal(err)
	}
	return s.Result()
}

// The annotations that change the account the runtime runs survive trimming,
// on a Pod and on every workload's template, and the audit reports what they
// do: inheritUser where SYSTEM is not allowed, and the warnings otherwise.
func TestTrimKeepsTheAnnotationsThatChangeTheAccount(t *testing.T) {
	cfg := config.Default()
	cfg.AllowedUsers = []string{audittest.LocalService}
	strict, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := policy.New(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	annotations := map[string]string{policy.InheritUserAnnotation: "true", "other": "dropped"}
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "x", UID: "u", Annotations: annotations}
	spec := audittest.HostProcessSpec(audittest.LocalService, "node-1", "mcr.microsoft.com/y:2")
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: annotations}, Spec: spec}
	plainMeta := metav1.ObjectMeta{Namespace: "ns", Name: "x", UID: "u"}
	objects := []client.Object{
		&corev1.Pod{ObjectMeta: meta, Spec: spec},
		&appsv1.Deployment{ObjectMeta: plainMeta, Spec: appsv1.DeploymentSpec{Template: tmpl}},
		&appsv1.DaemonSet{ObjectMeta: plainMeta, Spec: appsv1.DaemonSetSpec{Template: tmpl}},
		&batchv1.CronJob{ObjectMeta: plainMeta, Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
		&corev1.ReplicationController{ObjectMeta: plainMeta, Spec: corev1.ReplicationControllerSpec{Template: &tmpl}},
		&corev1.PodTemplate{ObjectMeta: plainMeta, Template: tmpl},
	}
	for _, obj := range objects {
		t.Run(typeName(obj), func(t *testing.T) {
			out, err := audit.TrimTransform(obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			trimmed := out.(client.Object)
			res := scan(t, strict, trimmed)
			if len(res.Objects) != 1 || len(res.Objects[0].Violations) != 1 || res.Objects[0].Violations[0].Rule != policy.RuleInheritUser {
				t.Fatalf("audit of the trimmed %s under Local service only: %+v, want one inheritUser violation", typeName(obj), res.Objects)
			}
			if msg := res.Objects[0].Violations[0].Message; !strings.Contains(msg, `annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed`) {
				t.Errorf("message %q does not name the annotation", msg)
			}
			res = scan(t, defaults, trimmed)
			if len(res.Objects) != 1 || len(res.Objects[0].Violations) != 0 || len(res.Objects[0].Warnings) != 1 {
				t.Fatalf("audit of the trimmed %s under the defaults: %+v, want no violation and the inherit-user warning", typeName(obj), res.Objects)
			}
		})
	}
	t.Run("the lower-case NT AUTHORITY warning", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: plainMeta, Spec: audittest.HostProcessSpec(`nt authority\system`, "node-1", "mcr.microsoft.com/y:2")}
		out, err := audit.TrimTransform(pod)
		if err != nil {
			t.Fatal(err)
		}
		res := scan(t, defaults, out.(client.Object))
		want := `will fail to start on the node: the runtime logs NT AUTHORITY accounts on as services only when the domain is written "NT AUTHORITY" in capitals, and this account cannot log on otherwise; write "NT AUTHORITY\system"`
		if len(res.Objects) != 1 || len(res.Objects[0].Warnings) != 1 || !strings.HasSuffix(res.Objects[0].Warnings[0], want) {
			t.Fatalf("audit: %+v, want the start-failure warning", res.Objects)
		}
	})
}
