package policy

import (
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is a kind of object that carries a pod spec.
type Kind struct {
	schema.GroupVersionKind
	// Resource is the kind's plural resource name.
	Resource string
	// TemplatePath is the field path of the pod template ("" for a Pod, whose
	// metadata and spec are its own).
	TemplatePath string
	// New returns an empty object of the kind; NewList an empty list of it.
	New     func() runtime.Object
	NewList func() runtime.Object
	// template returns the object's pod template, nil when it has none
	// (a ReplicationController may omit it).
	template func(runtime.Object) *corev1.PodTemplateSpec
}

// Kinds are the kinds that carry a pod spec, the same set as Pod Security
// Admission's: Pods and every workload kind. Owners come before the kinds
// they own (Deployment before ReplicaSet, CronJob before Job), the order in
// which the audit reads them; Pods come last. The webhook's scope, check, the
// audit and the native policies are derived from this table, and the chart's
// webhook rules, RBAC and CEL helpers are tested against it
// (internal/charttest). Adding a kind is one row here.
var Kinds = []Kind{
	workload(appsv1.SchemeGroupVersion.WithKind("Deployment"), "deployments", "spec.template",
		func() runtime.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.Deployment).Spec.Template }),
	workload(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), "replicasets", "spec.template",
		func() runtime.Object { return &appsv1.ReplicaSet{} }, func() runtime.Object { return &appsv1.ReplicaSetList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.ReplicaSet).Spec.Template }),
	workload(appsv1.SchemeGroupVersion.WithKind("StatefulSet"), "statefulsets", "spec.template",
		func() runtime.Object { return &appsv1.StatefulSet{} }, func() runtime.Object { return &appsv1.StatefulSetList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.StatefulSet).Spec.Template }),
	workload(appsv1.SchemeGroupVersion.WithKind("DaemonSet"), "daemonsets", "spec.template",
		func() runtime.Object { return &appsv1.DaemonSet{} }, func() runtime.Object { return &appsv1.DaemonSetList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.DaemonSet).Spec.Template }),
	workload(batchv1.SchemeGroupVersion.WithKind("CronJob"), "cronjobs", "spec.jobTemplate.spec.template",
		func() runtime.Object { return &batchv1.CronJob{} }, func() runtime.Object { return &batchv1.CronJobList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec {
			return &o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
		}),
	workload(batchv1.SchemeGroupVersion.WithKind("Job"), "jobs", "spec.template",
		func() runtime.Object { return &batchv1.Job{} }, func() runtime.Object { return &batchv1.JobList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*batchv1.Job).Spec.Template }),
	workload(corev1.SchemeGroupVersion.WithKind("ReplicationController"), "replicationcontrollers", "spec.template",
		func() runtime.Object { return &corev1.ReplicationController{} }, func() runtime.Object { return &corev1.ReplicationControllerList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return o.(*corev1.ReplicationController).Spec.Template }),
	workload(corev1.SchemeGroupVersion.WithKind("PodTemplate"), "podtemplates", "template",
		func() runtime.Object { return &corev1.PodTemplate{} }, func() runtime.Object { return &corev1.PodTemplateList{} },
		func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*corev1.PodTemplate).Template }),
	{
		GroupVersionKind: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods",
		New:     func() runtime.Object { return &corev1.Pod{} },
		NewList: func() runtime.Object { return &corev1.PodList{} },
	},
}

func workload(gvk schema.GroupVersionKind, resource, path string, newObj, newList func() runtime.Object, tmpl func(runtime.Object) *corev1.PodTemplateSpec) Kind {
	return Kind{GroupVersionKind: gvk, Resource: resource, TemplatePath: path, New: newObj, NewList: newList, template: tmpl}
}

// Workload is true for the kinds with a pod template, false for Pods.
func (k *Kind) Workload() bool { return k.TemplatePath != "" }

// SpecPath is the field path of the pod spec: "spec" for a Pod,
// "spec.template.spec" for most workloads.
func (k *Kind) SpecPath() string {
	if !k.Workload() {
		return "spec"
	}
	return k.TemplatePath + ".spec"
}

// GroupResource returns the kind's group and resource.
func (k *Kind) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.Group, Resource: k.Resource}
}

// Extract returns the pod spec of obj, an object of this kind.
func (k *Kind) Extract(obj runtime.Object) Template {
	if !k.Workload() {
		pod := obj.(*corev1.Pod)
		return Template{Meta: &pod.ObjectMeta, Spec: &pod.Spec, SpecPath: "spec"}
	}
	t := Template{SpecPath: k.SpecPath(), Workload: true}
	if tmpl := k.template(obj); tmpl != nil {
		t.Meta, t.Spec = &tmpl.ObjectMeta, &tmpl.Spec
	}
	return t
}

// KindFor returns the kind of gk, nil when it carries no pod spec.
func KindFor(gk schema.GroupKind) *Kind {
	for i := range Kinds {
		if Kinds[i].GroupKind() == gk {
			return &Kinds[i]
		}
	}
	return nil
}

// KindForResource returns the kind served as gr, nil when it carries no pod
// spec.
func KindForResource(gr schema.GroupResource) *Kind {
	for i := range Kinds {
		if Kinds[i].GroupResource() == gr {
			return &Kinds[i]
		}
	}
	return nil
}

// Template is the pod spec inside an object, as the policy sees it.
type Template struct {
	// Meta is the pod's (or pod template's) metadata.
	Meta *metav1.ObjectMeta
	// Spec is nil when the object has no pod template (e.g. a
	// ReplicationController without one).
	Spec *corev1.PodSpec
	// SpecPath is the field path of Spec in the object.
	SpecPath string
	// Workload is true for pod templates, false for Pods.
	Workload bool
}

// HasPodSpec reports whether resources of gr carry a pod spec: one of Kinds.
func HasPodSpec(gr schema.GroupResource) bool { return KindForResource(gr) != nil }

// Extract returns the pod spec of a Pod or of a workload's pod template, an
// object of one of Kinds.
func Extract(obj runtime.Object) (Template, error) {
	if k := KindOf(obj); k != nil {
		return k.Extract(obj), nil
	}
	return Template{}, fmt.Errorf("no pod spec in %T", obj)
}

// KindOf returns the kind of obj, a typed object of one of Kinds (whose
// TypeMeta, as read from the API, is usually empty).
func KindOf(obj runtime.Object) *Kind {
	t := reflect.TypeOf(obj)
	for i := range Kinds {
		if reflect.TypeOf(Kinds[i].New()) == t {
			return &Kinds[i]
		}
	}
	return nil
}
