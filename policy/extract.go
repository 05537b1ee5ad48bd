package policy

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psaadmission "k8s.io/pod-security-admission/admission"
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

var extractor = psaadmission.DefaultPodSpecExtractor{}

// HasPodSpec reports whether resources of gr carry a pod spec: pods and every
// workload kind of the spec (Deployment, ReplicaSet, StatefulSet, DaemonSet,
// Job, CronJob, ReplicationController, PodTemplate).
func HasPodSpec(gr schema.GroupResource) bool { return extractor.HasPodSpec(gr) }

// Extract returns the pod spec of a Pod or of a workload's pod template.
func Extract(obj runtime.Object) (Template, error) {
	meta, spec, err := extractor.ExtractPodSpec(obj)
	if err != nil {
		return Template{}, fmt.Errorf("no pod spec in %T", obj)
	}
	t := Template{Meta: meta, Spec: spec, SpecPath: "spec.template.spec", Workload: true}
	switch obj.(type) {
	case *corev1.Pod:
		t.SpecPath, t.Workload = "spec", false
	case *corev1.PodTemplate:
		t.SpecPath = "template.spec"
	case *batchv1.CronJob:
		t.SpecPath = "spec.jobTemplate.spec.template.spec"
	}
	return t, nil
}
