//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// reviewUID is the uid of the benchmark's AdmissionReview request. Every
// server must echo it in its response.
const reviewUID = "5c1e5d0a-8b3f-4a51-9d64-2f7c6e0b9a31"

// benchNamespace is the namespace of the reviewed pod. For the PSA webhook it
// is labelled warn=restricted and audit=restricted, so that PSA evaluates
// every check of the restricted level.
const benchNamespace = "kube-system-bench"

// hostProcessPod is a realistic HostProcess DaemonSet pod as the API server
// hands it to admission after defaulting: a kube-proxy-like agent with 2
// containers and 1 init container, env, mounts, probes, resources, labels,
// annotations, the DaemonSet controller's node affinity and tolerations.
func hostProcessPod(namespace string) *corev1.Pod {
	pod := windowsPodShape(namespace)
	pod.Spec.HostNetwork = true
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
		HostProcess: ptr.To(true), RunAsUserName: ptr.To(`NT AUTHORITY\SYSTEM`)}}
	return pod
}

// plainPod is the same pod as an ordinary Linux pod: no HostProcess setting
// anywhere, so the chart's matchConditions keep it away from the webhook.
func plainPod(namespace string) *corev1.Pod {
	pod := windowsPodShape(namespace)
	pod.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	pod.Spec.OS = &corev1.PodOS{Name: corev1.Linux}
	pod.Spec.Affinity = nil
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			cs[i].Image = "registry.k8s.io/kube-proxy:v1.37.2"
			cs[i].Command = []string{"/usr/local/bin/" + cs[i].Name, "--config=/var/lib/" + cs[i].Name + "/config.conf"}
			cs[i].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/var/lib/" + cs[i].Name}, {Name: "logs", MountPath: "/var/log"}}
		}
	}
	pod.Spec.Volumes[1].HostPath.Path = "/var/log"
	return pod
}

func windowsPodShape(namespace string) *corev1.Pod {
	env := []corev1.EnvVar{
		{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
		{Name: "KUBEPROXY_PATH", Value: `C:\k\kube-proxy.exe`},
		{Name: "KUBECONFIG", Value: `C:\k\config`},
		{Name: "CLUSTER_CIDR", Value: "10.244.0.0/16"},
		{Name: "LOG_LEVEL", Value: "2"},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: `C:\hpc\config`, ReadOnly: true},
		{Name: "logs", MountPath: `C:\var\log`},
		{Name: "kube-api-access-7hx2q", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
	}
	container := func(name, image string, port int32, portName string) corev1.Container {
		c := corev1.Container{
			Name:    name,
			Image:   image,
			Command: []string{"powershell.exe", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", `C:\hpc\` + name + ".ps1"},
			Env:     append([]corev1.EnvVar(nil), env...),
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
			VolumeMounts:             append([]corev1.VolumeMount(nil), mounts...),
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullIfNotPresent,
		}
		if port > 0 {
			c.Ports = []corev1.ContainerPort{{Name: portName, ContainerPort: port, HostPort: port, Protocol: corev1.ProtocolTCP}}
			c.LivenessProbe = &corev1.Probe{
				ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTP}},
				InitialDelaySeconds: 10, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
			}
			c.ReadinessProbe = &corev1.Probe{
				ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTP}},
				TimeoutSeconds: 1, PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 3,
			}
		}
		return c
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "kube-proxy-windows-",
			Namespace:    namespace,
			Labels: map[string]string{
				"k8s-app":                   "kube-proxy-windows",
				"app.kubernetes.io/name":    "kube-proxy",
				"app.kubernetes.io/part-of": "windows-node-agents",
				"controller-revision-hash":  "6f7d9c8b5d",
				"pod-template-generation":   "3",
			},
			Annotations: map[string]string{
				"kubectl.kubernetes.io/default-container":        "kube-proxy",
				"prometheus.io/scrape":                           "true",
				"prometheus.io/port":                             "10249",
				"cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
				"deprecated.daemonset.template.generation":       "3",
			},
		},
		Spec: corev1.PodSpec{
			NodeSelector:   map[string]string{"kubernetes.io/os": "windows"},
			InitContainers: []corev1.Container{container("prepare-node", "mcr.microsoft.com/windows/nanoserver:ltsc2022", 0, "")},
			Containers: []corev1.Container{
				container("kube-proxy", "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2", 10249, "metrics"),
				container("log-forwarder", "mcr.microsoft.com/oss/fluent/fluent-bit:3.2", 2020, "http"),
			},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "kube-proxy-windows"}, DefaultMode: ptr.To[int32](420)}}},
				{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: `C:\var\log`, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
				{Name: "kube-api-access-7hx2q", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](420),
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
							FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					}}}},
			},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			DNSPolicy:                     corev1.DNSClusterFirst,
			ServiceAccountName:            "kube-proxy",
			DeprecatedServiceAccount:      "kube-proxy",
			SchedulerName:                 corev1.DefaultSchedulerName,
			PriorityClassName:             "system-node-critical",
			Priority:                      ptr.To[int32](2000001000),
			EnableServiceLinks:            ptr.To(true),
			PreemptionPolicy:              ptr.To(corev1.PreemptLowerPriority),
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"akswin000002"}}},
				}}},
			}},
			Tolerations: []corev1.Toleration{
				{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists},
				{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				{Key: "node.kubernetes.io/disk-pressure", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				{Key: "node.kubernetes.io/memory-pressure", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
			},
		},
	}
}

// reviewBody is the admission.k8s.io/v1 AdmissionReview the API server sends
// for a DaemonSet controller creating pod in namespace.
func reviewBody(pod *corev1.Pod) ([]byte, error) {
	obj := pod.DeepCopy()
	obj.Name = obj.GenerateName + "x7k2p"
	// Validating webhooks see what the API server sets at creation.
	obj.UID = "0b7e4c2a-6d1f-4e3b-8a95-c4d3e2f1a0b9"
	obj.CreationTimestamp = metav1.NewTime(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC))
	obj.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable}
	obj.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "kube-proxy-windows",
		UID: "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	opts, _ := json.Marshal(&metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}})
	podGVK := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	podGVR := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:             types.UID(reviewUID),
			Kind:            podGVK,
			Resource:        podGVR,
			RequestKind:     &podGVK,
			RequestResource: &podGVR,
			Name:            obj.Name,
			Namespace:       obj.Namespace,
			Operation:       admissionv1.Create,
			UserInfo: authenticationv1.UserInfo{
				Username: "system:serviceaccount:kube-system:daemon-set-controller",
				UID:      "8d2a61f4-02b4-4c6e-9bb4-0e1d2c3b4a59",
				Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
			},
			Object:  runtime.RawExtension{Raw: raw},
			DryRun:  ptr.To(false),
			Options: runtime.RawExtension{Raw: opts},
		},
	}
	return json.Marshal(&review)
}

// checkReviewSize keeps the body realistic: about 7 KiB.
func checkReviewSize(body []byte) error {
	if n := len(body); n < 6500 || n > 8000 {
		return fmt.Errorf("the benchmark AdmissionReview is %d bytes; it should be about 7 KiB", n)
	}
	return nil
}
