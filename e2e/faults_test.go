//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
)

// The fault specs install a release of their own, so that they do not depend
// on the order in which Ginkgo runs the top-level containers, and remove it
// at the end, as the other container does with its own.
const (
	faultsRelease   = "hostprocess-admission-faults"
	faultsNamespace = "hostprocess-faults"

	// The release's configuration has one namespace rule, which selects
	// namespaces by this label; labelledNamespace has it, plainNamespace
	// does not, so HostProcess pods are denied there.
	faultsRuleLabel   = "faults.hostprocess.dev/hostprocess"
	faultsRuleValue   = "allowed"
	labelledNamespace = "faults-labelled"
	plainNamespace    = "faults-plain"

	// faultsConfig is the release's AdmissionConfiguration: the built-in
	// users, and HostProcess pods only in namespaces labelled
	// faultsRuleLabel=faultsRuleValue.
	faultsConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: enforce
workloadMode: warn
namespaceRules:
- namespaceSelector:
    matchLabels:
      ` + faultsRuleLabel + `: ` + faultsRuleValue + `
`

	// outage is how long kube-apiserver stays down.
	outage = 30 * time.Second
	// loadTimeout bounds one request of a load; the API server's own
	// webhook timeout (5s) is shorter.
	loadTimeout = 30 * time.Second
)

// reviewCase is one kind of HostProcess pod the fault specs send, over and
// over, under a new name each time, with the violations that the offline
// check command finds in it under faultsConfig: none means admitted.
type reviewCase struct {
	key        string
	namespace  string
	user       string
	violations []string
}

func (c reviewCase) pod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.namespace},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess:   ptrTo(true),
				RunAsUserName: ptrTo(c.user),
			}},
			Containers: []corev1.Container{{
				Name:    "agent",
				Image:   hostProcessImage,
				Command: []string{"cmd.exe", "/c", "ping", "-t", "localhost"},
			}},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

// forbidden is the status message of the webhook's denial of pod name, as
// a direct AdmissionReview response carries it; the API server prefixes it
// (denial).
func forbidden(name string, messages []string) string {
	return fmt.Sprintf("pods %q is forbidden: violates the HostProcess policy: %s", name, strings.Join(messages, "; "))
}

// expectedViolations runs the offline check command over a Namespace object
// per entry of namespaces (name to labels) and one pod per case, under the
// configuration file config, and fills in each case's violation messages.
// check is the same engine as the webhook: the fault specs compare the
// webhook's answers, word for word, to it.
func expectedViolations(ctx context.Context, config string, namespaces map[string]map[string]string, cases []*reviewCase) {
	GinkgoHelper()
	var docs []string
	for name, labels := range namespaces {
		ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		b, err := yaml.Marshal(ns)
		Expect(err).NotTo(HaveOccurred())
		docs = append(docs, string(b))
	}
	for _, c := range cases {
		b, err := yaml.Marshal(c.pod(c.key))
		Expect(err).NotTo(HaveOccurred())
		docs = append(docs, string(b))
	}
	input := filepath.Join(cluster.Dir, "faults-check-input.yaml")
	Expect(os.WriteFile(input, []byte(strings.Join(docs, "---\n")), 0o600)).To(Succeed())
	res := cluster.Run(ctx, "", harness.Binary, "check", "--config", config, "-o", "json", "-f", input)
	// Exit code 1 means that something is denied, which some cases are.
	var out struct {
		Results []struct {
			Kind       string `json:"kind"`
			Namespace  string `json:"namespace"`
			Name       string `json:"name"`
			Allowed    bool   `json:"allowed"`
			Violations []struct {
				Message string `json:"message"`
			} `json:"violations"`
		} `json:"results"`
	}
	Expect(json.Unmarshal([]byte(res.Stdout), &out)).To(Succeed(), res.String())
	for _, c := range cases {
		found := 0
		for _, r := range out.Results {
			if r.Kind != "Pod" || r.Namespace != c.namespace || r.Name != c.key {
				continue
			}
			found++
			c.violations = nil
			for _, v := range r.Violations {
				c.violations = append(c.violations, v.Message)
			}
			Expect(r.Allowed).To(Equal(len(c.violations) == 0), res.String())
		}
		Expect(found).To(Equal(1), "check's result for %s/%s\n%s", c.namespace, c.key, res.String())
	}
}

// apiCheck creates a pod of case c with a server-side dry run through the
// API server, which calls both webhooks: an admitted pod must come back
// with the mutating webhook's nodeSelector, a denied one must fail with
// exactly the validating webhook's denial. Anything else, e.g. "failed
// calling webhook", is a failure.
func apiCheck(client kubernetes.Interface, c *reviewCase, prefix string) harness.Check {
	return func(ctx context.Context, n int) error {
		name := fmt.Sprintf("%s-%s-%d", prefix, c.key, n)
		got, err := client.CoreV1().Pods(c.namespace).Create(ctx, c.pod(name), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if len(c.violations) == 0 {
			if err != nil {
				return fmt.Errorf("want admitted, got: %w", err)
			}
			if sel := got.Spec.NodeSelector; len(sel) != 1 || sel["kubernetes.io/os"] != "windows" {
				return fmt.Errorf("admitted without the mutating webhook's nodeSelector: %v", sel)
			}
			return nil
		}
		want := denial(validateWebhook, "pods", name, c.violations...)
		switch {
		case err == nil:
			return fmt.Errorf("admitted, want denied with %q", want)
		case !apierrors.IsForbidden(err) || err.Error() != want:
			return fmt.Errorf("got %q, want 403 %q", err.Error(), want)
		}
		return nil
	}
}

// directCheck sends the AdmissionReview of a pod of case c straight to one
// webhook process (rv) and wants exactly the verdict and message of c.
func directCheck(rv *harness.Reviewer, c *reviewCase, prefix string) harness.Check {
	return func(ctx context.Context, n int) error {
		name := fmt.Sprintf("%s-%s-%d", prefix, c.key, n)
		req, err := harness.PodCreate(c.pod(name), rv.Username)
		if err != nil {
			return err
		}
		resp, err := rv.Review(ctx, "/validate", req)
		if err != nil {
			return err
		}
		if len(c.violations) == 0 {
			if !resp.Allowed {
				return fmt.Errorf("denied, want admitted: %+v", resp.Result)
			}
			return nil
		}
		want := forbidden(name, c.violations)
		switch {
		case resp.Allowed:
			return fmt.Errorf("admitted, want denied with %q", want)
		case resp.Result == nil:
			return fmt.Errorf("denied without a status, want %q", want)
		case resp.Result.Code != http.StatusForbidden || resp.Result.Reason != metav1.StatusReasonForbidden || resp.Result.Message != want:
			return fmt.Errorf("denied with %d %s %q, want 403 Forbidden %q", resp.Result.Code, resp.Result.Reason, resp.Result.Message, want)
		}
		return nil
	}
}

// checkOnce runs a check once, outside a load.
func checkOnce(ctx context.Context, check harness.Check) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	return check(ctx, 0)
}

var _ = Describe("faults against the real control plane", Ordered, func() {
	var (
		release *harness.Release
		// primary is the webhook process PrepareWebhook runs; replica the
		// second one that the graceful shutdown spec adds.
		primary, replica *harness.Webhook
		// loadClient is an admin clientset without client-side rate limits.
		loadClient kubernetes.Interface
		configFile string

		// The cases: admitted in the labelled namespace; denied there for
		// its user; denied in the plain namespace, which no rule selects.
		admitted  = &reviewCase{key: "system", namespace: labelledNamespace, user: `NT AUTHORITY\SYSTEM`}
		badUser   = &reviewCase{key: "anonymous", namespace: labelledNamespace, user: `NT AUTHORITY\ANONYMOUS LOGON`}
		plainNS   = &reviewCase{key: "plain", namespace: plainNamespace, user: `NT AUTHORITY\SYSTEM`}
		cases     = []*reviewCase{admitted, badUser, plainNS}
		labelling = map[string]map[string]string{
			labelledNamespace: {faultsRuleLabel: faultsRuleValue},
			plainNamespace:    nil,
		}
	)

	// apiChecks and directChecks are the load's requests for every case.
	apiChecks := func(prefix string) map[string]harness.Check {
		m := map[string]harness.Check{}
		for _, c := range cases {
			m["api-"+c.key] = apiCheck(loadClient, c, prefix)
		}
		return m
	}
	directChecks := func(rv *harness.Reviewer, label, prefix string) map[string]harness.Check {
		m := map[string]harness.Check{}
		for _, c := range cases {
			m["direct-"+label+"-"+c.key] = directCheck(rv, c, prefix)
		}
		return m
	}
	merge := func(ms ...map[string]harness.Check) map[string]harness.Check {
		out := map[string]harness.Check{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	// waitForMore waits until the load has completed n more requests.
	waitForMore := func(ctx SpecContext, load *harness.Load, n int) {
		GinkgoHelper()
		target := load.Completed() + n
		Eventually(load.Completed).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(100 * time.Millisecond).
			Should(BeNumerically(">=", target))
	}
	certSecret := func(ctx SpecContext) *corev1.Secret {
		GinkgoHelper()
		s, err := cluster.Clientset.CoreV1().Secrets(faultsNamespace).Get(ctx, faultsRelease+"-cert", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		return s
	}

	BeforeAll(func(ctx SpecContext) {
		By("helm install " + faultsRelease + " -n " + faultsNamespace + " with one namespace rule (label " + faultsRuleLabel + "=" + faultsRuleValue + ")")
		configFile = filepath.Join(cluster.Dir, "faults-config.yaml")
		Expect(os.WriteFile(configFile, []byte(faultsConfig), 0o600)).To(Succeed())
		values, err := harness.ConfigValues(configFile, cluster.Dir)
		Expect(err).NotTo(HaveOccurred())
		var res harness.Result
		release, res = cluster.HelmInstall(ctx, chart, faultsRelease, faultsNamespace, "-f", values)
		Expect(res.Failed()).To(BeFalse(), res.String())
		DeferCleanup(func(ctx SpecContext) {
			By("helm uninstall " + faultsRelease + ", stopping its webhook processes and removing their EndpointSlices")
			res := release.Uninstall(ctx)
			Expect(res.Failed()).To(BeFalse(), res.String())
			for _, w := range []*harness.Webhook{primary, replica} {
				if w != nil {
					w.Stop(30 * time.Second)
					Expect(w.RemoveEndpoint(ctx)).To(Succeed())
				}
			}
		})

		By("creating namespace " + labelledNamespace + " (labelled) and " + plainNamespace)
		for name, labels := range labelling {
			_, err := cluster.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}

		By("asking the offline check command for the expected verdicts")
		expectedViolations(ctx, configFile, labelling, cases)
		Expect(admitted.violations).To(BeEmpty())
		Expect(badUser.violations).To(HaveLen(1))
		Expect(badUser.violations[0]).To(ContainSubstring(`"NT AUTHORITY\ANONYMOUS LOGON" is not allowed`))
		Expect(plainNS.violations).To(HaveLen(1))
		Expect(plainNS.violations[0]).To(ContainSubstring(`namespace "` + plainNamespace + `" is not allowed`))

		By("running the webhook container behind the release's Service")
		primary, err = release.PrepareWebhook(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(primary.Start(ctx)).To(Succeed())
		Expect(primary.WaitReady(ctx)).To(Succeed())
		Expect(release.WaitCABundle(ctx, faultsRelease+"-cert")).To(Succeed())

		cfg := rest.CopyConfig(cluster.Config)
		cfg.QPS, cfg.Burst, cfg.Timeout = -1, 0, loadTimeout
		loadClient, err = kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())

		By("checking every case once through the API server")
		Eventually(func(g Gomega) {
			for _, check := range apiChecks("first") {
				g.Expect(checkOnce(ctx, check)).To(Succeed())
			}
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			for _, w := range []*harness.Webhook{primary, replica} {
				if w != nil {
					AddReportEntry("webhook log "+w.Dir, w.Logs())
				}
			}
		}
	})

	It("serves a rotated certificate without failing a review under load", func(ctx SpecContext) {
		rv, err := primary.Reviewer(ctx)
		Expect(err).NotTo(HaveOccurred())
		pid, starts := primary.Process.Pid(), primary.Starts
		servedNow := func() []byte {
			GinkgoHelper()
			c, err := rv.ServingCertificate(ctx)
			Expect(err).NotTo(HaveOccurred())
			return c.Raw
		}
		original, err := harness.ParseCertificatePEM(certSecret(ctx).Data["tls.crt"])
		Expect(err).NotTo(HaveOccurred())
		Expect(servedNow()).To(Equal(original.Raw), "the webhook serves the Secret's certificate")

		By("starting the load: 6 workers, dry-run creates through the API server and AdmissionReviews straight to the webhook, each on a new TLS connection")
		load := harness.StartLoad(6, loadTimeout, merge(apiChecks("rotate"), directChecks(rv, "primary", "rotate")))
		stopped := false
		defer func() {
			if !stopped {
				load.Stop()
			}
		}()
		waitForMore(ctx, load, 100)

		By("rotation 1: a new serving certificate for the same names, signed by the CA of the caBundle, written into the certificate Secret")
		secret := certSecret(ctx)
		Expect(secret.Data).To(HaveKey("ca.key"))
		names := original.DNSNames
		Expect(names).To(ContainElement(faultsRelease + "." + faultsNamespace + ".svc"))
		certPEM, keyPEM, rotated, err := harness.IssueServingCert(secret.Data["ca.crt"], secret.Data["ca.key"], names, 365*24*time.Hour)
		Expect(err).NotTo(HaveOccurred())
		Expect(rotated.SerialNumber).NotTo(Equal(original.SerialNumber))
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			s := certSecret(ctx)
			s.Data["tls.crt"], s.Data["tls.key"] = certPEM, keyPEM
			_, err := cluster.Clientset.CoreV1().Secrets(faultsNamespace).Update(ctx, s, metav1.UpdateOptions{})
			return err
		})).To(Succeed())
		Eventually(servedNow).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).Should(Equal(rotated.Raw),
			"the webhook serves the new certificate (serial %x)", rotated.SerialNumber)
		served, err := rv.ServingCertificate(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(served.SerialNumber).To(Equal(rotated.SerialNumber))
		Expect(certSecret(ctx).Data["tls.crt"]).To(Equal(certPEM), "the rotator keeps a valid certificate that someone else wrote")
		waitForMore(ctx, load, 100)

		By("rotation 2: a certificate that expires within the rotator's renewal window (30 days), which the webhook renews itself")
		certPEM, keyPEM, expiring, err := harness.IssueServingCert(secret.Data["ca.crt"], secret.Data["ca.key"], names, 30*24*time.Hour)
		Expect(err).NotTo(HaveOccurred())
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			s := certSecret(ctx)
			s.Data["tls.crt"], s.Data["tls.key"] = certPEM, keyPEM
			_, err := cluster.Clientset.CoreV1().Secrets(faultsNamespace).Update(ctx, s, metav1.UpdateOptions{})
			return err
		})).To(Succeed())
		var renewed []byte
		Eventually(func(g Gomega) {
			pem := certSecret(ctx).Data["tls.crt"]
			c, err := harness.ParseCertificatePEM(pem)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(c.Raw).NotTo(Equal(expiring.Raw), "the expiring certificate is still in the Secret")
			g.Expect(c.Raw).NotTo(Equal(rotated.Raw))
			g.Expect(c.NotAfter).To(BeTemporally(">", time.Now().Add(300*24*time.Hour)))
			renewed = c.Raw
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		Eventually(servedNow).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).Should(Equal(renewed),
			"the webhook serves the certificate it renewed")
		waitForMore(ctx, load, 100)

		report := load.Stop()
		stopped = true
		AddReportEntry("load during certificate rotation", report.String())
		GinkgoWriter.Println("load during certificate rotation:", report.String())
		Expect(report.TotalFailed).To(BeZero(), report.String())
		for name, n := range report.Sent {
			Expect(n).To(BeNumerically(">=", 5), "requests of %s", name)
		}
		Expect(primary.Process.Running()).To(BeTrue())
		Expect(primary.Process.Pid()).To(Equal(pid))
		Expect(primary.Starts).To(Equal(starts))
	})

	It("drains one of two replicas on SIGTERM without failing a review", func(ctx SpecContext) {
		By("starting a second replica behind the same Service, with an EndpointSlice of its own")
		var err error
		replica, err = release.PrepareReplica(ctx, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(replica.Port).To(Equal(primary.Port + harness.ReplicaPortShift))
		Expect(replica.Start(ctx)).To(Succeed())
		Expect(replica.WaitReady(ctx)).To(Succeed())
		Expect(primary.Args).To(ContainElement(MatchRegexp(`^--shutdown-delay=[1-9]`)), "the chart sets a shutdown delay")

		answered := func(w *harness.Webhook) float64 {
			GinkgoHelper()
			n, err := w.ReviewsAnswered(ctx)
			Expect(err).NotTo(HaveOccurred())
			return n
		}
		primaryBefore, replicaBefore := answered(primary), answered(replica)

		By("starting the load: 6 workers, dry-run creates through the API server")
		load := harness.StartLoad(6, loadTimeout, apiChecks("drain"))
		stopped := false
		defer func() {
			if !stopped {
				load.Stop()
			}
		}()
		By("waiting until the API server has called both replicas")
		Eventually(func(g Gomega) {
			p, err := primary.ReviewsAnswered(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			r, err := replica.ReviewsAnswered(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p - primaryBefore).To(BeNumerically(">=", 10))
			g.Expect(r - replicaBefore).To(BeNumerically(">=", 10))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		By("terminating the first replica as Kubernetes does: endpoint not ready and terminating, and SIGTERM, at the same moment")
		rv, err := primary.Reviewer(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(primary.Terminate(ctx)).To(Succeed())
		terminated := time.Now()
		atTermination := load.Completed()

		By("checking that it fails readiness and then keeps answering during its shutdown delay")
		// The manager cancels the webhook server, which fails readiness and
		// starts the delay, after it has stopped its other runnables, so
		// not at the very moment of SIGTERM.
		Eventually(func() (int, error) {
			resp, err := http.Get(primary.ReadyURL)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}).WithContext(ctx).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).
			Should(Equal(http.StatusInternalServerError), "readiness of a replica that got SIGTERM")
		notReady := time.Since(terminated)
		for _, check := range directChecks(rv, "terminating", "terminating") {
			Expect(checkOnce(ctx, check)).To(Succeed())
		}
		Expect(primary.Process.Running()).To(BeTrue(), "answered within the shutdown delay")

		By("waiting for it to exit, then removing its endpoint as the EndpointSlice controller does for a pod that is gone")
		Eventually(primary.Process.Exited()).WithContext(ctx).WithTimeout(2 * time.Minute).Should(BeClosed())
		exited := time.Since(terminated)
		Expect(primary.Process.ExitErr()).NotTo(HaveOccurred(), "exit status of the terminated replica\n%s", primary.Process.Logs())
		Expect(primary.RemoveEndpoint(ctx)).To(Succeed())
		replicaAtExit := answered(replica)
		waitForMore(ctx, load, 100)

		report := load.Stop()
		stopped = true
		entry := fmt.Sprintf("%s; %d requests completed after SIGTERM; the terminated replica failed readiness %s and exited %s after SIGTERM",
			report.String(), report.Total-atTermination, notReady.Round(time.Millisecond), exited.Round(100*time.Millisecond))
		AddReportEntry("load during the termination of one replica", entry)
		GinkgoWriter.Println("load during the termination of one replica:", entry)
		Expect(report.TotalFailed).To(BeZero(), report.String())
		Expect(answered(replica)).To(BeNumerically(">=", replicaAtExit+30), "the remaining replica answered the load after the other exited")
		Expect(replica.Process.Running()).To(BeTrue())
		Expect(replica.Starts).To(Equal(1))
	})

	It("answers from its namespace cache through a 30s API server outage, and its watches recover without a restart", func(ctx SpecContext) {
		By("running two replicas behind the Service, as the chart does (replicaCount 2)")
		if replica == nil { // the graceful shutdown spec did not run (-ginkgo.focus)
			var err error
			replica, err = release.PrepareReplica(ctx, 1)
			Expect(err).NotTo(HaveOccurred())
		}
		for _, w := range []*harness.Webhook{primary, replica} {
			if w.Process == nil || !w.Process.Running() {
				// A new pod for the one the graceful shutdown spec deleted.
				Expect(w.Start(ctx)).To(Succeed())
				Expect(w.WaitReady(ctx)).To(Succeed())
				Expect(w.PublishEndpoint(ctx)).To(Succeed())
			}
		}

		By("finding the replica that holds the leader-election lease (for the background audit)")
		var leader, follower *harness.Webhook
		Eventually(func(g Gomega) {
			var leaders []*harness.Webhook
			for _, w := range []*harness.Webhook{primary, replica} {
				if strings.Contains(strings.ToLower(w.Process.Logs()), "successfully acquired lease") {
					leaders = append(leaders, w)
				}
			}
			g.Expect(leaders).To(HaveLen(1), "replicas whose current process logged that it acquired the lease")
			leader = leaders[0]
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		follower = primary
		if leader == primary {
			follower = replica
		}
		followerPid, followerStarts := follower.Process.Pid(), follower.Starts
		leaderPid, leaderStarts := leader.Process.Pid(), leader.Starts
		leaderRV, err := leader.Reviewer(ctx)
		Expect(err).NotTo(HaveOccurred())
		followerRV, err := follower.Reviewer(ctx)
		Expect(err).NotTo(HaveOccurred())

		By("checking every case straight at both replicas before the outage")
		for _, check := range merge(directChecks(leaderRV, "leader", "before"), directChecks(followerRV, "follower", "before")) {
			Expect(checkOnce(ctx, check)).To(Succeed())
		}

		By(fmt.Sprintf("stopping kube-apiserver for %s while AdmissionReviews go straight to both replicas", outage))
		Expect(cluster.StopAPIServer(ctx)).To(Succeed())
		restarted := false
		defer func() {
			if !restarted {
				Expect(cluster.StartAPIServer(context.WithoutCancel(ctx))).To(Succeed())
			}
		}()
		_, err = cluster.Clientset.CoreV1().Namespaces().Get(ctx, plainNamespace, metav1.GetOptions{})
		Expect(err).To(MatchError(ContainSubstring("connection refused")), "the API server is down")
		followerLoad := harness.StartLoad(3, loadTimeout, directChecks(followerRV, "follower", "outage"))
		leaderLoad := harness.StartLoad(1, loadTimeout, directChecks(leaderRV, "leader", "outage"))
		time.Sleep(outage)
		followerReport, leaderReport := followerLoad.Stop(), leaderLoad.Stop()
		AddReportEntry("AdmissionReviews to the replica without the lease during the API server outage", followerReport.String())
		AddReportEntry("AdmissionReviews to the lease holder during the API server outage", leaderReport.String())
		GinkgoWriter.Println("AdmissionReviews to the replica without the lease during the API server outage:", followerReport.String())
		GinkgoWriter.Println("AdmissionReviews to the lease holder during the API server outage:", leaderReport.String())
		Expect(followerReport.TotalFailed).To(BeZero(), followerReport.String())
		for name, n := range followerReport.Sent {
			Expect(n).To(BeNumerically(">=", 5), "requests of %s", name)
		}
		Expect(follower.Process.Running()).To(BeTrue(), "the replica without the lease survived the outage\n%s", follower.Process.Logs())
		// The lease holder cannot renew for longer than the renew deadline
		// (10s): it stops its audit and campaigns again, and keeps serving.
		Expect(leader.Process.Running()).To(BeTrue(), "the lease holder survived the outage\n%s", leader.Process.Logs())
		Expect(leaderReport.TotalFailed).To(BeZero(), leaderReport.String())
		Expect(leader.Process.Pid()).To(Equal(leaderPid))
		Expect(leader.Process.Logs()).To(ContainSubstring("lost the lease; the work stopped and this replica campaigns again"))

		By("starting kube-apiserver again with the same flags, port and certificates")
		Expect(cluster.StartAPIServer(ctx)).To(Succeed())
		restarted = true
		Expect(follower.Process.Running()).To(BeTrue())
		Expect(follower.Process.Pid()).To(Equal(followerPid))
		Expect(follower.Starts).To(Equal(followerStarts))
		Expect(leader.Process.Pid()).To(Equal(leaderPid))
		Expect(leader.Starts).To(Equal(leaderStarts))

		By("moving the label from " + labelledNamespace + " to " + plainNamespace + ": the verdicts must follow, through the webhook's watch")
		relabelled := map[string]map[string]string{
			labelledNamespace: nil,
			plainNamespace:    {faultsRuleLabel: faultsRuleValue},
		}
		before := map[string][]string{}
		for _, c := range cases {
			before[c.key] = c.violations
		}
		expectedViolations(ctx, configFile, relabelled, cases)
		Expect(plainNS.violations).To(BeEmpty(), "a SYSTEM pod in the newly labelled namespace is admitted")
		Expect(admitted.violations).To(HaveLen(1))
		Expect(admitted.violations[0]).To(ContainSubstring(`namespace "` + labelledNamespace + `" is not allowed`))
		Expect(badUser.violations).NotTo(Equal(before[badUser.key]))
		for name, labels := range relabelled {
			Eventually(func() error {
				return retry.RetryOnConflict(retry.DefaultRetry, func() error {
					ns, err := cluster.Clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					delete(ns.Labels, faultsRuleLabel)
					if ns.Labels == nil {
						ns.Labels = map[string]string{}
					}
					for k, v := range labels {
						ns.Labels[k] = v
					}
					_, err = cluster.Clientset.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
					return err
				})
			}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		}
		relabelledAt := time.Now()
		checks := merge(apiChecks("after"), directChecks(followerRV, "follower", "after"), directChecks(leaderRV, "leader", "after"))
		Eventually(func(g Gomega) {
			for _, check := range checks {
				g.Expect(checkOnce(ctx, check)).To(Succeed())
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		AddReportEntry("new namespace labels in force after the API server restart", time.Since(relabelledAt).Round(100*time.Millisecond).String())
		Expect(follower.Process.Pid()).To(Equal(followerPid))
		Expect(follower.Starts).To(Equal(followerStarts))
		Expect(follower.WaitReady(ctx)).To(Succeed())
		for _, w := range []*harness.Webhook{leader, follower} {
			Expect(w.WaitReady(ctx)).To(Succeed())
		}
		Expect(leader.Process.Pid()).To(Equal(leaderPid))
		Expect(leader.Starts).To(Equal(leaderStarts))
	})
})
