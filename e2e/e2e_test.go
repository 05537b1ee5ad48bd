//go:build linux

package e2e

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
)

const (
	chart            = "charts/hostprocess-admission"
	releaseName      = "hostprocess-admission"
	releaseNamespace = "hostprocess-system"
	// examplesNamespace is the namespace of examples/namespace.yaml.
	examplesNamespace = "hostprocess-examples"

	// The chart's webhooks; the API server names them in denials and
	// prefixes their audit annotation keys with them.
	validateWebhook  = "validate.hostprocess.dev"
	workloadsWebhook = "validate-workloads.hostprocess.dev"
	mutateWebhook    = "mutate.hostprocess.dev"

	// hostProcessImage is the image of the examples.
	hostProcessImage = "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0"

	// configTimeout bounds how long a helm upgrade of the configuration takes
	// to reach the webhook: the ConfigMap sync (the kubelet's part, 0.5s
	// here) and the webhook's reload (every 2s by default).
	configTimeout = 30 * time.Second
)

// denial is the error the API server returns when a webhook of this
// project denies a request, as kubectl prints it after "Error from server
// (Forbidden): ...".
func denial(webhook, resource, name string, messages ...string) string {
	return fmt.Sprintf("admission webhook %q denied the request: %s %q is forbidden: violates the HostProcess policy: %s",
		webhook, resource, name, strings.Join(messages, "; "))
}

// apiServerRejections are the API server's own validation errors for the
// rules it enforces itself, before any validating webhook runs (the examples
// that say "422 Invalid"), keyed by the rule the example breaks.
var apiServerRejections = map[string]string{
	"hostNetwork":      `The Pod %q is invalid: spec.hostNetwork: Invalid value: false: hostNetwork must be true if pod contains any hostProcess containers`,
	"hostProcessMixed": `The Pod %q is invalid: spec: Invalid value: "": If pod contains any hostProcess containers then all containers must be HostProcess containers`,
}

func messages(fs []harness.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Message
	}
	return out
}

func wouldViolate(fs []harness.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = "would violate the HostProcess policy: " + f.Message
	}
	return out
}

func example(examples []harness.Example, path string) harness.Example {
	GinkgoHelper()
	for _, ex := range examples {
		if ex.Path == path {
			return ex
		}
	}
	Fail("no example " + path)
	return harness.Example{}
}

func renamed(path, name string) string {
	GinkgoHelper()
	manifest, err := harness.Renamed(filepath.Join(root, path), name)
	Expect(err).NotTo(HaveOccurred())
	return manifest
}

// noWarnings is what Result.Warnings returns for none.
var noWarnings []string

