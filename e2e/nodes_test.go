//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
)

const (
	nodesRelease   = "hostprocess-admission-nodes"
	nodesNamespace = "hostprocess-nodes"
	// appsNamespace holds the specs' workloads; the release namespace is
	// never sent to the webhooks.
	appsNamespace = "nodes-apps"
	// agentsGroup is the local group the configuration allows and the
	// executor prepares.
	agentsGroup = "hostprocess-agents"
	// servicesNamespace allows only NT AUTHORITY\Local service.
	servicesNamespace = "nodes-services"
	// auditorsGroup is the local group that an upgrade adds to the
	// configuration.
	auditorsGroup = "hostprocess-auditors"
	// readyLabel is the node label the executor sets (executor.LocalGroupsReadyLabel).
	readyLabel = "hostprocess.dev/local-groups-ready"
	// nodesTimeout bounds how long the controllers, the scheduler and kwok
	// take to turn an object into Running pods.
	nodesTimeout = time.Minute
)

// nodesConfig is the release's AdmissionConfiguration: both modes enforce,
// the Windows taint's toleration as a default, and local groups that only
// nodes labelled by the executor take.
const nodesConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: enforce
workloadMode: enforce
allowedUsers:
- NT AUTHORITY\SYSTEM
- NT AUTHORITY\Local service
- NT AUTHORITY\NetworkService
allowedLocalGroups:
- ` + agentsGroup + `
namespaceRules:
- namespaces: [` + servicesNamespace + `]
  allowedUsers: [NT AUTHORITY\Local service]
- namespaceSelector: {}
defaults:
  nodeSelector: true
  tolerations:
  - key: os
    operator: Equal
    value: windows
    effect: NoSchedule
  localGroupNodeAffinity: true
audit:
  enabled: true
  interval: 10s
