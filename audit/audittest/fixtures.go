// Package audittest creates the cluster objects that the audit's tests, the audit command's
// tests and the scale benchmark evaluate: HostProcess pods and workloads, owned pods, exempt
// and unmatched namespaces, through a real API server.
package audittest

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// Users and images of the fixtures.
const (
	System          = `NT AUTHORITY\SYSTEM`
	LocalService    = `NT AUTHORITY\Local service`
	NetworkService  = `NT AUTHORITY\NetworkService`
	Anonymous       = `NT AUTHORITY\ANONYMOUS LOGON`
	CSIProxyImage   = "mcr.microsoft.com/oss/kubernetes-csi/csi-proxy:v1.1.3"
	AgentImage      = "docker.io/example/agent:1.0"
	PowerShellImage = "mcr.microsoft.com/powershell:lts-nanoserver-ltsc2022"
	NginxImage      = "nginx:1.27"
)

// ConfigYAML is the configuration the fixtures are evaluated under: pods in warn mode (so
// that violating pods exist), namespace rules for hp-system (images from mcr.microsoft.com)
// and for namespaces labelled hostprocess.dev/allowed=true, and hp-exempt exempt.
const ConfigYAML = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: warn
workloadMode: warn
namespaceRules:
- namespaces: [hp-system]
  allowedImages: ["mcr.microsoft.com/*"]
- namespaceSelector:
    matchLabels:
      hostprocess.dev/allowed: "true"
exemptions:
  namespaces: [hp-exempt]
