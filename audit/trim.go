package audit

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// CacheByObject returns the cache settings of the kinds the background audit watches (Pods
// and the workload kinds), for the manager's cache.Options.ByObject. Objects are trimmed
// before they enter the cache to what the audit reads (see trimObject), which keeps a cache
// of many thousands of Pods small, and are returned from the cache without a deep copy.
// Nothing else may read other fields of these kinds from the manager's cache, or modify
// objects it returns.
func CacheByObject() map[client.Object]cache.ByObject {
	noCopy := true
	m := map[client.Object]cache.ByObject{}
	for _, obj := range watchedObjects() {
		m[obj] = cache.ByObject{Transform: TrimTransform, UnsafeDisableDeepCopy: &noCopy}
	}
	return m
}

// watchedObjects are empty objects of the kinds the background audit watches.
func watchedObjects() []client.Object {
	return []client.Object{
		&appsv1.Deployment{}, &batchv1.CronJob{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{},
		&corev1.ReplicationController{}, &corev1.PodTemplate{}, &appsv1.ReplicaSet{}, &batchv1.Job{},
		&corev1.Pod{},
	}
}

// TrimTransform is a cache transform (toolscache.TransformFunc) that trims Pods and workloads
// to what the audit reads; other objects pass unchanged.
var TrimTransform toolscache.TransformFunc = func(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		// A DeletedFinalStateUnknown tombstone: nothing to trim.
		return in, nil
	}
	if _, ok := gvkOf(obj); !ok {
		return in, nil
	}
	return trimObject(obj)
}

// trimObject reduces a Pod or workload, in place, to its name, namespace, UID, resource
// version, deletion timestamp, controller owner reference, the annotations the policy reads
// (policy.RuntimeAnnotations, of the pod or its template) and the pod spec fields that the
// policy and the inventory read; status, labels, other annotations, managed fields and every
// other field are dropped.
func trimObject(obj client.Object) (client.Object, error) {
	t, err := policy.Extract(obj)
	if err != nil {
		return nil, fmt.Errorf("audit: trimming %T: %w", obj, err)
	}
	var spec corev1.PodSpec
	if t.Spec != nil {
		spec = trimPodSpec(t.Spec)
	}
	meta := trimMeta(obj)
	var tmpl corev1.PodTemplateSpec
	tmpl.Spec = spec
	if t.Meta != nil {
		tmpl.Annotations = trimAnnotations(t.Meta.Annotations)
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		meta.Annotations = tmpl.Annotations
		return &corev1.Pod{ObjectMeta: meta, Spec: spec}, nil
	case *corev1.PodTemplate:
		return &corev1.PodTemplate{ObjectMeta: meta, Template: tmpl}, nil
	case *corev1.ReplicationController:
		rc := &corev1.ReplicationController{ObjectMeta: meta}
		if o.Spec.Template != nil {
			rc.Spec.Template = &tmpl
		}
		return rc, nil
	case *appsv1.Deployment:
		return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl}}, nil
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: tmpl}}, nil
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl}}, nil
	case *appsv1.DaemonSet:
		return &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}}, nil
	case *batchv1.Job:
		return &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}, nil
	case *batchv1.CronJob:
		return &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: tmpl}}}}, nil
	}
	return nil, fmt.Errorf("audit: cannot trim %T", obj)
}

// trimAnnotations keeps the annotations the policy reads, or nil.
func trimAnnotations(in map[string]string) map[string]string {
	var out map[string]string
	for _, key := range policy.RuntimeAnnotations {
		if v, ok := in[key]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[key] = v
		}
	}
	return out
}

func trimMeta(obj client.Object) metav1.ObjectMeta {
	m := metav1.ObjectMeta{
		Name:              obj.GetName(),
		Namespace:         obj.GetNamespace(),
		UID:               obj.GetUID(),
		ResourceVersion:   obj.GetResourceVersion(),
		DeletionTimestamp: obj.GetDeletionTimestamp(),
	}
	if ctrl := metav1.GetControllerOfNoCopy(obj); ctrl != nil {
		m.OwnerReferences = []metav1.OwnerReference{*ctrl}
	}
	return m
}

// trimPodSpec keeps the fields the rules read (see policy/rule_*.go): the Windows security
// fields at pod and container level, runAsNonRoot, privileged (for the warning), hostNetwork,
// os, the kubernetes.io/os node selector, the required node affinity, and each container's
// name and image; plus nodeName for the inventory.
func trimPodSpec(in *corev1.PodSpec) corev1.PodSpec {
	out := corev1.PodSpec{
		HostNetwork: in.HostNetwork,
		OS:          in.OS,
		NodeName:    in.NodeName,
	}
	if v, ok := in.NodeSelector[policy.OSLabel]; ok {
		out.NodeSelector = map[string]string{policy.OSLabel: v}
	}
	if a := in.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		out.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		}}
	}
	if sc := in.SecurityContext; sc != nil && (sc.WindowsOptions != nil || sc.RunAsNonRoot != nil) {
		out.SecurityContext = &corev1.PodSecurityContext{WindowsOptions: trimWindows(sc.WindowsOptions), RunAsNonRoot: sc.RunAsNonRoot}
	}
	if len(in.InitContainers) > 0 {
		out.InitContainers = make([]corev1.Container, len(in.InitContainers))
		for i := range in.InitContainers {
			out.InitContainers[i] = trimContainer(&in.InitContainers[i])
		}
	}
	if len(in.Containers) > 0 {
		out.Containers = make([]corev1.Container, len(in.Containers))
		for i := range in.Containers {
			out.Containers[i] = trimContainer(&in.Containers[i])
		}
	}
	if len(in.EphemeralContainers) > 0 {
		out.EphemeralContainers = make([]corev1.EphemeralContainer, len(in.EphemeralContainers))
		for i := range in.EphemeralContainers {
			c := (*corev1.Container)(&in.EphemeralContainers[i].EphemeralContainerCommon)
			out.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(trimContainer(c))
		}
	}
	return out
}

func trimContainer(c *corev1.Container) corev1.Container {
	out := corev1.Container{Name: c.Name, Image: c.Image}
	if sc := c.SecurityContext; sc != nil {
		out.SecurityContext = &corev1.SecurityContext{
			WindowsOptions: trimWindows(sc.WindowsOptions),
			RunAsNonRoot:   sc.RunAsNonRoot,
			Privileged:     sc.Privileged,
		}
	}
	return out
}

func trimWindows(w *corev1.WindowsSecurityContextOptions) *corev1.WindowsSecurityContextOptions {
	if w == nil {
		return nil
	}
	return &corev1.WindowsSecurityContextOptions{HostProcess: w.HostProcess, RunAsUserName: w.RunAsUserName}
}
