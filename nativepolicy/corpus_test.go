//go:build !windows

package nativepolicy_test

import (
	"fmt"
	"math/rand/v2"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The corpus mirrors the policy package's table tests (policy/rule_*_test.go):
// the same base pod (one init, one regular and one ephemeral container,
// hostProcess and runAsUserName at pod level) with each case's change, at pod
// level and in each container list, sent in every workload kind. The
// expected outcome is not written here: the webhook's answer is, and the
// native policies must give the same.

const (
	system       = `NT AUTHORITY\SYSTEM`
	localService = `NT AUTHORITY\Local service`
	exemptUser   = "exempt-user"
	plainUser    = "plain-user"
)

// testNamespaces are the namespaces of the cases, with their labels.
var testNamespaces = map[string]map[string]string{
	"kube-system": nil,
	"default":     nil,
	"hp-system":   nil,
	"labelled":    {"hostprocess.dev/allowed": "true"},
	"tier-agents": {"tier": "agents"},
	"tier-legacy": {"tier": "system", "legacy": "yes"},
	"exempt-ns":   nil,
}

// richConfig exercises every part of the configuration: namespace rules by
// name and by selector (matchLabels and matchExpressions), narrowed users,
// local groups, images, exemptions and tolerations.
const richConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: %s
workloadMode: %s
allowedLocalGroups: [hpc-agents]
namespaceRules:
- namespaces: [kube-system]
  allowedUsers: ['NT AUTHORITY\SYSTEM']
- namespaceSelector: {matchLabels: {hostprocess.dev/allowed: "true"}}
  allowedUsers: ['NT AUTHORITY\NETWORK SERVICE']
  allowedLocalGroups: [hpc-agents]
  allowedImages: ["mcr.microsoft.com/*", "registry.example.com/windows/agent:v*"]
- namespaceSelector:
    matchExpressions:
    - {key: tier, operator: In, values: [system, agents]}
    - {key: legacy, operator: DoesNotExist}
- namespaces: [hp-system]
  namespaceSelector: {matchLabels: {never: "x"}}
exemptions: {namespaces: [exempt-ns], usernames: [exempt-user]}
defaults:
  tolerations:
  - {key: os, operator: Equal, value: windows, effect: NoSchedule}
  - {key: node.example.com/hpc, operator: Exists}
audit: {enabled: false}
`

// defaultConfig is the built-in configuration (no namespace rules).
const defaultConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: %s
workloadMode: %s
audit: {enabled: false}
`

// probe is one object to send.
type probe struct {
	name string
	ns   string
	user string
	kind string
	pod  *corev1.Pod
	// update, when set, makes the probe an UPDATE: the object is created for
	// real by the exempt user, then updated (dry run) with a "label" on the
	// pod (template) or a new "image" in its first container.
	update string
}

func validPod() *corev1.Pod {
	return &corev1.Pod{
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

// places are where a placed case puts its setting.
var places = []string{"pod", "init", "app", "debug"}

func containerNamed(p *corev1.Pod, name string) *corev1.Container {
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == name {
			return &p.Spec.InitContainers[i]
		}
	}
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	for i := range p.Spec.EphemeralContainers {
		if p.Spec.EphemeralContainers[i].Name == name {
			return (*corev1.Container)(&p.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		}
	}
	panic("no container " + name)
}

func winOf(p *corev1.Pod, place string) *corev1.WindowsSecurityContextOptions {
	if place == "pod" {
		if p.Spec.SecurityContext == nil {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		if p.Spec.SecurityContext.WindowsOptions == nil {
			p.Spec.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
		}
		return p.Spec.SecurityContext.WindowsOptions
	}
	sc := scOf(p, place)
	if sc.WindowsOptions == nil {
		sc.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
	}
	return sc.WindowsOptions
}

func scOf(p *corev1.Pod, name string) *corev1.SecurityContext {
	c := containerNamed(p, name)
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	return c.SecurityContext
}

func setNonRoot(p *corev1.Pod, place string, v bool) {
	if place == "pod" {
		winOf(p, "pod")
		p.Spec.SecurityContext.RunAsNonRoot = &v
		return
	}
	scOf(p, place).RunAsNonRoot = &v
}

func osTerm(op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/os", Operator: op, Values: values}}}
}

func requireTerms(terms ...corev1.NodeSelectorTerm) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

type corpusCase struct {
	name string
	pod  func(p *corev1.Pod)
}

// corpus returns the table tests' cases, placed ones expanded per place.
func corpus() []corpusCase {
	var cs []corpusCase
	placed := func(name string, f func(p *corev1.Pod, place string)) {
		for _, pl := range places {
			cs = append(cs, corpusCase{name + " (" + pl + ")", func(p *corev1.Pod) { f(p, pl) }})
		}
	}
	add := func(name string, f func(p *corev1.Pod)) { cs = append(cs, corpusCase{name, f}) }

	add("the valid pod", func(*corev1.Pod) {})
	// hostNetwork
	add("a HostProcess pod without hostNetwork", func(p *corev1.Pod) { p.Spec.HostNetwork = false })
	// hostProcessMixed
	placed("hostProcess false", func(p *corev1.Pod, pl string) { winOf(p, pl).HostProcess = ptr.To(false) })
	placed("hostProcess true set again", func(p *corev1.Pod, pl string) { winOf(p, pl).HostProcess = ptr.To(true) })
	containersOnly := func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
		winOf(p, "app").HostProcess = ptr.To(true)
	}
	add("containers left unset while the pod level is unset and another container is true", containersOnly)
	add("containers inheriting a pod-level false next to a true container", func(p *corev1.Pod) {
		containersOnly(p)
		p.Spec.SecurityContext.WindowsOptions.HostProcess = ptr.To(false)
	})
	add("every container true with the pod level unset", func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
		for _, c := range []string{"init", "app", "debug"} {
			winOf(p, c).HostProcess = ptr.To(true)
		}
	})
	add("a HostProcess ephemeral container added to a normal pod", func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
		winOf(p, "debug").HostProcess = ptr.To(true)
	})
	add("a pod-level true with every container set to false", func(p *corev1.Pod) {
		for _, c := range []string{"init", "app", "debug"} {
			winOf(p, c).HostProcess = ptr.To(false)
		}
	})
	add("nothing HostProcess", func(p *corev1.Pod) { p.Spec.SecurityContext = nil; p.Spec.HostNetwork = false })
	// runAsUserName
	for _, u := range []string{system, `nt authority\system`, `NT AUTHORITY\LocalService`, `NT AUTHORITY\LOCAL SERVICE`,
		`NT AUTHORITY\NetworkService`, `NT AUTHORITY\NETWORK SERVICE`, `nt authority\network service`, `NT AUTHORITY\ANONYMOUS LOGON`,
		"Administrator", "hpc-agents", "HPC-AGENTS", "hpc\u2010agents", "NT AUTHORITY\\SYSTEM ", "NT AUTHORITY\\\u017fYSTEM",
		"NT AUTHORITY\\\u0405YSTEM", "NT AUTHORITY\\\uff33YSTEM", "NT  AUTHORITY\\SYSTEM", `NT AUTHORITY\LocalSystem`} {
		placed(fmt.Sprintf("runAsUserName %q", u), func(p *corev1.Pod, pl string) { winOf(p, pl).RunAsUserName = ptr.To(u) })
	}
	add("runAsUserName unset everywhere", func(p *corev1.Pod) { p.Spec.SecurityContext.WindowsOptions.RunAsUserName = nil })
	add("runAsUserName unset at pod level, set on two containers only", func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = nil
		winOf(p, "init").RunAsUserName = ptr.To(system)
		winOf(p, "app").RunAsUserName = ptr.To(system)
	})
	add("a disallowed pod-level user overridden by every container but one", func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
		winOf(p, "init").RunAsUserName = ptr.To(system)
		winOf(p, "app").RunAsUserName = ptr.To(system)
	})
	add("a disallowed pod-level user overridden by every container", func(p *corev1.Pod) {
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
		for _, c := range []string{"init", "app", "debug"} {
			winOf(p, c).RunAsUserName = ptr.To(system)
		}
	})
	// runAsNonRoot
	placed("runAsNonRoot true", func(p *corev1.Pod, pl string) { setNonRoot(p, pl, true) })
	placed("runAsNonRoot false", func(p *corev1.Pod, pl string) { setNonRoot(p, pl, false) })
	add("runAsNonRoot true at pod level and in one container", func(p *corev1.Pod) { setNonRoot(p, "pod", true); setNonRoot(p, "app", true) })
	// windowsOS
	add("spec.os.name linux", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Linux} })
	add("spec.os.name windows", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} })
	for _, v := range []string{"linux", "Windows", "windows"} {
		add("a nodeSelector for "+v, func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": v, "agentpool": "win"}
		})
	}
	add("an empty nodeSelector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{} })
	add("a nodeSelector on another key", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"agentpool": "win"} })
	add("a required term In linux", requireTerms(osTerm(corev1.NodeSelectorOpIn, "linux")))
	add("a required term In linux or windows", requireTerms(osTerm(corev1.NodeSelectorOpIn, "linux", "windows")))
	add("a required term NotIn windows", requireTerms(osTerm(corev1.NodeSelectorOpNotIn, "windows")))
	add("a required term NotIn linux", requireTerms(osTerm(corev1.NodeSelectorOpNotIn, "linux")))
	add("a required term DoesNotExist", requireTerms(osTerm(corev1.NodeSelectorOpDoesNotExist)))
	add("a required term Exists", requireTerms(osTerm(corev1.NodeSelectorOpExists)))
	add("a required term Gt on the os label", requireTerms(osTerm(corev1.NodeSelectorOpGt, "1")))
	add("a second term that only matches linux", requireTerms(osTerm(corev1.NodeSelectorOpIn, "windows"), osTerm(corev1.NodeSelectorOpIn, "linux")))
	add("a term on another key", requireTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "agentpool", Operator: corev1.NodeSelectorOpIn, Values: []string{"linux"}}}}))
	add("every way of targeting linux at once", func(p *corev1.Pod) {
		requireTerms(osTerm(corev1.NodeSelectorOpIn, "linux"))(p)
		p.Spec.OS = &corev1.PodOS{Name: corev1.Linux}
		p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	})
	// image
	for _, img := range []string{"mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2", "registry.example.com/windows/agent:v1.2",
		"docker.io/library/nginx:latest", "mcr.microsoft.com.evil.io/agent", "nanoserver", "registry.example.com/windows/agent:latest"} {
		for _, c := range []string{"init", "app", "debug"} {
			add("image "+img+" in "+c, func(p *corev1.Pod) { containerNamed(p, c).Image = img })
		}
	}
	// inheritUser
	for _, v := range []string{"true", "1", "t", "T", "TRUE", "True", "false", "yes", "tRUE", ""} {
		add(fmt.Sprintf("inherit-user annotation %q", v), func(p *corev1.Pod) {
			p.Annotations = map[string]string{"microsoft.com/hostprocess-inherit-user": v}
		})
	}
	add("inherit-user with a disallowed container user", func(p *corev1.Pod) {
		p.Annotations = map[string]string{"microsoft.com/hostprocess-inherit-user": "true"}
		winOf(p, "app").RunAsUserName = ptr.To("Administrator")
	})
	add("the rootfs-location annotation", func(p *corev1.Pod) {
		p.Annotations = map[string]string{"microsoft.com/hostprocess-rootfs-location": `C:\hpc`}
	})
	add("inherit-user and rootfs-location", func(p *corev1.Pod) {
		p.Annotations = map[string]string{"microsoft.com/hostprocess-inherit-user": "true", "microsoft.com/hostprocess-rootfs-location": "C:\\hpc\u200b"}
	})
	// ignored fields
	placed("privileged true", func(p *corev1.Pod, pl string) {
		if pl != "pod" {
			scOf(p, pl).Privileged = ptr.To(true)
		}
	})
	// size: the policies' CEL must stay within the API server's cost limits
	add("a pod of 250 containers, two with their own users", func(p *corev1.Pod) {
		for i := range 250 {
			c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}
			if i == 100 || i == 201 {
				c.SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To("Administrator")}}
			}
			if i%2 == 0 {
				p.Spec.InitContainers = append(p.Spec.InitContainers, c)
			} else {
				p.Spec.Containers = append(p.Spec.Containers, c)
			}
		}
	})
	add("a pod whose violations need more than 5 KiB", func(p *corev1.Pod) {
		for i := range 40 {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("container-with-a-long-name-%d", i), Image: "docker.io/library/nginx:latest",
				SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To(`NT AUTHORITY\ANONYMOUS LOGON`)}}})
		}
	})
	// defaults
	add("tolerations already present", func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	})
	add("a toleration with the empty operator", func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}, {Key: "other", Operator: corev1.TolerationOpExists}}
	})
	return cs
}