`

// Config returns ConfigYAML decoded.
func Config() *config.AdmissionConfiguration {
	cfg, err := config.Decode([]byte(ConfigYAML))
	if err != nil {
		panic(err)
	}
	return cfg
}

// Namespaces of the fixtures.
var Namespaces = []string{"hp-system", "hp-apps", "hp-exempt", "hp-other", "plain"}

// Fixtures records the UIDs of the created objects, by "namespace/Kind/name".
type Fixtures struct {
	UIDs map[string]types.UID
}

// HostProcessSpec returns a HostProcess pod spec with one container per image, running as
// user (set at pod level), on node (empty: unscheduled).
func HostProcessSpec(user, node string, images ...string) corev1.PodSpec {
	spec := corev1.PodSpec{
		HostNetwork: true,
		NodeName:    node,
		SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
			HostProcess: ptr.To(true), RunAsUserName: ptr.To(user),
		}},
	}
	for i, img := range images {
		spec.Containers = append(spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return spec
}

func plainSpec(node string) corev1.PodSpec {
	return corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "web", Image: NginxImage}}}
}

func template(app string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: spec}
}

func selector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

func owned(owner client.Object, kind, apiVersion string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}
}

// Create creates the namespaces and objects of the fixtures. Owners are created before what
// they own, so that owner references carry real UIDs.
func Create(ctx context.Context, c client.Client) (*Fixtures, error) {
	f := &Fixtures{UIDs: map[string]types.UID{}}
	create := func(obj client.Object, kind string) error {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
		}
		f.UIDs[obj.GetNamespace()+"/"+kind+"/"+obj.GetName()] = obj.GetUID()
		return nil
	}
	nsLabels := map[string]map[string]string{
		"hp-system": {"pod-security.kubernetes.io/enforce": "privileged"},
		"hp-apps":   {"hostprocess.dev/allowed": "true"},
	}
	for _, name := range Namespaces {
		if err := create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: nsLabels[name]}}, "Namespace"); err != nil {
			return nil, err
		}
	}

	// hp-system: a compliant DaemonSet with two pods, and a Deployment whose ReplicaSet and pod
	// run an image from outside mcr.microsoft.com as ANONYMOUS LOGON.
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: "csi-proxy"},
		Spec: appsv1.DaemonSetSpec{Selector: selector("csi-proxy"), Template: template("csi-proxy", HostProcessSpec(System, "", CSIProxyImage))}}
	// As csi-proxy's manifests do: without it, the template gets a placement warning.
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows"}
	if err := create(ds, "DaemonSet"); err != nil {
		return nil, err
	}
	for i, node := range []string{"win-node-1", "win-node-2"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: fmt.Sprintf("csi-proxy-%c", 'a'+i),
			OwnerReferences: owned(ds, "DaemonSet", "apps/v1")}, Spec: HostProcessSpec(System, node, CSIProxyImage)}
		if err := create(pod, "Pod"); err != nil {
			return nil, err
		}
	}
	agentSpec := HostProcessSpec(System, "", AgentImage)
	agentSpec.Containers[0].SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To(Anonymous)}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: "agent"},
		Spec: appsv1.DeploymentSpec{Selector: selector("agent"), Template: template("agent", agentSpec)}}
	if err := create(dep, "Deployment"); err != nil {
		return nil, err
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: "agent-7f9c", OwnerReferences: owned(dep, "Deployment", "apps/v1")},
		Spec: appsv1.ReplicaSetSpec{Selector: selector("agent"), Template: template("agent", agentSpec)}}
	if err := create(rs, "ReplicaSet"); err != nil {
		return nil, err
	}
	agentPod := agentSpec.DeepCopy()
	agentPod.NodeName = "win-node-1"
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: "agent-7f9c-x1",
		OwnerReferences: owned(rs, "ReplicaSet", "apps/v1")}, Spec: *agentPod}, "Pod"); err != nil {
		return nil, err
	}

	// hp-apps: a standalone debug pod that sets runAsNonRoot and targets Linux, a compliant
	// CronJob with a Job and its pod, a pod whose ReplicaSet is gone, and a web Deployment that
	// is no HostProcess workload.
	debug := HostProcessSpec(NetworkService, "win-node-2", PowerShellImage)
	debug.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	debug.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "debug"}, Spec: debug}, "Pod"); err != nil {
		return nil, err
	}
	cleanup := HostProcessSpec(LocalService, "", PowerShellImage)
	cleanup.RestartPolicy = corev1.RestartPolicyOnFailure
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "log-cleanup"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("log-cleanup", cleanup)}}}}
	if err := create(cj, "CronJob"); err != nil {
		return nil, err
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "log-cleanup-29000000", OwnerReferences: owned(cj, "CronJob", "batch/v1")},
		Spec: batchv1.JobSpec{Template: template("log-cleanup", cleanup)}}
	if err := create(job, "Job"); err != nil {
		return nil, err
	}
	jobPod := cleanup.DeepCopy()
	jobPod.NodeName = "win-node-2"
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "log-cleanup-29000000-q7x2p",
		OwnerReferences: owned(job, "Job", "batch/v1")}, Spec: *jobPod}, "Pod"); err != nil {
		return nil, err
	}
	gone := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "gone-6d5f", UID: "00000000-0000-0000-0000-000000000001"}}
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "gone-6d5f-k2m4n",
		OwnerReferences: owned(gone, "ReplicaSet", "apps/v1")}, Spec: HostProcessSpec(System, "win-node-1", PowerShellImage)}, "Pod"); err != nil {
		return nil, err
	}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: selector("web"), Template: template("web", plainSpec(""))}}
	if err := create(web, "Deployment"); err != nil {
		return nil, err
	}
	webRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "web-5c6b", OwnerReferences: owned(web, "Deployment", "apps/v1")},
		Spec: appsv1.ReplicaSetSpec{Selector: selector("web"), Template: template("web", plainSpec(""))}}
	if err := create(webRS, "ReplicaSet"); err != nil {
		return nil, err
	}
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-apps", Name: "web-5c6b-abcde",
		OwnerReferences: owned(webRS, "ReplicaSet", "apps/v1")}, Spec: plainSpec("linux-node-1")}, "Pod"); err != nil {
		return nil, err
	}

	// hp-exempt: a pod that would break runAsUserName, in an exempt namespace.
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-exempt", Name: "tool"},
		Spec: HostProcessSpec(Anonymous, "win-node-3", PowerShellImage)}, "Pod"); err != nil {
		return nil, err
	}

	// hp-other: no namespace rule matches; a StatefulSet and a static pod (owned by its node).
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-other", Name: "stray"},
		Spec: appsv1.StatefulSetSpec{Selector: selector("stray"), Template: template("stray", HostProcessSpec(System, "", PowerShellImage))}}
	if err := create(sts, "StatefulSet"); err != nil {
		return nil, err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "win-node-3", UID: "00000000-0000-0000-0000-000000000003"}}
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-other", Name: "node-agent-win-node-3",
		OwnerReferences: owned(node, "Node", "v1")}, Spec: HostProcessSpec(System, "win-node-3", PowerShellImage)}, "Pod"); err != nil {
		return nil, err
	}

	// plain: nothing HostProcess.
	if err := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "nginx"}, Spec: plainSpec("linux-node-1")}, "Pod"); err != nil {
		return nil, err
	}

	// hp-apps enforces baseline only now: Pod Security Admission would deny its HostProcess pods
	// if they were created today, which the inventory shows.
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: "hp-apps"}, ns); err != nil {
		return nil, err
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	if err := c.Update(ctx, ns); err != nil {
		return nil, fmt.Errorf("labelling namespace hp-apps: %w", err)
	}
	return f, nil
}
