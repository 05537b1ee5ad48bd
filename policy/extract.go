package policy

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

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

// podSpecResources are the resources that carry a pod spec, the same set as
// Pod Security Admission's: pods and every workload kind.
var podSpecResources = map[schema.GroupResource]bool{
	{Resource: "pods"}:                        true,
	{Resource: "podtemplates"}:                true,
	{Resource: "replicationcontrollers"}:      true,
	{Group: "apps", Resource: "deployments"}:  true,
	{Group: "apps", Resource: "replicasets"}:  true,
	{Group: "apps", Resource: "statefulsets"}: true,
	{Group: "apps", Resource: "daemonsets"}:   true,
	{Group: "batch", Resource: "jobs"}:        true,
	{Group: "batch", Resource: "cronjobs"}:    true,
}

// HasPodSpec reports whether resources of gr carry a pod spec: pods and every
// workload kind of the spec (Deployment, ReplicaSet, StatefulSet, DaemonSet,
// Job, CronJob, ReplicationController, PodTemplate).
func HasPodSpec(gr schema.GroupResource) bool { return podSpecResources[gr] }

// Extract returns the pod spec of a Pod or of a workload's pod template.
func Extract(obj runtime.Object) (Template, error) {
	workload := func(t *corev1.PodTemplateSpec) (Template, error) {
		return Template{Meta: &t.ObjectMeta, Spec: &t.Spec, SpecPath: "spec.template.spec", Workload: true}, nil
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return Template{Meta: &o.ObjectMeta, Spec: &o.Spec, SpecPath: "spec"}, nil
	case *corev1.PodTemplate:
		return Template{Meta: &o.Template.ObjectMeta, Spec: &o.Template.Spec, SpecPath: "template.spec", Workload: true}, nil
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return Template{SpecPath: "spec.template.spec", Workload: true}, nil
		}
		return workload(o.Spec.Template)
	case *appsv1.Deployment:
		return workload(&o.Spec.Template)
	case *appsv1.ReplicaSet:
		return workload(&o.Spec.Template)
	case *appsv1.StatefulSet:
		return workload(&o.Spec.Template)
	case *appsv1.DaemonSet:
		return workload(&o.Spec.Template)
	case *batchv1.Job:
		return workload(&o.Spec.Template)
	case *batchv1.CronJob:
		t, _ := workload(&o.Spec.JobTemplate.Spec.Template)
		t.SpecPath = "spec.jobTemplate.spec.template.spec"
		return t, nil
	}
	return Template{}, fmt.Errorf("no pod spec in %T", obj)
}