// workloadKinds are the pod-bearing kinds besides Pod.
var workloadKinds = []string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController", "PodTemplate"}

// object returns the JSON-able object of kind for pod, its API path and
// whether ephemeral containers go through the subresource.
func object(kind, ns, name string, pod *corev1.Pod) (obj any, path string) {
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: pod.Annotations}, Spec: *pod.Spec.DeepCopy()}
	tmpl.Spec.EphemeralContainers = nil // not allowed in templates
	sel := &metav1.LabelSelector{MatchLabels: labels}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	core := "/api/v1/namespaces/" + ns + "/"
	apps := "/apis/apps/v1/namespaces/" + ns + "/"
	batch := "/apis/batch/v1/namespaces/" + ns + "/"
	tm := func(apiVersion string) metav1.TypeMeta { return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind} }
	switch kind {
	case "Pod":
		p := pod.DeepCopy()
		p.TypeMeta, p.ObjectMeta = tm("v1"), meta
		p.Annotations = pod.Annotations
		return p, core + "pods"
	case "Deployment":
		return &appsv1.Deployment{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}, apps + "deployments"
	case "ReplicaSet":
		return &appsv1.ReplicaSet{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}, apps + "replicasets"
	case "StatefulSet":
		return &appsv1.StatefulSet{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl}}, apps + "statefulsets"
	case "DaemonSet":
		return &appsv1.DaemonSet{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}, apps + "daemonsets"
	case "Job":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{TypeMeta: tm("batch/v1"), ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}, batch + "jobs"
	case "CronJob":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		return &batchv1.CronJob{TypeMeta: tm("batch/v1"), ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}, batch + "cronjobs"
	case "ReplicationController":
		return &corev1.ReplicationController{TypeMeta: tm("v1"), ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Selector: labels, Template: &tmpl}}, core + "replicationcontrollers"
	case "PodTemplate":
		return &corev1.PodTemplate{TypeMeta: tm("v1"), ObjectMeta: meta, Template: tmpl}, core + "podtemplates"
	}
	panic("unknown kind " + kind)
}

