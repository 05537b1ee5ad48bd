//go:build !windows

package nativepolicy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/servetest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/nativepolicy"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// cluster is one real control plane that answers requests either through
// the webhook (the serve binary) or through the generated native policies.
type cluster struct {
	name     string
	env      *testenv.Env
	cs       *kubernetes.Clientset
	http     *http.Client
	host     string
	auditLog string
	// serve is the webhook's configuration file (webhook clusters only).
	serveConfig string
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update]
  resources:
  - group: ""
    resources: [pods, pods/ephemeralcontainers, pods/status, pods/binding, podtemplates, replicationcontrollers]
  - group: apps
  - group: batch
- level: None
`

// startCluster starts a control plane with an audit log; nil, with the test
// failed, when it cannot. withWebhook installs
// the webhook configurations (every pod-bearing resource, no
// matchConditions: the webhook decides) for a serve process.
func startCluster(t *testing.T, name string, withWebhook bool) *cluster {
	t.Helper()
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policyFile, []byte(auditPolicy), 0o600); err != nil {
		t.Error(err)
		return nil
	}
	c := &cluster{name: name, auditLog: filepath.Join(dir, "audit.log")}
	opts := []testenv.Option{testenv.WithAPIServerFlags(
		"--audit-policy-file="+policyFile,
		"--audit-log-path="+c.auditLog,
		"--audit-log-mode=blocking",
		"--audit-log-format=json",
	), testenv.WithStartTimeout(120 * time.Second), testenv.WithLogger(logr.Discard())}
	if withWebhook {
		opts = append(opts, testenv.WithWebhookInstallOptions(webhookConfigurations()))
	}
	// testenv.New, not Start: this may run in a goroutine of its own, where
	// t.Fatal must not be called.
	env, err := testenv.New(opts...)
	if err != nil {
		t.Errorf("starting the %s control plane: %v", name, err)
		return nil
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the %s control plane: %v", name, err)
		}
	})
	c.env = env
	cfg := rest.CopyConfig(c.env.Config)
	cfg.QPS, cfg.Burst = -1, -1
	c.cs = kubernetes.NewForConfigOrDie(cfg)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Error(err)
		return nil
	}
	c.http, c.host = hc, strings.TrimSuffix(cfg.Host, "/")
	return c
}

func webhookConfigurations() envtest.WebhookInstallOptions {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	rule := func(ops []admissionregistrationv1.OperationType, group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources},
		}
	}
	cu := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	create := []admissionregistrationv1.OperationType{admissionregistrationv1.Create}
	svc := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "x", Namespace: "x", Path: ptr.To(path)}}
	}
	return envtest.WebhookInstallOptions{
		ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-admission"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:         "validate.hostprocess.dev",
				ClientConfig: svc("validate"),
				Rules: []admissionregistrationv1.RuleWithOperations{
					rule(cu, "", "pods", "pods/ephemeralcontainers", "pods/status", "pods/binding", "podtemplates", "replicationcontrollers"),
					rule(cu, "apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
					rule(cu, "batch", "jobs", "cronjobs"),
				},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}},
		MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{{
			ObjectMeta: metav1.ObjectMeta{Name: "hostprocess-admission"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name:         "mutate.hostprocess.dev",
				ClientConfig: svc("mutate"),
				// Workload templates too, for defaults.workloadTemplates.
				Rules: []admissionregistrationv1.RuleWithOperations{
					rule(create, "", "pods", "podtemplates", "replicationcontrollers"),
					rule(create, "apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
					rule(create, "batch", "jobs", "cronjobs"),
				},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}},
	}
}

var (
	buildBinary = servetest.Binary
	writeFile   = servetest.WriteFile
	eventually  = servetest.Eventually
)

func TestMain(m *testing.M) { servetest.Main(m) }

// startServe runs the real serve command for c's webhook configurations.
func startServe(t *testing.T, c *cluster, _ string, cfg []byte) {
	t.Helper()
	w := c.env.Environment.WebhookInstallOptions
	p := servetest.Start(t, servetest.Options{
		Kubeconfig: c.env.Kubeconfig, CertDir: w.LocalServingCertDir, Port: w.LocalServingPort,
		Config: cfg, ReadyTimeout: 90 * time.Second,
	})
	c.serveConfig = p.ConfigPath
}

// installNative applies the generated policies for cfg to c, from their
// rendered YAML (so the YAML is what is tested), replacing earlier ones.
func installNative(t *testing.T, c *cluster, cfg *config.AdmissionConfiguration) {
	t.Helper()
	p, err := nativepolicy.Generate(cfg, nativepolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := nativepolicy.Render(p, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Decoded from the YAML again, so that what is applied is the YAML.
	var parsed nativepolicy.Policies
	for _, doc := range strings.Split(string(out), "\n---\n")[1:] {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatal(err)
		}
		switch tm.Kind {
		case "ValidatingAdmissionPolicy":
			var o admissionregistrationv1.ValidatingAdmissionPolicy
			mustUnmarshal(t, doc, &o)
			parsed.Validating = append(parsed.Validating, o)
		case "ValidatingAdmissionPolicyBinding":
			var o admissionregistrationv1.ValidatingAdmissionPolicyBinding
			mustUnmarshal(t, doc, &o)
			parsed.ValidatingBindings = append(parsed.ValidatingBindings, o)
		case "MutatingAdmissionPolicy":
			var o admissionregistrationv1.MutatingAdmissionPolicy
			mustUnmarshal(t, doc, &o)
			parsed.Mutating = append(parsed.Mutating, o)
		case "MutatingAdmissionPolicyBinding":
			var o admissionregistrationv1.MutatingAdmissionPolicyBinding
			mustUnmarshal(t, doc, &o)
			parsed.MutatingBindings = append(parsed.MutatingBindings, o)
		default:
			t.Fatalf("unexpected kind %q in the generated YAML", tm.Kind)
		}
	}
	if err := nativepolicy.Apply(context.Background(), c.cs.AdmissionregistrationV1(), &parsed); err != nil {
		t.Fatal(err)
	}
	// The policies' status.typeChecking is written by kube-controller-manager,
	// which this control plane does not run: waitForMode proves them instead.
}

func mustUnmarshal(t *testing.T, doc string, o any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), o); err != nil {
		t.Fatalf("decoding generated YAML: %v\n%s", err, doc)
	}
}

// createNamespaces creates the namespaces the cases use, with their labels,
// and gives the users the cases impersonate the right to create objects.
func createNamespaces(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	for name, labels := range testNamespaces {
		if name == "kube-system" || name == "default" {
			continue
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if _, err := c.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	for _, user := range []string{exemptUser, plainUser} {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "test-" + user},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
		}
		if _, err := c.cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// answer is what the API server said to one request, reduced to what the
// differential test compares.
type answer struct {
	// Code is the HTTP status; Message the Status message of a failure.
	Code    int
	Message string
	// Violations is the policy's part of a denial, after
	// "violates the HostProcess policy: ".
	Violations string
	// Warnings are the policy's warnings, one per violation, sorted.
	Warnings []string
	// Notes are the warnings that are not violations, joined by "; ".
	Notes string
	// Rules are the violated rule IDs from the audit annotations, sorted.
	Rules []string
	// NodeSelector and Tolerations of the admitted (possibly defaulted) pod.
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	auditID      string
}

func (a answer) String() string {
	b, _ := json.MarshalIndent(a, "  ", "  ")
	return string(b)
}

const policyMarker = "violates the HostProcess policy: "
const warnMarker = "would violate the HostProcess policy: "

// sendRaw makes one request and reduces the response; it also returns the
// response body.
func (c *cluster) sendRaw(method, path, user string, body []byte) (answer, []byte, error) {
	req, err := http.NewRequest(method, c.host+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Impersonate-User", user)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, nil, err
	}
	a := answer{Code: resp.StatusCode, auditID: resp.Header.Get("Audit-Id")}
	var notes []string
	for _, w := range resp.Header.Values("Warning") {
		vs, note := parseWarning(w)
		a.Warnings = append(a.Warnings, vs...)
		if note != "" {
			notes = append(notes, note)
		}
	}
	sort.Strings(a.Warnings)
	a.Notes = strings.Join(notes, "; ")
	if resp.StatusCode >= 300 {
		var st metav1.Status
		if err := json.Unmarshal(data, &st); err != nil {
			return a, data, fmt.Errorf("status %d: %s", resp.StatusCode, data)
		}
		a.Message = st.Message
		if i := strings.Index(st.Message, policyMarker); i >= 0 {
			a.Violations = st.Message[i+len(policyMarker):]
		}
		return a, data, nil
	}
	// The pod's, or the workload template's, node selector and tolerations
	// (defaults.workloadTemplates defaults the templates).
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return a, data, err
	}
	if k := policy.KindFor(tm.GroupVersionKind().GroupKind()); k != nil {
		obj := k.New()
		if err := json.Unmarshal(data, obj); err != nil {
			return a, data, err
		}
		if spec := k.Extract(obj).Spec; spec != nil {
			a.NodeSelector, a.Tolerations = spec.NodeSelector, spec.Tolerations
		}
	}
	return a, data, nil
}

// parseWarning reads a Warning header value (299 - "text"). It returns the
// policy's violation warnings, one per violation (the webhook sends one per
// violation, a native policy one per object with the violations joined by
// "; "), or else the text of a warning that is not a violation (the webhook
// sends one per warning, the *-warnings native policies one per object).
func parseWarning(h string) (violations []string, note string) {
	text, err := strconv.Unquote(strings.TrimPrefix(h, "299 - "))
	if err != nil {
		text = h
	}
	if i := strings.Index(text, warnMarker); i >= 0 {
		return strings.Split(text[i+len(warnMarker):], "; "+warnMarker), ""
	}
	const vap = "Validation failed for ValidatingAdmissionPolicy '"
	if strings.HasPrefix(text, vap) {
		if i := strings.Index(text, "' with binding '"); i >= 0 {
			if j := strings.Index(text[i:], "': "); j >= 0 {
				return nil, text[i+j+3:]
			}
		}
	}
	return nil, text
}

// auditRules reads c's audit log and returns, by audit ID, the rules that
// the policy's audit annotations name.
func (c *cluster) auditRules(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(c.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			AuditID     string            `json:"auditID"`
			Stage       string            `json:"stage"`
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Stage != "ResponseComplete" {
			continue
		}
		var rules []string
		for k, v := range ev.Annotations {
			switch {
			case k == "validate.hostprocess.dev/violations":
				var vs []struct {
					Rule string `json:"rule"`
				}
				if err := json.Unmarshal([]byte(v), &vs); err != nil {
					t.Fatalf("audit annotation %s: %v", k, err)
				}
				for _, x := range vs {
					rules = append(rules, x.Rule)
				}
			case strings.HasSuffix(k, ".hostprocess.dev/violations"):
				rules = append(rules, strings.Split(v, ",")...)
			}
		}
		out[ev.AuditID] = setOf(rules)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// setOf returns the distinct items, sorted.
func setOf(items []string) []string {
	if len(items) == 0 {
		return nil
	}
	m := map[string]bool{}
	var out []string
	for _, s := range items {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
