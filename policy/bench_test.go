package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// daemonSetPod is a realistic HostProcess DaemonSet pod, like csi-proxy or
// kube-proxy on Windows: 3 containers, env, mounts and labels.
func daemonSetPod() *corev1.Pod {
	container := func(name, image string) corev1.Container {
		return corev1.Container{
			Name:    name,
			Image:   image,
			Command: []string{"powershell.exe", "-NoProfile", "-File", `C:\hpc\` + name + ".ps1"},
			Env: []corev1.EnvVar{
				{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "KUBEPROXY_PATH", Value: `C:\k\kube-proxy.exe`},
				{Name: "LOG_LEVEL", Value: "2"},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: `C:\hpc\config`}, {Name: "logs", MountPath: `C:\var\log`}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy-windows-x7k2p", Namespace: "kube-system",
			Labels: map[string]string{"k8s-app": "kube-proxy", "os": "windows", "pod-template-generation": "3"}},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess: ptr.To(true), RunAsUserName: ptr.To(`NT AUTHORITY\SYSTEM`)}},
			NodeSelector:   map[string]string{OSLabel: "windows"},
			InitContainers: []corev1.Container{container("prepare", "mcr.microsoft.com/windows/nanoserver:ltsc2022")},
			Containers: []corev1.Container{
				container("kube-proxy", "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2"),
				container("log-forwarder", "mcr.microsoft.com/oss/fluent/fluent-bit:3.2"),
			},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-proxy-windows"}}}},
				{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: `C:\var\log`}}},
			},
		},
	}
}

// BenchmarkEvaluate measures one admitted HostProcess DaemonSet pod.
// Target: at most 2 µs/op and 10 allocs/op (docs/performance.md).
func BenchmarkEvaluate(b *testing.B) {
	p := mustPolicy(b, nil)
	pod := daemonSetPod()
	in := Input{Namespace: Namespace{Name: pod.Namespace}, Spec: &pod.Spec}
	b.ReportAllocs()
	for b.Loop() {
		if res := p.Evaluate(in); len(res.Violations) != 0 {
			b.Fatal(res.Violations)
		}
	}
}

// BenchmarkEvaluateAndDefault adds the mutating webhook's defaulting.
func BenchmarkEvaluateAndDefault(b *testing.B) {
	p := mustPolicy(b, nil)
	pod := daemonSetPod()
	in := Input{Namespace: Namespace{Name: pod.Namespace}, Spec: &pod.Spec}
	b.ReportAllocs()
	for b.Loop() {
		p.Default(in)
		p.Evaluate(in)
	}
}

// TestEvaluateAllocationBudget holds BenchmarkEvaluate's allocation budget.
func TestEvaluateAllocationBudget(t *testing.T) {
	p := mustPolicy(t, nil)
	pod := daemonSetPod()
	in := Input{Namespace: Namespace{Name: pod.Namespace}, Spec: &pod.Spec}
	if allocs := testing.AllocsPerRun(100, func() { p.Evaluate(in) }); allocs > 10 {
		t.Fatalf("Evaluate allocates %.0f times per admitted pod, budget 10", allocs)
	}
}