// Random pods: every field the policy reads, at pod and container level, in
// all three container lists, with look-alike and odd account names.

var randomUsers = []string{
	system, `nt authority\system`, `NT AUTHORITY\System`, localService, `NT AUTHORITY\LOCAL SERVICE`, `NT AUTHORITY\LocalService`,
	`NT AUTHORITY\NetworkService`, `NT AUTHORITY\NETWORK SERVICE`, `NT AUTHORITY\Network Service`, `NT AUTHORITY\ANONYMOUS LOGON`,
	"Administrator", `BUILTIN\Administrators`, "hpc-agents", "HPC-Agents", "hpc\u2010agents", "hpc-agent\u0455",
	"NT AUTHORITY\\\u017fYSTEM", "NT AUTHORITY\\\u0421YSTEM", "NT AUTHORITY\\\uff33\uff39\uff33\uff34\uff25\uff2d", "NT AUTHORITY\\SYSTEM ",
	" NT AUTHORITY\\SYSTEM", "NT  AUTHORITY\\SYSTEM", "NT AUTHORITY\\SYSTEM\u200b", "NT AUTHORITY\\LOCAL\u00a0SERVICE",
	"NT AUTHORITY\\\u212aSYSTEM", "nt authority\\localservice", `NT AUTHORITY\LocalSystem`, "S-1-5-18", "",
}

