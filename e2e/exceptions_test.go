//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

const (
	exceptionsRelease   = "hostprocess-admission-hpex"
	exceptionsNamespace = "hpex-system"
	breakGlassNamespace = "break-glass"
	// exceptionsConfig allows only Local service: a SYSTEM pod needs an
	// exception. The audit runs every 10s.
	exceptionsConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
allowedUsers: ['NT AUTHORITY\Local service']
audit:
  interval: 10s
exceptions:
  maxLifetime: 1h
`
)

// systemPod is a HostProcess pod named name in the break-glass namespace
// running as SYSTEM, as kubectl debug node --profile=sysadmin creates one.
func systemPod(name string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
  namespace: ` + breakGlassNamespace + `
spec:
  hostNetwork: true
  securityContext:
    windowsOptions:
      hostProcess: true
      runAsUserName: 'NT AUTHORITY\SYSTEM'
  containers:
  - name: debugger
    image: ` + hostProcessImage + `
`
}

var _ = Describe("break-glass with a HostProcessException", Ordered, func() {
	var (
		release *harness.Release
		webhook *harness.Webhook
	)

	BeforeAll(func(ctx SpecContext) {
		By("helm install " + exceptionsRelease + " -n " + exceptionsNamespace + " with only Local service allowed")
		configFile := filepath.Join(cluster.Dir, "exceptions-config.yaml")
		Expect(os.WriteFile(configFile, []byte(exceptionsConfig), 0o600)).To(Succeed())
		values, err := harness.ConfigValues(configFile, cluster.Dir)
		Expect(err).NotTo(HaveOccurred())
		var res harness.Result
		release, res = cluster.HelmInstall(ctx, chart, exceptionsRelease, exceptionsNamespace, "-f", values, "--set", "replicaCount=1")
		Expect(res.Failed()).To(BeFalse(), res.String())
		DeferCleanup(func(ctx SpecContext) {
			By("helm uninstall " + exceptionsRelease + ", stopping its webhook, removing the namespaces")
			res := release.Uninstall(ctx)
			Expect(res.Failed()).To(BeFalse(), res.String())
			if webhook != nil {
				webhook.Stop(30 * time.Second)
			}
			Expect(release.DeleteEndpointSlice(ctx)).To(Succeed())
			Expect(cluster.Clientset.CoreV1().Namespaces().Delete(ctx, exceptionsNamespace, metav1.DeleteOptions{})).To(Succeed())
			Expect(cluster.Clientset.CoreV1().Namespaces().Delete(ctx, breakGlassNamespace, metav1.DeleteOptions{})).To(Succeed())
		})
		webhook, err = release.PrepareWebhook(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(webhook.Start(ctx)).To(Succeed())
		Expect(webhook.WaitReady(ctx)).To(Succeed())
		Expect(release.WaitCABundle(ctx, exceptionsRelease+"-cert")).To(Succeed())
		_, err = cluster.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: breakGlassNamespace}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() && webhook != nil {
			AddReportEntry("webhook log", webhook.Logs())
		}
	})

	It("refuses an exception from a user who may do anything in the namespace but nothing cluster-wide", func(ctx SpecContext) {
		res := cluster.KubectlStdin(ctx, `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: everything, namespace: `+breakGlassNamespace+`}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-everything, namespace: `+breakGlassNamespace+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: everything}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`, "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		exception := exceptionYAML(ctx, "alice-grant", "1h")
		res = cluster.KubectlStdin(ctx, exception, "apply", "--as", "alice", "-f", "-")
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(ContainSubstring(`User "alice" cannot`), res.String())
		Expect(res.Errors()).To(ContainSubstring(`resource "hostprocessexceptions" in API group "hostprocess.dev" at the cluster scope`), res.String())
	})

	It("denies a SYSTEM pod, admits it under a short exception with a warning naming it, denies a new one after expiry; the audit report lists, then flags it", func(ctx SpecContext) {
		By("a SYSTEM pod is denied")
		res := cluster.KubectlStdin(ctx, systemPod("debug-0"), "apply", "-f", "-")
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(Equal(`Error from server (Forbidden): error when creating "STDIN": ` + denial(validateWebhook, "pods", "debug-0",
			`pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\Local service)`)))

		By("hostprocess-admission exception --for 40s | kubectl apply -f -")
		exception := exceptionYAML(ctx, "e2e-debug", "40s")
		res = cluster.KubectlStdin(ctx, exception, "apply", "-f", "-")
		Expect(res.Failed()).To(BeFalse(), res.String())
		Expect(res.Stdout).To(Equal("hostprocessexception.hostprocess.dev/e2e-debug created\n"))
		res = cluster.Kubectl(ctx, "get", "hostprocessexception", "e2e-debug", "-o", "jsonpath={.spec.expiresAt} {.metadata.annotations.hostprocess\\.dev/created-by}")
		Expect(res.Failed()).To(BeFalse(), res.String())
		expiresAt, createdBy, _ := strings.Cut(res.Stdout, " ")
		Expect(createdBy).NotTo(BeEmpty())
		expires, err := time.Parse(time.RFC3339, expiresAt)
		Expect(err).NotTo(HaveOccurred())

		By("the same pod is admitted with a warning naming the exception and its expiry")
		Eventually(func(g Gomega) {
			res = cluster.KubectlStdin(ctx, systemPod("debug-1"), "apply", "-f", "-")
			g.Expect(res.Failed()).To(BeFalse(), res.String())
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())
		Expect(res.Warnings()).To(Equal([]string{fmt.Sprintf(`admitted under HostProcessException "e2e-debug", which expires at %s`, expiresAt)}))

		type result struct {
			Rule       string `json:"rule"`
			Result     string `json:"result"`
			Resources  []struct{ Kind, Name string }
			Properties map[string]string `json:"properties"`
		}
		report := func(g Gomega) map[string]result {
			res := cluster.Kubectl(ctx, "get", "reports.openreports.io", "hostprocess-admission", "-n", breakGlassNamespace, "-o", "json")
			g.Expect(res.Failed()).To(BeFalse(), res.String())
			var r struct {
				Results []result `json:"results"`
			}
			g.Expect(json.Unmarshal([]byte(res.Stdout), &r)).To(Succeed())
			out := map[string]result{}
			for _, x := range r.Results {
				if len(x.Resources) == 1 && x.Resources[0].Name == "debug-1" {
					out[x.Rule] = x
				}
			}
			return out
		}
		By("the background audit lists the pod under the exception")
		Eventually(func(g Gomega) {
			got := report(g)
			g.Expect(got).To(HaveKey("hostProcess"))
			g.Expect(got["hostProcess"].Result).To(Equal("pass"))
			g.Expect(got["hostProcess"].Properties).To(HaveKeyWithValue("exceptions", fmt.Sprintf(`HostProcessException "e2e-debug" (expires at %s)`, expiresAt)))
		}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Succeed())

		By("after expiry a new pod is denied")
		time.Sleep(time.Until(expires))
		res = cluster.KubectlStdin(ctx, systemPod("debug-2"), "apply", "-f", "-")
		Expect(res.Failed()).To(BeTrue(), res.String())
		Expect(res.Errors()).To(ContainSubstring(denial(validateWebhook, "pods", "debug-2",
			`pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\Local service)`)))

		By("the background audit flags the pod still running after the exception expired")
		Eventually(func(g Gomega) {
			got := report(g)
			g.Expect(got).To(HaveKey("exceptionExpired"))
			g.Expect(got["exceptionExpired"].Result).To(Equal("fail"))
			g.Expect(got["exceptionExpired"].Properties).To(HaveKeyWithValue("expiredExceptions", fmt.Sprintf(`HostProcessException "e2e-debug" (expired at %s)`, expiresAt)))
		}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Succeed())
	})
})

// exceptionYAML runs the exception command for SYSTEM in the break-glass
// namespace, lasting lifetime.
func exceptionYAML(ctx SpecContext, name, lifetime string) string {
	GinkgoHelper()
	bin, err := testenv.Bin(harness.Binary)
	Expect(err).NotTo(HaveOccurred())
	out, err := exec.CommandContext(ctx, bin, "exception", "--name", name, "--namespace", breakGlassNamespace,
		"--account", `NT AUTHORITY\SYSTEM`, "--for", lifetime, "--reason", "e2e break-glass", "--ticket", "E2E-1").Output()
	Expect(err).NotTo(HaveOccurred())
	return string(out)
}