var _ = Describe("hostprocess-admission installed with its Helm chart", Ordered, func() {
	var (
		examples []harness.Example
		// examplesConfig is examples/config.yaml.
		examplesConfig string
		release        *harness.Release
		webhook        *harness.Webhook
	)

	// expectNoRBACDenials checks the webhook's log for requests that the
	// chart's RBAC denied to its ServiceAccount. client-go logs them with the
	// user quoted, the quotes escaped inside structured log values.
	expectNoRBACDenials := func() {
		GinkgoHelper()
		By("checking that the chart's RBAC allowed everything the webhook did with its ServiceAccount's token")
		Expect(webhook.Logs()).NotTo(MatchRegexp(`system:serviceaccount:%s:%s\\?" cannot`, releaseNamespace, webhook.ServiceAccount))
	}

	// upgrade runs helm upgrade --reuse-values with args.
	upgrade := func(ctx SpecContext, args ...string) {
		GinkgoHelper()
		res := release.Upgrade(ctx, args...)
		Expect(res.Failed()).To(BeFalse(), res.String())
	}

	// serverDryRun creates manifest with --dry-run=server: the webhooks are
	// called, nothing is stored. It is how the tests wait for a new
	// configuration to be in force before they create anything for real.
	serverDryRun := func(ctx SpecContext, manifest string) harness.Result {
		return cluster.KubectlStdin(ctx, manifest, "create", "--dry-run=server", "-f", "-")
	}
	applyStdin := func(ctx SpecContext, manifest string) harness.Result {
		return cluster.KubectlStdin(ctx, manifest, "apply", "-f", "-")
	}

	BeforeAll(func() {
		var err error
		examples, examplesConfig, err = harness.LoadExamples(root)
		Expect(err).NotTo(HaveOccurred())
		Expect(examplesConfig).To(Equal("examples/config.yaml"))
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() && webhook != nil {
			AddReportEntry("webhook log", webhook.Logs())
		}
	})

	It("installs with default values: self-managed certificates appear and caBundle is injected", func(ctx SpecContext) {
		By("helm install " + releaseName + " " + chart + " -n " + releaseNamespace + " --create-namespace")
		var res harness.Result
		release, res = cluster.HelmInstall(ctx, chart, releaseName, releaseNamespace)
		Expect(res.Failed()).To(BeFalse(), res.String())

		By("running the Deployment's webhook container with a token of the chart's ServiceAccount, behind the chart's Service")
		var err error
		webhook, err = release.PrepareWebhook(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(webhook.ServiceAccount).To(Equal(releaseName))
		Expect(webhook.Start(ctx)).To(Succeed())
		Expect(webhook.WaitReady(ctx)).To(Succeed())

		By("checking the certificate Secret the webhook filled")
		var secret *corev1.Secret
		Eventually(func(g Gomega) {
			secret, err = cluster.Clientset.CoreV1().Secrets(releaseNamespace).Get(ctx, releaseName+"-cert", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(secret.Data).To(HaveKey("ca.crt"))
			g.Expect(secret.Data).To(HaveKey("ca.key"))
			g.Expect(secret.Data).To(HaveKey("tls.crt"))
			g.Expect(secret.Data).To(HaveKey("tls.key"))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		roots := x509.NewCertPool()
		Expect(roots.AppendCertsFromPEM(secret.Data["ca.crt"])).To(BeTrue())
		block, _ := pem.Decode(secret.Data["tls.crt"])
		Expect(block).NotTo(BeNil())
		serving, err := x509.ParseCertificate(block.Bytes)
		Expect(err).NotTo(HaveOccurred())
		serviceName := releaseName + "." + releaseNamespace + ".svc"
		_, err = serving.Verify(x509.VerifyOptions{DNSName: serviceName, Roots: roots})
		Expect(err).NotTo(HaveOccurred(), "the serving certificate is for %s and signed by ca.crt", serviceName)

		By("checking caBundle of every webhook of both configurations")
		Eventually(func(g Gomega) {
			v, err := cluster.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(v.Webhooks).To(HaveLen(3)) // pods, workloads, exceptions
			for _, w := range v.Webhooks {
				g.Expect(string(w.ClientConfig.CABundle)).To(Equal(string(secret.Data["ca.crt"])), w.Name)
			}
			m, err := cluster.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(m.Webhooks).To(HaveLen(2)) // pods, exceptions
			for _, w := range m.Webhooks {
				g.Expect(string(w.ClientConfig.CABundle)).To(Equal(string(secret.Data["ca.crt"])), w.Name)
			}
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		By("checking that the API server calls the webhook through the Service: a server dry run gets the default nodeSelector")
		res = cluster.Kubectl(ctx, "apply", "-f", "examples/namespace.yaml")
		Expect(res.Failed()).To(BeFalse(), res.String())
		res = cluster.Kubectl(ctx, "create", "--dry-run=server", "-f", "examples/admitted/network-service-pod.yaml", "-o", "jsonpath={.spec.nodeSelector}")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal(`{"kubernetes.io/os":"windows"}`))
		expectNoRBACDenials()
	})

	It("applies every example: admitted ones are created, rejected ones fail with the policy's message", func(ctx SpecContext) {
		// The examples' comments quote check under the built-in defaults,
		// which are the chart's default values. admitted/local-group-pod.yaml
		// runs as a local group that only examples/config.yaml allows.
		var needConfig []harness.Example
		for _, ex := range examples {
			By("kubectl apply -f " + ex.Path)
			res := cluster.Kubectl(ctx, "apply", "-f", ex.Path)
			switch {
			case ex.Group == "rejected" && ex.RejectedByAPIServer:
				Expect(ex.Violations).To(HaveLen(1))
				Expect(res.Failed()).To(BeTrue(), res.String())
				Expect(res.Errors()).To(ContainSubstring(apiServerRejections[ex.Violations[0].Rule], ex.Name), res.String())
			case ex.Group == "rejected" || (ex.Group == "admitted" && len(ex.Violations) > 0):
				Expect(ex.Violations).NotTo(BeEmpty())
				Expect(res.Failed()).To(BeTrue(), res.String())
				Expect(res.Errors()).To(Equal(fmt.Sprintf("Error from server (Forbidden): error when creating %q: %s", ex.Path,
					denial(validateWebhook, "pods", ex.Name, messages(ex.Violations)...))))
				if ex.Group == "admitted" {
					needConfig = append(needConfig, ex)
				}
			case ex.Group == "warned":
				Expect(res.Failed()).To(BeFalse(), res.String())
				Expect(res.Warnings()).To(Equal(append(wouldViolate(ex.WarnedViolations), ex.Warnings...)))
			default:
				Expect(res.Failed()).To(BeFalse(), res.String())
				Expect(res.Warnings()).To(Equal(append(noWarnings, ex.Warnings...)), res.String())
			}
		}
		Expect(needConfig).To(HaveLen(1))

		By("helm upgrade -f <examples/config.yaml as the chart's config values>")
		values, err := harness.ConfigValues(filepath.Join(root, examplesConfig), cluster.Dir)
		Expect(err).NotTo(HaveOccurred())
		upgrade(ctx, "-f", values)
		for _, ex := range needConfig {
			By("kubectl apply -f " + ex.Path + " under examples/config.yaml")
			Eventually(func(g Gomega) {
				res := cluster.Kubectl(ctx, "create", "--dry-run=server", "-f", ex.Path)
				g.Expect(res.Failed()).To(BeFalse(), res.String())
			}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())
			res := cluster.Kubectl(ctx, "apply", "-f", ex.Path)
			Expect(res.Failed()).To(BeFalse(), res.String())
			Expect(res.Warnings()).To(Equal(append(noWarnings, ex.Warnings...)))
		}

		By("checking that every admitted object exists and every HostProcess pod carries nodeSelector kubernetes.io/os=windows")
		for _, ex := range examples {
			if ex.Group == "rejected" {
				res := cluster.Kubectl(ctx, "get", ex.Kind, ex.Name, "-n", ex.Namespace)
				Expect(res.Errors()).To(ContainSubstring("NotFound"), res.String())
				continue
			}
			args := []string{"get", ex.Kind, ex.Name, "-o", "jsonpath={.spec.nodeSelector}"}
			if ex.Namespace != "" {
				args = append(args, "-n", ex.Namespace)
			}
			res := cluster.Kubectl(ctx, args...)
			Expect(res.Failed()).To(BeFalse(), res.String())
			if ex.Kind == "Pod" {
				var selector map[string]string
				Expect(json.Unmarshal([]byte(res.Stdout), &selector)).To(Succeed(), res.String())
				Expect(selector).To(HaveKeyWithValue("kubernetes.io/os", "windows"), ex.Path)
			}
		}
		res := cluster.Kubectl(ctx, "get", "pod", "network-report", "-n", examplesNamespace, "-o", "jsonpath={.spec.nodeSelector}")
		Expect(res.Stdout).To(Equal(`{"kubernetes.io/os":"windows"}`), "network-service-pod.yaml sets no nodeSelector; the mutating webhook added it")

		By("helm upgrade --reset-values: back to the chart's defaults")
		res = cluster.Helm(ctx, "upgrade", releaseName, chart, "-n", releaseNamespace, "--reset-values")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(release.ReadManifest(ctx)).To(Succeed())
		Eventually(func(g Gomega) {
			res := serverDryRun(ctx, renamed(needConfig[0].Path, "local-group-again"))
			g.Expect(res.Failed()).To(BeTrue(), res.String())
		}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())
	})

	It("checks workloads: warn workloadMode prints Warning: lines, enforce rejects", func(ctx SpecContext) {
		ex := example(examples, "examples/warned/agent-deployment.yaml")
		Expect(ex.WarnedViolations).To(HaveLen(1))

		By("creating a Deployment under workloadMode warn (the chart's default)")
		res := applyStdin(ctx, renamed(ex.Path, "agent-warn"))
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("deployment.apps/agent-warn created\n"))
		Expect(res.Warnings()).To(Equal(wouldViolate(ex.WarnedViolations)))

		By("helm upgrade --set config.workloadMode=enforce")
		upgrade(ctx, "--set", "config.workloadMode=enforce")
		manifest := renamed(ex.Path, "agent-enforce")
		Eventually(func(g Gomega) {
			g.Expect(serverDryRun(ctx, manifest).Failed()).To(BeTrue())
		}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())

		By("creating the same Deployment under workloadMode enforce")
		res = applyStdin(ctx, manifest)
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(Equal("Error from server (Forbidden): error when creating \"STDIN\": " +
			denial(workloadsWebhook, "deployments.apps", "agent-enforce", ex.WarnedViolations[0].Message)))

		By("helm upgrade --set config.workloadMode=warn")
		upgrade(ctx, "--set", "config.workloadMode=warn")
		Eventually(func(g Gomega) {
			g.Expect(serverDryRun(ctx, manifest).Failed()).To(BeFalse())
		}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())
	})

	It("checks ephemeral containers that kubectl debug adds", func(ctx SpecContext) {
		// network-report is a HostProcess pod (pod-level hostProcess: true,
		// NT AUTHORITY\NetworkService), created from the examples.
		custom := func(name string, sc map[string]any) string {
			GinkgoHelper()
			path := filepath.Join(cluster.Dir, name+".json")
			b, err := json.Marshal(map[string]any{"securityContext": sc})
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(path, b, 0o600)).To(Succeed())
			return path
		}
		debug := func(pod, container, customFile string) harness.Result {
			return cluster.Kubectl(ctx, "debug", pod, "-n", examplesNamespace, "--image="+hostProcessImage,
				"--container="+container, "--custom="+customFile, "--profile=general")
		}
		ephemeral := func(pod string) []string {
			GinkgoHelper()
			p, err := cluster.Clientset.CoreV1().Pods(examplesNamespace).Get(ctx, pod, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			var names []string
			for _, c := range p.Spec.EphemeralContainers {
				names = append(names, c.Name)
			}
			return names
		}

		By("kubectl debug network-report with a non-HostProcess container: rejected")
		res := debug("network-report", "debug-plain", custom("plain", map[string]any{"windowsOptions": map[string]any{"hostProcess": false}}))
		Expect(res.Failed()).To(BeTrue(), res.String())
		// The API server's own validation rejects it before any validating
		// webhook runs (pod and container hostProcess differ).
		Expect(res.Errors()).To(Equal(`The Pod "network-report" is invalid: ` + "\n" +
			`* spec.ephemeralContainers[0].securityContext.windowsOptions.hostProcess: Invalid value: false: pod hostProcess value must be identical if both are specified, was true` + "\n" +
			`* spec: Invalid value: "": If pod contains any hostProcess containers then all containers must be HostProcess containers`))

		By("kubectl debug network-report with a HostProcess container running as a user that is not allowed: rejected by the webhook")
		res = debug("network-report", "debug-anonymous", custom("anonymous", map[string]any{"windowsOptions": map[string]any{
			"hostProcess": true, "runAsUserName": `NT AUTHORITY\ANONYMOUS LOGON`}}))
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(ContainSubstring(denial(validateWebhook, "pods", "network-report",
			`container "debug-anonymous": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM)`)), res.String())

		By("kubectl debug network-report with a HostProcess container running as NT AUTHORITY\\SYSTEM: admitted")
		res = debug("network-report", "debug-system", custom("system", map[string]any{"windowsOptions": map[string]any{
			"hostProcess": true, "runAsUserName": `NT AUTHORITY\SYSTEM`}}))
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(ephemeral("network-report")).To(Equal([]string{"debug-system"}))

		By("kubectl debug of a normal pod with a HostProcess container: rejected")
		res = cluster.KubectlStdin(ctx, `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: `+examplesNamespace+`
spec:
  nodeSelector:
    kubernetes.io/os: linux
  containers:
  - name: nginx
    image: nginx:1.29
`, "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		res = debug("web", "debug-system", custom("system", map[string]any{"windowsOptions": map[string]any{
			"hostProcess": true, "runAsUserName": `NT AUTHORITY\SYSTEM`}}))
		Expect(res.Failed()).To(BeTrue(), res.String())
		// Again the API server's own validation: a pod cannot mix
		// HostProcess and other containers, and a HostProcess pod needs
		// hostNetwork.
		Expect(res.Errors()).To(Equal(`The Pod "web" is invalid: ` + "\n" +
			`* spec: Invalid value: "": If pod contains any hostProcess containers then all containers must be HostProcess containers` + "\n" +
			`* spec.hostNetwork: Invalid value: false: hostNetwork must be true if pod contains any hostProcess containers`))
		Expect(ephemeral("web")).To(BeEmpty())
	})

	It("records an audit-mode violation in the API server's audit log", func(ctx SpecContext) {
		ex := example(examples, "examples/rejected/bad-user.yaml")
		Expect(ex.Violations).To(HaveLen(1))
		manifest := renamed(ex.Path, "bad-user-audit")

		By("helm upgrade --set config.mode=audit")
		upgrade(ctx, "--set", "config.mode=audit")
		Eventually(func(g Gomega) {
			g.Expect(serverDryRun(ctx, manifest).Failed()).To(BeFalse())
		}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())

		By("creating the rejected bad-user pod as bad-user-audit: admitted silently")
		res := applyStdin(ctx, manifest)
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/bad-user-audit created\n"))
		Expect(res.Stderr).To(BeEmpty())

		By("reading the create request's audit annotations from the API server's audit log")
		// The API server prefixes each audit annotation key of a webhook
		// with the webhook's name: hostprocess.dev's "violations" is
		// recorded as validate.hostprocess.dev/violations.
		var event harness.AuditEvent
		Eventually(func(g Gomega) {
			events, err := cluster.AuditEvents()
			g.Expect(err).NotTo(HaveOccurred())
			var found []harness.AuditEvent
			for _, e := range events {
				if e.Stage == "ResponseComplete" && e.Verb == "create" && e.ObjectRef != nil && e.ObjectRef.Resource == "pods" &&
					e.ObjectRef.Subresource == "" && e.ObjectRef.Namespace == examplesNamespace && e.ObjectRef.Name == "bad-user-audit" &&
					!strings.Contains(e.RequestURI, "dryRun") {
					found = append(found, e)
				}
			}
			g.Expect(found).To(HaveLen(1))
			event = found[0]
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(event.ResponseStatus).NotTo(BeNil())
		Expect(event.ResponseStatus.Code).To(Equal(201))
		Expect(event.Annotations).To(HaveKeyWithValue(validateWebhook+"/mode", "audit"))
		Expect(event.Annotations).To(HaveKey(validateWebhook + "/violations"))
		var violations []map[string]string
		Expect(json.Unmarshal([]byte(event.Annotations[validateWebhook+"/violations"]), &violations)).To(Succeed())
		Expect(violations).To(Equal([]map[string]string{{
			"rule":      "runAsUserName",
			"container": "agent",
			"field":     "spec.containers[0].securityContext.windowsOptions.runAsUserName",
			"message":   ex.Violations[0].Message,
		}}))
	})

	It("switches to warn mode with helm upgrade: the rejected pod is admitted with warnings, without a restart", func(ctx SpecContext) {
		ex := example(examples, "examples/rejected/bad-user.yaml")
		pid, starts := webhook.Process.Pid(), webhook.Starts
		before, err := release.Deployment()
		Expect(err).NotTo(HaveOccurred())

		By("helm upgrade --set config.mode=warn")
		upgrade(ctx, "--set", "config.mode=warn")
		upgraded := time.Now()
		after, err := release.Deployment()
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Spec.Template).To(Equal(before.Spec.Template), "the upgrade must not change the pod template, or a cluster would restart the webhook")

		By("kubectl apply -f " + ex.Path + " within seconds")
		Eventually(func(g Gomega) {
			res := cluster.Kubectl(ctx, "create", "--dry-run=server", "-f", ex.Path)
			g.Expect(res.Failed()).To(BeFalse(), res.String())
			g.Expect(res.Warnings()).NotTo(BeEmpty())
		}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())
		res := cluster.Kubectl(ctx, "apply", "-f", ex.Path)
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/bad-user created\n"))
		Expect(res.Warnings()).To(Equal(wouldViolate(ex.Violations)))
		AddReportEntry("warn mode in force after helm upgrade", time.Since(upgraded).Round(100*time.Millisecond).String())

		By("checking that the webhook was not restarted")
		Expect(webhook.Process.Running()).To(BeTrue())
		Expect(webhook.Process.Pid()).To(Equal(pid))
		Expect(webhook.Starts).To(Equal(starts))
	})

	It("fails closed for HostProcess pods while the webhook is down, and not for other pods", func(ctx SpecContext) {
		hostProcessPod := func(name string) string { return renamed("examples/admitted/network-service-pod.yaml", name) }

		By("killing the webhook process")
		webhook.Kill()
		Expect(webhook.Process.Running()).To(BeFalse())

		By("creating a HostProcess pod: the API server cannot call the webhook and refuses it")
		res := applyStdin(ctx, hostProcessPod("while-down"))
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(ContainSubstring(fmt.Sprintf(
			`Internal error occurred: failed calling webhook %q: failed to call webhook: Post "https://%s.%s.svc:443/mutate?timeout=5s": dial tcp %s:9443: connect: connection refused`,
			mutateWebhook, releaseName, releaseNamespace, cluster.Network.Address)), res.String())

		By("creating a normal Linux pod: created, since the matchConditions keep it away from the webhook")
		res = cluster.KubectlStdin(ctx, `apiVersion: v1
kind: Pod
metadata:
  name: linux-while-down
  namespace: `+examplesNamespace+`
spec:
  nodeSelector:
    kubernetes.io/os: linux
  containers:
  - name: nginx
    image: nginx:1.29
`, "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/linux-while-down created\n"))

		By("restarting the webhook: service is restored")
		Expect(webhook.Start(ctx)).To(Succeed())
		Expect(webhook.WaitReady(ctx)).To(Succeed())
		Eventually(func(g Gomega) {
			res := applyStdin(ctx, hostProcessPod("after-restart"))
			g.Expect(res.Failed()).To(BeFalse(), res.String())
			g.Expect(res.Stdout).To(Equal("pod/after-restart created\n"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("admits the executor DaemonSet that the chart renders", func(ctx SpecContext) {
		values, err := cluster.ChartValues(ctx, chart)
		Expect(err).NotTo(HaveOccurred())
		executor, ok := values["executor"].(map[string]any)
		if !ok {
			Skip("executor chart section not present")
		}

		By("helm upgrade with the executor enabled and both modes enforce")
		args := []string{"--set", "config.mode=enforce", "--set", "config.workloadMode=enforce"}
		if _, ok := executor["enabled"]; ok {
			args = append(args, "--set", "executor.enabled=true")
		}
		upgrade(ctx, args...)
		// The release namespace is excluded from the webhooks, so the
		// executor's DaemonSet, and a Pod with its template, are checked with
		// a server dry run in the examples' namespace.
		var daemonSets []*appsv1.DaemonSet
		for _, o := range release.Objects {
			if o.GetKind() == "DaemonSet" {
				ds := &appsv1.DaemonSet{}
				Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, ds)).To(Succeed())
				daemonSets = append(daemonSets, ds)
			}
		}
		Expect(daemonSets).NotTo(BeEmpty(), "the chart renders no DaemonSet with the executor enabled")
		Eventually(func(g Gomega) {
			g.Expect(serverDryRun(ctx, renamed("examples/rejected/bad-user.yaml", "enforce-again")).Failed()).To(BeTrue())
		}).WithContext(ctx).WithTimeout(configTimeout).Should(Succeed())

		for _, ds := range daemonSets {
			sc := ds.Spec.Template.Spec.SecurityContext
			Expect(sc != nil && sc.WindowsOptions != nil && ptr.Deref(sc.WindowsOptions.HostProcess, false)).To(BeTrue(),
				"DaemonSet %s is not a HostProcess workload, so the webhook would not see it", ds.Name)
			ds.Namespace = examplesNamespace
			ds.ResourceVersion = ""
			b, err := yaml.Marshal(ds)
			Expect(err).NotTo(HaveOccurred())
			By("kubectl create --dry-run=server of DaemonSet " + ds.Name + " (workloadMode enforce)")
			res := serverDryRun(ctx, string(b))
			Expect(res.Failed()).To(BeFalse(), res.String())
			Expect(res.Stdout).To(Equal("daemonset.apps/" + ds.Name + " created (server dry run)\n"))
			Expect(res.Warnings()).To(BeEmpty(), res.String())

			pod := &corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: ds.Name + "-pod", Namespace: examplesNamespace, Labels: ds.Spec.Template.Labels},
				Spec:       ds.Spec.Template.Spec,
			}
			b, err = yaml.Marshal(pod)
			Expect(err).NotTo(HaveOccurred())
			By("kubectl create --dry-run=server of a Pod with its template (mode enforce)")
			res = serverDryRun(ctx, string(b))
			Expect(res.Failed()).To(BeFalse(), res.String())
			Expect(res.Warnings()).To(BeEmpty(), res.String())
		}
	})

	It("removes the webhook configurations on helm uninstall, so nothing is left to block the cluster", func(ctx SpecContext) {
		ex := example(examples, "examples/rejected/windows-os.yaml")

		expectNoRBACDenials()

		By("helm uninstall")
		res := release.Uninstall(ctx)
		Expect(res.Failed()).To(BeFalse(), res.String())
		_, err := cluster.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "ValidatingWebhookConfiguration: %v", err)
		_, err = cluster.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "MutatingWebhookConfiguration: %v", err)
		_, err = cluster.Clientset.CoreV1().Secrets(releaseNamespace).Get(ctx, releaseName+"-cert", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "certificate Secret: %v", err)

		By("stopping the webhook process, as deleting its Deployment would")
		webhook.Stop(30 * time.Second)
		Expect(release.DeleteEndpointSlice(ctx)).To(Succeed())

		By("kubectl apply -f " + ex.Path + ": the previously rejected pod is admitted")
		res = cluster.Kubectl(ctx, "apply", "-f", ex.Path)
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("pod/" + ex.Name + " created\n"))
		Expect(res.Stderr).To(BeEmpty())
		res = cluster.Kubectl(ctx, "get", "validatingwebhookconfigurations,mutatingwebhookconfigurations", "-o", "name")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(slices.DeleteFunc(strings.Split(res.Stdout, "\n"), func(s string) bool { return s == "" })).To(BeEmpty())
	})
})