var randomImages = []string{
	"mcr.microsoft.com/windows/nanoserver:ltsc2022", "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2",
	"registry.example.com/windows/agent:v1.2", "registry.example.com/windows/agent:latest", "docker.io/library/nginx:latest",
	"mcr.microsoft.com.evil.io/agent", "nanoserver", "MCR.microsoft.com/windows/nanoserver",
}

var inheritValues = []string{"true", "1", "t", "T", "TRUE", "True", "false", "0", "yes", "tRUE", ""}

// randomPod returns a pod built from r. Most are HostProcess pods with
// hostNetwork, so that the policy (not the API server's validation) decides.
func randomPod(r *rand.Rand) *corev1.Pod {
	p := &corev1.Pod{}
	pick := func(items []string) string { return items[r.IntN(len(items))] }
	optBool := func(pTrue, pFalse float64) *bool {
		switch x := r.Float64(); {
		case x < pTrue:
			return ptr.To(true)
		case x < pTrue+pFalse:
			return ptr.To(false)
		}
		return nil
	}
	p.Spec.HostNetwork = r.Float64() < 0.9
	if r.Float64() < 0.9 {
		win := &corev1.WindowsSecurityContextOptions{HostProcess: optBool(0.7, 0.1)}
		if r.Float64() < 0.7 {
			win.RunAsUserName = ptr.To(pick(randomUsers))
		}
		p.Spec.SecurityContext = &corev1.PodSecurityContext{WindowsOptions: win, RunAsNonRoot: optBool(0.1, 0.2)}
	}
	n := 0
	newContainer := func() corev1.Container {
		n++
		c := corev1.Container{Name: fmt.Sprintf("c%d", n), Image: pick(randomImages)}
		if r.Float64() < 0.5 {
			sc := &corev1.SecurityContext{RunAsNonRoot: optBool(0.1, 0.1), Privileged: optBool(0.1, 0.05)}
			if r.Float64() < 0.7 {
				sc.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: optBool(0.4, 0.1)}
				if r.Float64() < 0.5 {
					sc.WindowsOptions.RunAsUserName = ptr.To(pick(randomUsers))
				}
			}
			c.SecurityContext = sc
		}
		return c
	}
	for range r.IntN(3) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, newContainer())
	}
	for range 1 + r.IntN(3) {
		p.Spec.Containers = append(p.Spec.Containers, newContainer())
	}
	for range r.IntN(3) {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(newContainer())})
	}
	if r.Float64() < 0.15 {
		p.Spec.OS = &corev1.PodOS{Name: corev1.OSName(pick([]string{"windows", "windows", "linux"}))}
	}
	if r.Float64() < 0.3 {
		p.Spec.NodeSelector = map[string]string{}
		if r.Float64() < 0.7 {
			p.Spec.NodeSelector["kubernetes.io/os"] = pick([]string{"windows", "windows", "linux", "Windows"})
		}
		if r.Float64() < 0.5 {
			p.Spec.NodeSelector["agentpool"] = "win"
		}
	}
	if r.Float64() < 0.25 {
		var terms []corev1.NodeSelectorTerm
		for range 1 + r.IntN(2) {
			var t corev1.NodeSelectorTerm
			for range 1 + r.IntN(2) {
				key := pick([]string{"kubernetes.io/os", "kubernetes.io/os", "agentpool"})
				switch op := corev1.NodeSelectorOperator(pick([]string{"In", "NotIn", "Exists", "DoesNotExist", "Gt"})); op {
				case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
					vals := []string{pick([]string{"windows", "linux"})}
					if r.Float64() < 0.3 {
						vals = append(vals, "windows")
					}
					t.MatchExpressions = append(t.MatchExpressions, corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: vals})
				case corev1.NodeSelectorOpGt:
					t.MatchExpressions = append(t.MatchExpressions, corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: []string{"1"}})
				default:
					t.MatchExpressions = append(t.MatchExpressions, corev1.NodeSelectorRequirement{Key: key, Operator: op})
				}
			}
			terms = append(terms, t)
		}
		requireTerms(terms...)(p)
	}
	if r.Float64() < 0.2 {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	}
	if r.Float64() < 0.25 {
		p.Annotations = map[string]string{"microsoft.com/hostprocess-inherit-user": pick(inheritValues)}
	}
	if r.Float64() < 0.1 {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations["microsoft.com/hostprocess-rootfs-location"] = pick([]string{`C:\hpc`, "D:\\", `C:\"quoted"`})
	}
	return p
}

// hasInvisible reports whether s has a character that the Go engine quotes
// as an escape and CEL writes as itself (see the gaps).
func hasInvisible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r == '\u200b' || r == '\u00a0'
	})
}