`

// windowsTolerationJSON is the executor DaemonSet's toleration of the
// Windows taint, for helm --set-json: the release namespace is not sent to
// the webhook, so its default toleration does not reach the executor.
const windowsTolerationJSON = `executor.tolerations=[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]`

// daemonSet is a DaemonSet without a nodeSelector that tolerates the Windows
// taint, HostProcess (as NT AUTHORITY\SYSTEM) or a plain Linux one.
func daemonSet(name string, hostProcess bool) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{
		// The DaemonSet controller decides per node from the template
		// (taints included) before any pod exists, so the webhook's
		// default toleration, added to pods, cannot get it onto the
		// tainted Windows nodes: the template carries its own.
		Tolerations: []corev1.Toleration{harness.WindowsToleration},
		Containers:  []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}},
	}
	if hostProcess {
		spec.HostNetwork = true
		spec.SecurityContext = &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
			HostProcess:   ptrTo(true),
			RunAsUserName: ptrTo(`NT AUTHORITY\SYSTEM`),
		}}
		spec.Containers[0].Image = hostProcessImage
		spec.Containers[0].Command = []string{"cmd.exe", "/c", "ping", "-t", "localhost"}
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appsNamespace},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// deployment is a HostProcess Deployment without a nodeSelector or
// tolerations, running as user.
func deployment(name, user string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appsNamespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork: true,
					SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
						HostProcess:   ptrTo(true),
						RunAsUserName: ptrTo(user),
					}},
					Containers: []corev1.Container{{Name: "agent", Image: hostProcessImage, Command: []string{"cmd.exe", "/c", "ping", "-t", "localhost"}}},
				},
			},
		},
	}
}

// localGroupPod is a HostProcess pod running as the allowed local group
// agentsGroup, with no nodeSelector, tolerations or affinity of its own.
func localGroupPod(name string) *corev1.Pod { return localGroupPodAs(name, agentsGroup) }

// localGroupPodAs is localGroupPod running as group.
func localGroupPodAs(name, group string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appsNamespace},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess:   ptrTo(true),
				RunAsUserName: ptrTo(group),
			}},
			Containers: []corev1.Container{{Name: "agent", Image: hostProcessImage, Command: []string{"cmd.exe", "/c", "whoami", "/groups"}}},
		},
	}
}

func manifest(objs ...any) string {
	GinkgoHelper()
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		Expect(err).NotTo(HaveOccurred())
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n")
}

// podRunning reports whether kwok has made the pod Running and Ready.
func podRunning(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// unschedulable returns the message of the pod's PodScheduled=False
// condition with reason Unschedulable, or "" when it has none.
func unschedulable(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message
		}
	}
	return ""
}

var _ = Describe("scheduling onto simulated Windows and Linux nodes", Ordered, func() {
	var (
		nodes    *harness.Nodes
		release  *harness.Release
		webhook  *harness.Webhook
		executor *harness.Executor
		// configFile is nodesConfig on disk, for the offline check command.
		configFile string
	)

	pods := func(ctx SpecContext, namespace string, selector map[string]string) []corev1.Pod {
		GinkgoHelper()
		list, err := cluster.Clientset.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.FormatLabels(selector)})
		Expect(err).NotTo(HaveOccurred())
		return list.Items
	}
	// nodeNames returns the sorted nodes the pods are bound to ("" for
	// pods not bound) and whether every bound pod is Running and Ready.
	nodeNames := func(ps []corev1.Pod) ([]string, bool) {
		var names []string
		running := true
		for _, p := range ps {
			names = append(names, p.Spec.NodeName)
			if p.Spec.NodeName != "" && !podRunning(&p) {
				running = false
			}
		}
		slices.Sort(names)
		return names, running
	}
	// expectWindowsDefaults checks what the mutating webhook added to a pod
	// that the controllers created.
	expectWindowsDefaults := func(g Gomega, p corev1.Pod) {
		g.Expect(p.Spec.NodeSelector).To(Equal(map[string]string{corev1.LabelOSStable: "windows"}), p.Name)
		g.Expect(p.Spec.Tolerations).To(ContainElement(harness.WindowsToleration), p.Name)
	}

	BeforeAll(func(ctx SpecContext) {
		start := time.Now()
		By("starting kube-controller-manager, kube-scheduler and kwok; registering win-node-1, win-node-2 (os=windows:NoSchedule) and linux-node-1")
		var err error
		nodes, err = cluster.StartNodes(ctx, 2, 1)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			By("deleting the nodes and stopping kwok, the scheduler and the controller manager")
			Expect(nodes.Stop(ctx)).To(Succeed())
		})
		AddReportEntry("nodes started", time.Since(start).Round(time.Millisecond).String())

		By("helm install " + nodesRelease + " -n " + nodesNamespace + " with the Windows toleration as a default, localGroupNodeAffinity and the executor")
		configFile = filepath.Join(cluster.Dir, "nodes-config.yaml")
		Expect(os.WriteFile(configFile, []byte(nodesConfig), 0o600)).To(Succeed())
		values, err := harness.ConfigValues(configFile, cluster.Dir)
		Expect(err).NotTo(HaveOccurred())
		var res harness.Result
		release, res = cluster.HelmInstall(ctx, chart, nodesRelease, nodesNamespace, "-f", values,
			"--set", "replicaCount=1", "--set", "executor.enabled=true", "--set-json", windowsTolerationJSON)
		Expect(res.Failed()).To(BeFalse(), res.String())
		DeferCleanup(func(ctx SpecContext) {
			By("helm uninstall " + nodesRelease + ", stopping its webhook, removing the namespace")
			res := release.Uninstall(ctx)
			Expect(res.Failed()).To(BeFalse(), res.String())
			if webhook != nil {
				webhook.Stop(30 * time.Second)
			}
			Expect(release.DeleteEndpointSlice(ctx)).To(Succeed())
			Expect(cluster.Clientset.CoreV1().Namespaces().Delete(ctx, nodesNamespace, metav1.DeleteOptions{})).To(Succeed())
		})
		webhook, err = release.PrepareWebhook(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(webhook.Start(ctx)).To(Succeed())
		Expect(webhook.WaitReady(ctx)).To(Succeed())
		Expect(release.WaitCABundle(ctx, nodesRelease+"-cert")).To(Succeed())

		By("creating namespace " + appsNamespace)
		_, err = cluster.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appsNamespace}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			if executor != nil {
				executor.Stop(30 * time.Second)
			}
			By("deleting namespace " + appsNamespace + ": the namespace controller deletes its objects, kwok its pods")
			Expect(cluster.Clientset.CoreV1().Namespaces().Delete(ctx, appsNamespace, metav1.DeleteOptions{})).To(Succeed())
			Eventually(func() bool {
				_, err := cluster.Clientset.CoreV1().Namespaces().Get(ctx, appsNamespace, metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(BeTrue())
		})
	})

	AfterEach(func() {
		if !CurrentSpecReport().Failed() {
			return
		}
		if webhook != nil {
			AddReportEntry("webhook log", webhook.Logs())
		}
		if executor != nil {
			AddReportEntry("executor log", executor.Logs())
		}
		if nodes != nil {
			for name, log := range nodes.Logs() {
				AddReportEntry(name+" log", log)
			}
		}
	})

	It("runs the chart's executor DaemonSet on the Windows nodes only", func(ctx SpecContext) {
		ds, err := release.ExecutorDaemonSet()
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got, running := nodeNames(pods(ctx, nodesNamespace, ds.Spec.Selector.MatchLabels))
			g.Expect(got).To(Equal(nodes.Windows))
			g.Expect(running).To(BeTrue())
			live, err := cluster.Clientset.AppsV1().DaemonSets(nodesNamespace).Get(ctx, ds.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(live.Status.DesiredNumberScheduled).To(BeNumerically("==", len(nodes.Windows)))
			g.Expect(live.Status.NumberReady).To(BeNumerically("==", len(nodes.Windows)))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
	})

	It("places a HostProcess DaemonSet without a nodeSelector on every Windows node and none on Linux; a plain one on all nodes", func(ctx SpecContext) {
		hp, plain := daemonSet("hostprocess-daemon", true), daemonSet("plain-daemon", false)
		By("kubectl apply -f - with DaemonSets " + hp.Name + " (HostProcess) and " + plain.Name + " (plain); neither has a nodeSelector")
		res := cluster.KubectlStdin(ctx, manifest(hp, plain), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("daemonset.apps/hostprocess-daemon created\ndaemonset.apps/plain-daemon created\n"))
		By("the admission answer already says what the pods below show, and what to add")
		Expect(res.Warnings()).To(Equal([]string{"pod template: spec.template.spec does not constrain kubernetes.io/os to windows: " +
			"the DaemonSet controller places pods from the template and will create a pod on every Linux node too, where it can never start; " +
			"add kubernetes.io/os: windows to spec.template.spec.nodeSelector"}))

		By("waiting for the DaemonSet controller's pods: Running on the Windows nodes; the one made for linux-node-1 unschedulable")
		Eventually(func(g Gomega) {
			ps := pods(ctx, appsNamespace, hp.Spec.Selector.MatchLabels)
			got, running := nodeNames(ps)
			// "" is the pod the controller made for the Linux node: the
			// webhook gave it the Windows nodeSelector, so no node fits.
			g.Expect(got).To(Equal(append([]string{""}, nodes.Windows...)))
			g.Expect(running).To(BeTrue())
			for _, p := range ps {
				expectWindowsDefaults(g, p)
				if p.Spec.NodeName == "" {
					g.Expect(p.Status.Phase).To(Equal(corev1.PodPending))
					g.Expect(unschedulable(&p)).To(ContainSubstring("node(s) didn't match Pod's node affinity/selector"))
				}
			}
			live, err := cluster.Clientset.AppsV1().DaemonSets(appsNamespace).Get(ctx, hp.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect([]int32{live.Status.DesiredNumberScheduled, live.Status.CurrentNumberScheduled, live.Status.NumberReady}).To(Equal([]int32{3, 3, 2}))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())

		By("checking the plain DaemonSet: Running on all three nodes, untouched by the webhook")
		Eventually(func(g Gomega) {
			ps := pods(ctx, appsNamespace, plain.Spec.Selector.MatchLabels)
			got, running := nodeNames(ps)
			g.Expect(got).To(Equal([]string{"linux-node-1", "win-node-1", "win-node-2"}))
			g.Expect(running).To(BeTrue())
			for _, p := range ps {
				g.Expect(p.Spec.NodeSelector).To(BeEmpty(), p.Name)
			}
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
	})

	It("rejects a violating HostProcess Deployment under workloadMode enforce; a valid one gets its ReplicaSet and pods on Windows nodes only", func(ctx SpecContext) {
		bad := deployment("hostprocess-bad", `NT AUTHORITY\ANONYMOUS LOGON`, 2)
		By("asking the offline check command what is wrong with " + bad.Name)
		input := filepath.Join(cluster.Dir, "nodes-bad-deployment.yaml")
		Expect(os.WriteFile(input, []byte(manifest(bad)), 0o600)).To(Succeed())
		check := cluster.Run(ctx, "", harness.Binary, "check", "--config", configFile, "-o", "json", "-f", input)
		var out struct {
			Results []struct {
				Violations []struct {
					Message string `json:"message"`
				} `json:"violations"`
			} `json:"results"`
		}
		Expect(json.Unmarshal([]byte(check.Stdout), &out)).To(Succeed(), check.String())
		Expect(out.Results).To(HaveLen(1))
		var msgs []string
		for _, v := range out.Results[0].Violations {
			msgs = append(msgs, v.Message)
		}
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0]).To(ContainSubstring(`"NT AUTHORITY\ANONYMOUS LOGON" is not allowed`))

		By("kubectl apply -f - with Deployment " + bad.Name + ": denied")
		res := cluster.KubectlStdin(ctx, manifest(bad), "apply", "-f", "-")
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(Equal("Error from server (Forbidden): error when creating \"STDIN\": " +
			denial(workloadsWebhook, "deployments.apps", bad.Name, msgs...)))
		_, err := cluster.Clientset.AppsV1().Deployments(appsNamespace).Get(ctx, bad.Name, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "Deployment %s: %v", bad.Name, err)

		good := deployment("hostprocess-agent", `NT AUTHORITY\SYSTEM`, 3)
		By("kubectl apply -f - with Deployment " + good.Name + " (3 replicas, NT AUTHORITY\\SYSTEM): created")
		res = cluster.KubectlStdin(ctx, manifest(good), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("deployment.apps/hostprocess-agent created\n"))

		By("waiting for the ReplicaSet and its 3 pods, defaulted by the webhook, Running on Windows nodes")
		Eventually(func(g Gomega) {
			rss, err := cluster.Clientset.AppsV1().ReplicaSets(appsNamespace).List(ctx, metav1.ListOptions{LabelSelector: labels.FormatLabels(good.Spec.Selector.MatchLabels)})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(rss.Items).To(HaveLen(1))
			rs := rss.Items[0]
			g.Expect(metav1.GetControllerOf(&rs)).NotTo(BeNil())
			g.Expect(metav1.GetControllerOf(&rs).Name).To(Equal(good.Name))
			ps := pods(ctx, appsNamespace, good.Spec.Selector.MatchLabels)
			g.Expect(ps).To(HaveLen(3))
			for _, p := range ps {
				g.Expect(metav1.GetControllerOf(&p).Name).To(Equal(rs.Name))
				g.Expect(nodes.IsWindows(p.Spec.NodeName)).To(BeTrue(), "pod %s is on node %q", p.Name, p.Spec.NodeName)
				g.Expect(podRunning(&p)).To(BeTrue(), p.Name)
				expectWindowsDefaults(g, p)
			}
			live, err := cluster.Clientset.AppsV1().Deployments(appsNamespace).Get(ctx, good.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(live.Status.ReadyReplicas).To(BeNumerically("==", 3))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
	})

	It("refuses kubectl annotate that would switch a gated pod to SYSTEM; removing the gate runs it with its admitted account", func(ctx SpecContext) {
		By("creating namespace " + servicesNamespace + ", where only NT AUTHORITY\\Local service is allowed")
		_, err := cluster.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: servicesNamespace}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(cluster.Clientset.CoreV1().Namespaces().Delete(ctx, servicesNamespace, metav1.DeleteOptions{})).To(Succeed())
		})
		const name = "gated-agent"
		p := localGroupPod(name)
		p.Namespace = servicesNamespace
		p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptrTo(`NT AUTHORITY\Local service`)
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
		By("kubectl apply -f - with pod " + name + ", held by a scheduling gate")
		res := cluster.KubectlStdin(ctx, manifest(p), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/" + name + " created\n"))

		By("kubectl annotate pod " + name + " microsoft.com/hostprocess-inherit-user=true: refused by the webhook")
		res = cluster.Kubectl(ctx, "annotate", "-n", servicesNamespace, "pod", name, "microsoft.com/hostprocess-inherit-user=true")
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(Equal("Error from server (Forbidden): " + denial(validateWebhook, "pods", name,
			`pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service, `+agentsGroup+`)`)))

		By("kubectl label pod " + name + " team=agents: admitted")
		res = cluster.Kubectl(ctx, "label", "-n", servicesNamespace, "pod", name, "team=agents")
		Expect(res.Failed()).To(BeFalse(), res.String())

		By("kubectl patch pod " + name + " removing the scheduling gate: admitted")
		res = cluster.Kubectl(ctx, "patch", "-n", servicesNamespace, "pod", name, "--type=json", "-p", `[{"op":"remove","path":"/spec/schedulingGates"}]`)
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/" + name + " patched\n"))

		By("waiting for " + name + " to run on a Windows node as NT AUTHORITY\\Local service, without the annotation")
		Eventually(func(g Gomega) {
			live, err := cluster.Clientset.CoreV1().Pods(servicesNamespace).Get(ctx, name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(nodes.IsWindows(live.Spec.NodeName)).To(BeTrue(), "node %q", live.Spec.NodeName)
			g.Expect(podRunning(live)).To(BeTrue())
			g.Expect(live.Annotations).NotTo(HaveKey("microsoft.com/hostprocess-inherit-user"))
			g.Expect(*live.Spec.SecurityContext.WindowsOptions.RunAsUserName).To(Equal(`NT AUTHORITY\Local service`))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
	})

	It("keeps a pod running as an allowed local group Pending until the executor has prepared the group on a node, then schedules it there, also after the list of groups grows", func(ctx SpecContext) {
		node := nodes.Windows[0]
		agentsValue := config.LocalGroupsReadyValue([]string{agentsGroup})
		bothValue := config.LocalGroupsReadyValue([]string{agentsGroup, auditorsGroup})
		nodeLabels := func(g Gomega, name string) map[string]string {
			n, err := cluster.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			return n.Labels
		}
		getPod := func(name string) *corev1.Pod {
			GinkgoHelper()
			p, err := cluster.Clientset.CoreV1().Pods(appsNamespace).Get(ctx, name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			return p
		}
		first := localGroupPod("local-group-agent")
		By("kubectl apply -f - with pod " + first.Name + " running as local group " + agentsGroup)
		res := cluster.KubectlStdin(ctx, manifest(first), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/local-group-agent created\n"))
		p := getPod(first.Name)
		Expect(p.Spec.Affinity).NotTo(BeNil())
		Expect(p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms).To(Equal([]corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: readyLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{agentsValue}}},
		}}))

		By("waiting for the scheduler to find no node for it: no node is labelled " + readyLabel + "=" + agentsValue + " yet")
		Eventually(func(g Gomega) {
			p := getPod(first.Name)
			g.Expect(p.Spec.NodeName).To(BeEmpty())
			g.Expect(unschedulable(p)).To(HavePrefix("0/3 nodes are available: "))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		Expect(getPod(first.Name).Status.Phase).To(Equal(corev1.PodPending))

		By("running the executor for " + node + " as its DaemonSet pod there would run (Linux backend, --group-file)")
		var err error
		executor, err = release.PrepareExecutor(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		Expect(executor.Start(ctx)).To(Succeed())

		By("waiting for the executor to create the group and label " + node + " " + readyLabel + "=" + agentsValue)
		Eventually(func(g Gomega) {
			g.Expect(nodeLabels(g, node)).To(HaveKeyWithValue(readyLabel, agentsValue))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		groups, err := os.ReadFile(executor.GroupFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(groups)).To(Equal(agentsGroup + ":x:1000:\n"))
		for _, other := range nodes.All()[1:] {
			n, err := cluster.Clientset.CoreV1().Nodes().Get(ctx, other, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(n.Labels).NotTo(HaveKey(readyLabel), other)
		}

		By("waiting for " + first.Name + " to be scheduled on " + node + " and Running")
		Eventually(func(g Gomega) {
			p := getPod(first.Name)
			g.Expect(p.Spec.NodeName).To(Equal(node))
			g.Expect(podRunning(p)).To(BeTrue())
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())

		By("stopping the executor, then helm upgrade: allowedLocalGroups gains " + auditorsGroup)
		executor.Stop(30 * time.Second)
		res = release.Upgrade(ctx, "--set-json", fmt.Sprintf(`config.allowedLocalGroups=[%q,%q]`, agentsGroup, auditorsGroup))
		Expect(res.Failed()).To(BeFalse(), res.String())
		auditor := localGroupPodAs("local-group-auditor", auditorsGroup)
		By("kubectl apply -f - with pod " + auditor.Name + " running as " + auditorsGroup + ", once the webhook has the new configuration")
		Eventually(func(g Gomega) {
			res := cluster.KubectlStdin(ctx, manifest(auditor), "apply", "-f", "-")
			g.Expect(res.Failed()).To(BeFalse(), res.String())
			g.Expect(res.Stdout).To(Equal("pod/local-group-auditor created\n"))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		Expect(getPod(auditor.Name).Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms).To(Equal([]corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: readyLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{bothValue}}},
		}}))
		By("waiting for the scheduler to find no node for it: " + node + " is labelled for the old list, " + readyLabel + "=" + agentsValue)
		Eventually(func(g Gomega) {
			p := getPod(auditor.Name)
			g.Expect(p.Spec.NodeName).To(BeEmpty())
			g.Expect(unschedulable(p)).To(HavePrefix("0/3 nodes are available: "))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(getPod(auditor.Name).Spec.NodeName).To(BeEmpty())
			g.Expect(nodeLabels(g, node)).To(HaveKeyWithValue(readyLabel, agentsValue))
		}).WithContext(ctx).WithTimeout(3 * time.Second).Should(Succeed())

		By("starting the executor again: it creates " + auditorsGroup + " and labels " + node + " " + readyLabel + "=" + bothValue)
		Expect(executor.Start(ctx)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(nodeLabels(g, node)).To(HaveKeyWithValue(readyLabel, bothValue))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		groups, err = os.ReadFile(executor.GroupFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(groups)).To(Equal(agentsGroup + ":x:1000:\n" + auditorsGroup + ":x:1001:\n"))
		By("waiting for " + auditor.Name + " to be scheduled on " + node + " and Running; " + first.Name + " keeps running there")
		Eventually(func(g Gomega) {
			p := getPod(auditor.Name)
			g.Expect(p.Spec.NodeName).To(Equal(node))
			g.Expect(podRunning(p)).To(BeTrue())
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		p = getPod(first.Name)
		Expect(p.Spec.NodeName).To(Equal(node))
		Expect(podRunning(p)).To(BeTrue())

		By("restarting the executor where the groups cannot be created: it labels " + node + " " + readyLabel + "=false")
		executor.Stop(30 * time.Second)
		executor.SetGroupFile(filepath.Join(executor.Dir, "missing", "group"))
		Expect(executor.Start(ctx)).To(Succeed())
		Eventually(func(g Gomega) {
			n, err := cluster.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(n.Labels).To(HaveKeyWithValue(readyLabel, "false"))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		Expect(executor.Logs()).To(ContainSubstring(`local groups missing: \"` + agentsGroup + `\", \"` + auditorsGroup + `\"`))

		second := localGroupPod("local-group-agent-2")
		By("kubectl apply -f - with pod " + second.Name + ": no node takes it now")
		res = cluster.KubectlStdin(ctx, manifest(second), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Eventually(func(g Gomega) {
			p := getPod(second.Name)
			g.Expect(p.Spec.NodeName).To(BeEmpty())
			g.Expect(unschedulable(p)).To(HavePrefix("0/3 nodes are available: "))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		By("checking that " + first.Name + " keeps running on " + node + " (the affinity is IgnoredDuringExecution)")
		p = getPod(first.Name)
		Expect(p.Spec.NodeName).To(Equal(node))
		Expect(podRunning(p)).To(BeTrue())
		executor.Stop(30 * time.Second)
	})

	It("lists the running HostProcess pods with their nodes in the background audit's report", func(ctx SpecContext) {
		type result struct {
			Result    string `json:"result"`
			Resources []struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"resources"`
			Properties map[string]string `json:"properties"`
		}
		// Where the API says each object's HostProcess pods are bound.
		want := map[string]string{}
		nodesOf := func(selector map[string]string) string {
			names, _ := nodeNames(pods(ctx, appsNamespace, selector))
			names = slices.Compact(slices.DeleteFunc(names, func(s string) bool { return s == "" }))
			return strings.Join(names, ", ")
		}
		want["DaemonSet/hostprocess-daemon"] = nodesOf(map[string]string{"app": "hostprocess-daemon"})
		want["Deployment/hostprocess-agent"] = nodesOf(map[string]string{"app": "hostprocess-agent"})
		want["Pod/local-group-agent"] = nodes.Windows[0]
		Expect(want["DaemonSet/hostprocess-daemon"]).To(Equal(strings.Join(nodes.Windows, ", ")))
		for k, v := range want {
			for _, n := range strings.Split(v, ", ") {
				Expect(nodes.IsWindows(n)).To(BeTrue(), "%s: node %q", k, n)
			}
		}

		By("waiting for the background audit (every 10s) to report them in namespace " + appsNamespace)
		Eventually(func(g Gomega) {
			res := cluster.Kubectl(ctx, "get", "reports.openreports.io", "hostprocess-admission", "-n", appsNamespace, "-o", "json")
			g.Expect(res.Failed()).To(BeFalse(), res.String())
			var report struct {
				Results []result `json:"results"`
			}
			g.Expect(json.Unmarshal([]byte(res.Stdout), &report)).To(Succeed())
			got := map[string]string{}
			for _, r := range report.Results {
				g.Expect(r.Resources).To(HaveLen(1))
				got[r.Resources[0].Kind+"/"+r.Resources[0].Name] = r.Properties["nodes"]
			}
			for k, v := range want {
				g.Expect(got).To(HaveKeyWithValue(k, v))
			}
			// The second local-group pod never ran: listed, on no node.
			g.Expect(got).To(HaveKeyWithValue("Pod/local-group-agent-2", ""))
		}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(time.Second).Should(Succeed())
		fmt.Fprintf(GinkgoWriter, "report nodes: %v\n", want)
	})
	It("warns about a HostProcess DaemonSet whose template does not tolerate the Windows taint, which gets no pods; under defaults.workloadTemplates a new one gets the toleration and its pods on the Windows nodes", func(ctx SpecContext) {
		// As examples/admitted/csi-proxy.yaml and csi-proxy's own manifests:
		// a Windows nodeSelector, no toleration.
		untolerated := func(name string) *appsv1.DaemonSet {
			ds := daemonSet(name, true)
			ds.Spec.Template.Spec.Tolerations = nil
			ds.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelOSStable: "windows"}
			return ds
		}
		getDaemonSet := func(g Gomega, name string) *appsv1.DaemonSet {
			ds, err := cluster.Clientset.AppsV1().DaemonSets(appsNamespace).Get(ctx, name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			return ds
		}
		before := untolerated("csi-proxy-untolerated")
		By("kubectl apply -f - with DaemonSet " + before.Name + ": a Windows nodeSelector and no toleration; defaults.workloadTemplates is off")
		res := cluster.KubectlStdin(ctx, manifest(before), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("daemonset.apps/csi-proxy-untolerated created\n"))
		By("the admission answer says that it will get no pods on the Windows nodes, and what to add")
		Expect(res.Warnings()).To(Equal([]string{"pod template: spec.template.spec.tolerations do not tolerate the taint os=windows:NoSchedule of defaults.tolerations: " +
			"the DaemonSet controller places pods from the template and will create no pods on the nodes with that taint; " +
			`add the toleration {"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"} to spec.template.spec.tolerations`}))
		Expect(getDaemonSet(Default, before.Name).Spec.Template.Spec.Tolerations).To(BeEmpty())
		By("waiting for the DaemonSet controller to see it: no node for it, no pods")
		Eventually(func(g Gomega) {
			ds := getDaemonSet(g, before.Name)
			g.Expect(ds.Status.ObservedGeneration).To(Equal(ds.Generation))
			g.Expect([]int32{ds.Status.DesiredNumberScheduled, ds.Status.CurrentNumberScheduled, ds.Status.NumberReady}).To(Equal([]int32{0, 0, 0}))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		Expect(pods(ctx, appsNamespace, before.Spec.Selector.MatchLabels)).To(BeEmpty())

		By("helm upgrade --set config.defaults.workloadTemplates=true: the chart adds the mutating webhook for workload CREATEs")
		res = release.Upgrade(ctx, "--set", "config.defaults.workloadTemplates=true")
		Expect(res.Failed()).To(BeFalse(), res.String())
		m, err := release.MutatingWebhookConfiguration()
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, w := range m.Webhooks {
			names = append(names, w.Name)
		}
		Expect(names).To(ContainElement("mutate-workloads.hostprocess.dev"))
		Expect(release.WaitCABundle(ctx, nodesRelease+"-cert")).To(Succeed())

		after := untolerated("csi-proxy")
		By("kubectl create --dry-run=server with DaemonSet " + after.Name + " until the webhook has the new configuration: its template gets the toleration")
		Eventually(func(g Gomega) {
			res := cluster.KubectlStdin(ctx, manifest(after), "create", "--dry-run=server", "-f", "-", "-o", "jsonpath={.spec.template.spec.tolerations}")
			g.Expect(res.Failed()).To(BeFalse(), res.String())
			g.Expect(res.Stdout).To(Equal(`[{"effect":"NoSchedule","key":"os","operator":"Equal","value":"windows"}]`))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		By("kubectl apply -f - with DaemonSet " + after.Name + ": admitted without a warning, the toleration added to its template and nothing else")
		res = cluster.KubectlStdin(ctx, manifest(after), "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("daemonset.apps/csi-proxy created\n"))
		Expect(res.Warnings()).To(BeEmpty())
		live := getDaemonSet(Default, after.Name)
		Expect(live.Spec.Template.Spec.Tolerations).To(Equal([]corev1.Toleration{harness.WindowsToleration}))
		Expect(live.Spec.Template.Spec.NodeSelector).To(Equal(after.Spec.Template.Spec.NodeSelector))

		By("waiting for the DaemonSet controller's pods: Running on every Windows node, none on Linux")
		Eventually(func(g Gomega) {
			got, running := nodeNames(pods(ctx, appsNamespace, after.Spec.Selector.MatchLabels))
			g.Expect(got).To(Equal(nodes.Windows))
			g.Expect(running).To(BeTrue())
			ds := getDaemonSet(g, after.Name)
			g.Expect([]int32{ds.Status.DesiredNumberScheduled, ds.Status.CurrentNumberScheduled, ds.Status.NumberReady}).To(Equal([]int32{2, 2, 2}))
		}).WithContext(ctx).WithTimeout(nodesTimeout).Should(Succeed())
		By("checking that " + before.Name + ", created before the upgrade, is as it was written: templates are defaulted on CREATE only")
		ds := getDaemonSet(Default, before.Name)
		Expect(ds.Spec.Template.Spec.Tolerations).To(BeEmpty())
		Expect(ds.Status.DesiredNumberScheduled).To(BeNumerically("==", 0))
	})
})
