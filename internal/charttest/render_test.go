//go:build !windows

package charttest

import (
	"bufio"
	"encoding/base64"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/certs"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const fullname = release // the release name contains the chart name

func TestLintPassesInEveryCertificateMode(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"lint", "--strict", chartDir(t), "--namespace", namespace}, mode.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("helm lint:\n%s", out)
			}
		})
	}
}

func TestRenderedObjectsInEveryCertificateMode(t *testing.T) {
	common := []string{
		"ServiceAccount/" + fullname,
		"ConfigMap/" + fullname + "-config",
		"ClusterRole/" + fullname,
		"ClusterRoleBinding/" + fullname,
		"Service/" + fullname,
		"Deployment/" + fullname,
		"PodDisruptionBudget/" + fullname,
		"ValidatingWebhookConfiguration/" + fullname,
		"MutatingWebhookConfiguration/" + fullname,
		"CustomResourceDefinition/reports.openreports.io",
		"CustomResourceDefinition/clusterreports.openreports.io",
		"CustomResourceDefinition/hostprocessexceptions.hostprocess.dev",
		"Role/" + fullname + "-leader-election",
		"RoleBinding/" + fullname + "-leader-election",
	}
	want := map[string][]string{
		"selfManaged": append(slices.Clone(common), "Secret/"+fullname+"-cert", "Role/"+fullname, "RoleBinding/"+fullname),
		"certManager": append(slices.Clone(common), "Issuer/"+fullname+"-selfsigned", "Certificate/"+fullname+"-serving"),
		"external":    common,
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			m := render(t, mode.args...)
			got := m.kinds()
			slices.Sort(got)
			w := slices.Clone(want[mode.name])
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Errorf("objects:\n got %v\nwant %v", got, w)
			}
			for _, o := range m.objs {
				if o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" && o.GetKind() != "CustomResourceDefinition" &&
					!strings.HasSuffix(o.GetKind(), "WebhookConfiguration") && o.GetNamespace() != namespace {
					t.Errorf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), namespace)
				}
			}
		})
	}
}

// celFromDocs returns the CEL expressions that docs/install.md writes down,
// by marker: <!-- cel: WEBHOOK/CONDITION --> followed by a fenced block.
func celFromDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(repoFile(t, "docs/install.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	marker := regexp.MustCompile(`^<!-- cel: (\S+) -->$`)
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	var name string
	var in bool
	var body []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case marker.MatchString(line):
			name = marker.FindStringSubmatch(line)[1]
		case name != "" && !in && strings.HasPrefix(line, "```"):
			in, body = true, nil
		case in && strings.HasPrefix(line, "```"):
			out[name] = strings.Join(body, "\n")
			in, name = false, ""
		case in:
			body = append(body, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// squash removes all whitespace: the docs break the expressions into lines,
// and no string literal in them holds a space.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

func TestMatchConditionsAreTheDocumentedCEL(t *testing.T) {
	docs := celFromDocs(t)
	m := render(t)
	vwc := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration", fullname)
	mwc := get[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
	got := map[string]string{}
	for _, w := range vwc.Webhooks {
		for _, c := range w.MatchConditions {
			got[w.Name+"/"+c.Name] = c.Expression
		}
	}
	for _, w := range mwc.Webhooks {
		for _, c := range w.MatchConditions {
			got[w.Name+"/"+c.Name] = c.Expression
		}
	}
	want := []string{
		"validate.hostprocess.dev/hostprocess-pod-change",
		"validate-workloads.hostprocess.dev/hostprocess-template",
		"validate-workloads.hostprocess.dev/changes-template",
		"mutate.hostprocess.dev/hostprocess-pod-lacking-defaults",
	}
	gotNames := slices.Sorted(maps.Keys(got))
	if !slices.Equal(gotNames, slices.Sorted(slices.Values(want))) {
		t.Fatalf("matchConditions %v, want %v", gotNames, want)
	}
	for _, name := range want {
		doc, ok := docs[name]
		if !ok {
			t.Errorf("docs/install.md does not write down %s", name)
			continue
		}
		if squash(doc) != squash(got[name]) {
			t.Errorf("%s differs from docs/install.md:\nchart: %s\ndocs:  %s", name, got[name], squash(doc))
		}
	}
}

func TestWebhookConfigurations(t *testing.T) {
	wantSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{namespace}},
		{Key: "hostprocess.dev/webhook", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"disabled"}},
	}}
	podRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE"},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
			Resources: []string{"pods", "pods/ephemeralcontainers", "pods/status", "pods/binding"}, Scope: new(admissionregistrationv1.NamespacedScope)},
	}}
	workloadRules := []admissionregistrationv1.RuleWithOperations{
		{Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"apps"}, APIVersions: []string{"v1"},
			Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Scope: new(admissionregistrationv1.NamespacedScope)}},
		{Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"batch"}, APIVersions: []string{"v1"},
			Resources: []string{"jobs", "cronjobs"}, Scope: new(admissionregistrationv1.NamespacedScope)}},
		{Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"},
			Resources: []string{"replicationcontrollers", "podtemplates"}, Scope: new(admissionregistrationv1.NamespacedScope)}},
	}
	mutateRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{"CREATE"},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
			Resources: []string{"pods"}, Scope: new(admissionregistrationv1.NamespacedScope)},
	}}
	service := func(path string) *admissionregistrationv1.ServiceReference {
		return &admissionregistrationv1.ServiceReference{Namespace: namespace, Name: fullname, Path: new(path), Port: new(int32(443))}
	}

	type hook struct {
		name          string
		failurePolicy admissionregistrationv1.FailurePolicyType
		rules         []admissionregistrationv1.RuleWithOperations
		path          string
	}
	tests := []struct {
		name       string
		args       []string
		validating []hook
		caBundle   []byte
		annotation string
	}{
		{
			name: "by default pods fail closed and workloads are ignored on failure",
			validating: []hook{
				{"validate.hostprocess.dev", "Fail", podRules, "/validate"},
				{"validate-workloads.hostprocess.dev", "Ignore", workloadRules, "/validate"},
			},
		},
		{
			name: "the workload failure policy is a value",
			args: []string{"--set", "webhook.workloads.failurePolicy=Fail"},
			validating: []hook{
				{"validate.hostprocess.dev", "Fail", podRules, "/validate"},
				{"validate-workloads.hostprocess.dev", "Fail", workloadRules, "/validate"},
			},
		},
		{
			name:       "workloads can be left out",
			args:       []string{"--set", "webhook.workloads.enabled=false"},
			validating: []hook{{"validate.hostprocess.dev", "Fail", podRules, "/validate"}},
		},
		{
			name:       "certManager injects the CA from the Certificate",
			args:       modes[1].args,
			validating: []hook{{"validate.hostprocess.dev", "Fail", podRules, "/validate"}, {"validate-workloads.hostprocess.dev", "Ignore", workloadRules, "/validate"}},
			annotation: namespace + "/" + fullname + "-serving",
		},
		{
			name:       "external sets the given CA bundle",
			args:       modes[2].args,
			validating: []hook{{"validate.hostprocess.dev", "Fail", podRules, "/validate"}, {"validate-workloads.hostprocess.dev", "Ignore", workloadRules, "/validate"}},
			caBundle:   mustBase64(t, testCABundle),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.args...)
			vwc := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration", fullname)
			mwc := get[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration", fullname)
			// The exceptions' webhooks are TestExceptionWebhooks'.
			vwc.Webhooks = withoutExceptionHooks(vwc.Webhooks)
			mwc.Webhooks = withoutExceptionHooks(mwc.Webhooks)
			for _, a := range []map[string]string{vwc.Annotations, mwc.Annotations} {
				if got := a["cert-manager.io/inject-ca-from"]; got != tc.annotation {
					t.Errorf("cert-manager.io/inject-ca-from = %q, want %q", got, tc.annotation)
				}
			}
			if len(vwc.Webhooks) != len(tc.validating) {
				t.Fatalf("%d validating webhooks, want %d", len(vwc.Webhooks), len(tc.validating))
			}
			for i, w := range vwc.Webhooks {
				want := tc.validating[i]
				if w.Name != want.name {
					t.Errorf("webhook %d: name %s, want %s", i, w.Name, want.name)
				}
				if *w.FailurePolicy != want.failurePolicy {
					t.Errorf("%s: failurePolicy %s, want %s", w.Name, *w.FailurePolicy, want.failurePolicy)
				}
				if !reflect.DeepEqual(w.Rules, want.rules) {
					t.Errorf("%s: rules %+v, want %+v", w.Name, w.Rules, want.rules)
				}
				checkFixedFields(t, w.Name, w.ClientConfig, service(want.path), tc.caBundle, w.NamespaceSelector, wantSelector,
					w.SideEffects, w.TimeoutSeconds, w.AdmissionReviewVersions, w.MatchPolicy, w.ObjectSelector)
			}
			if len(mwc.Webhooks) != 1 {
				t.Fatalf("%d mutating webhooks, want 1", len(mwc.Webhooks))
			}
			w := mwc.Webhooks[0]
			if w.Name != "mutate.hostprocess.dev" || *w.FailurePolicy != "Fail" || !reflect.DeepEqual(w.Rules, mutateRules) {
				t.Errorf("mutating webhook %s, failurePolicy %s, rules %+v", w.Name, *w.FailurePolicy, w.Rules)
			}
			if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
				t.Errorf("reinvocationPolicy %v, want IfNeeded", w.ReinvocationPolicy)
			}
			checkFixedFields(t, w.Name, w.ClientConfig, service("/mutate"), tc.caBundle, w.NamespaceSelector, wantSelector,
				w.SideEffects, w.TimeoutSeconds, w.AdmissionReviewVersions, w.MatchPolicy, w.ObjectSelector)
		})
	}
}

func checkFixedFields(t *testing.T, name string, cc admissionregistrationv1.WebhookClientConfig, svc *admissionregistrationv1.ServiceReference,
	caBundle []byte, sel, wantSel *metav1.LabelSelector, se *admissionregistrationv1.SideEffectClass, timeout *int32,
	versions []string, mp *admissionregistrationv1.MatchPolicyType, objSel *metav1.LabelSelector) {
	t.Helper()
	if !reflect.DeepEqual(cc.Service, svc) || cc.URL != nil {
		t.Errorf("%s: clientConfig %+v, want service %+v", name, cc, svc)
	}
	if string(cc.CABundle) != string(caBundle) {
		t.Errorf("%s: caBundle %q, want %q", name, cc.CABundle, caBundle)
	}
	if !reflect.DeepEqual(sel, wantSel) {
		t.Errorf("%s: namespaceSelector %+v, want %+v", name, sel, wantSel)
	}
	if se == nil || *se != admissionregistrationv1.SideEffectClassNone {
		t.Errorf("%s: sideEffects %v, want None", name, se)
	}
	if timeout == nil || *timeout != 5 {
		t.Errorf("%s: timeoutSeconds %v, want 5", name, timeout)
	}
	if !slices.Equal(versions, []string{"v1"}) {
		t.Errorf("%s: admissionReviewVersions %v, want [v1]", name, versions)
	}
	if mp == nil || *mp != admissionregistrationv1.Equivalent {
		t.Errorf("%s: matchPolicy %v, want Equivalent", name, mp)
	}
	if objSel != nil {
		t.Errorf("%s: objectSelector %+v, want none", name, objSel)
	}
}

func mustBase64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNamespaceSelectorAddsExcludedNamespacesAfterTheReleaseNamespace(t *testing.T) {
	m := render(t, "--set", "webhook.excludedNamespaces={tigera-operator,hostprocess-system}")
	vwc := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration", fullname)
	got := vwc.Webhooks[0].NamespaceSelector.MatchExpressions[0]
	want := metav1.LabelSelectorRequirement{Key: "kubernetes.io/metadata.name", Operator: "NotIn", Values: []string{namespace, "tigera-operator"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDeployment(t *testing.T) {
	m := render(t)
	d := get[appsv1.Deployment](t, m, "Deployment", fullname)
	spec := &d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)

	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	if sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector); !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector %v does not match its pods %v", sel, podLabels)
	}
	if !reflect.DeepEqual(spec.NodeSelector, map[string]string{"kubernetes.io/os": "linux"}) {
		t.Errorf("nodeSelector %v, want kubernetes.io/os: linux", spec.NodeSelector)
	}
	if spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priorityClassName %q", spec.PriorityClassName)
	}
	aa := spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(aa) != 1 || aa[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Fatalf("pod anti-affinity %+v, want one preferred term on kubernetes.io/hostname", spec.Affinity.PodAntiAffinity)
	}
	if sel, _ := metav1.LabelSelectorAsSelector(aa[0].PodAffinityTerm.LabelSelector); !sel.Matches(podLabels) {
		t.Errorf("the anti-affinity selector %v does not match the webhook pods", sel)
	}

	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	psc, sc := spec.SecurityContext, c.SecurityContext
	switch {
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot, sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("runAsNonRoot is not true")
	case psc.RunAsUser == nil || *psc.RunAsUser == 0:
		t.Error("runAsUser is not a non-root UID")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("the root filesystem is not read-only")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want drop [ALL]", sc.Capabilities)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("no RuntimeDefault seccomp profile")
	}
	// The Pod Security Admission library's own restricted checks.
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := psapolicy.AggregateCheckResults(eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()},
		&d.Spec.Template.ObjectMeta, spec))
	if !res.Allowed {
		t.Errorf("the webhook pod breaks the restricted Pod Security Standard: %s", res.ForbiddenDetail())
	}

	probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	for path, p := range probes {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("probes") {
			t.Errorf("probe for %s: %+v", path, p)
		}
	}
	if port := containerPort(c, "probes"); port != 8081 {
		t.Errorf("probes port %d, want 8081", port)
	}

	// The configuration is a ConfigMap mounted as a directory (no subPath),
	// so that the kubelet updates it in place.
	var mounted bool
	for _, vm := range c.VolumeMounts {
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			t.Errorf("volume %s is mounted with a subPath", vm.Name)
		}
		if vm.Name == "config" && vm.MountPath == "/etc/hostprocess-admission" {
			mounted = true
		}
	}
	if !mounted {
		t.Error("the config volume is not mounted at /etc/hostprocess-admission")
	}
	if v := volume(spec, "config"); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != fullname+"-config" {
		t.Errorf("config volume %+v", v)
	}

	args := c.Args
	for _, want := range []string{"serve", "--config=/etc/hostprocess-admission/config.yaml", "--cert-dir=/var/run/hostprocess-admission/certs",
		"--port=9443", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--shutdown-delay=5s"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	delay, err := time.ParseDuration(flagValue(args, "--shutdown-delay"))
	if err != nil {
		t.Fatal(err)
	}
	if grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second; grace <= delay+10*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s leaves too little after --shutdown-delay %s", grace, delay)
	}
}

func TestDeploymentCertificatesPerMode(t *testing.T) {
	tests := []struct {
		mode       int
		certFlags  []string
		secretName string // "" means an emptyDir
	}{
		{0, []string{"--cert-rotation", "--cert-secret=" + namespace + "/" + fullname + "-cert", "--cert-service=" + namespace + "/" + fullname,
			"--validating-webhook-configuration=" + fullname, "--mutating-webhook-configuration=" + fullname}, ""},
		{1, nil, fullname + "-cert"},
		{2, nil, "webhook-tls"},
	}
	for _, tc := range tests {
		t.Run(modes[tc.mode].name, func(t *testing.T) {
			m := render(t, modes[tc.mode].args...)
			d := get[appsv1.Deployment](t, m, "Deployment", fullname)
			var got []string
			for _, a := range d.Spec.Template.Spec.Containers[0].Args {
				name := strings.SplitN(a, "=", 2)[0]
				if name != "--cert-dir" && (strings.HasPrefix(name, "--cert-") || strings.HasSuffix(name, "-webhook-configuration")) {
					got = append(got, a)
				}
			}
			if !slices.Equal(got, tc.certFlags) {
				t.Errorf("certificate flags %v, want %v", got, tc.certFlags)
			}
			v := volume(&d.Spec.Template.Spec, "certs")
			switch {
			case v == nil:
				t.Fatal("no certs volume")
			case tc.secretName == "" && v.EmptyDir == nil:
				t.Errorf("certs volume %+v, want an emptyDir the webhook writes", v.VolumeSource)
			case tc.secretName != "" && (v.Secret == nil || v.Secret.SecretName != tc.secretName):
				t.Errorf("certs volume %+v, want Secret %s", v.VolumeSource, tc.secretName)
			}
		})
	}
}

func TestAntiAffinityValues(t *testing.T) {
	m := render(t, "--set", "podAntiAffinity=hard", "--set", "replicaCount=3")
	d := get[appsv1.Deployment](t, m, "Deployment", fullname)
	req := d.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(req) != 1 || req[0].TopologyKey != "kubernetes.io/hostname" || *d.Spec.Replicas != 3 {
		t.Errorf("hard anti-affinity: %+v, replicas %d", d.Spec.Template.Spec.Affinity, *d.Spec.Replicas)
	}
	m = render(t, "--set", "podAntiAffinity=none", "--set", "nodeSelector.pool=system")
	d = get[appsv1.Deployment](t, m, "Deployment", fullname)
	if d.Spec.Template.Spec.Affinity != nil {
		t.Errorf("affinity %+v, want none", d.Spec.Template.Spec.Affinity)
	}
	if want := map[string]string{"kubernetes.io/os": "linux", "pool": "system"}; !reflect.DeepEqual(d.Spec.Template.Spec.NodeSelector, want) {
		t.Errorf("nodeSelector %v, want %v", d.Spec.Template.Spec.NodeSelector, want)
	}
}

func TestPodDisruptionBudgetAndServiceSelectTheWebhookPods(t *testing.T) {
	m := render(t)
	podLabels := labels.Set(get[appsv1.Deployment](t, m, "Deployment", fullname).Spec.Template.Labels)
	pdb := get[policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget", fullname)
	if pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB maxUnavailable %v minAvailable %v, want maxUnavailable 1", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}
	if sel, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); !sel.Matches(podLabels) {
		t.Errorf("PDB selector %v does not match %v", sel, podLabels)
	}
	svc := get[corev1.Service](t, m, "Service", fullname)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match %v", svc.Spec.Selector, podLabels)
	}
	if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort != intstr.FromString("webhook") {
		t.Errorf("Service ports %+v, want 443 -> webhook first", svc.Spec.Ports)
	}

	m = render(t, "--set", "podDisruptionBudget.enabled=false")
	if o := m.find("PodDisruptionBudget", fullname); o != nil {
		t.Error("a PodDisruptionBudget though podDisruptionBudget.enabled=false")
	}
}

func TestRBACGrantsOnlyWhatTheWebhookUses(t *testing.T) {
	m := render(t)
	cr := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname)
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		// The background audit reads pods and workloads and writes reports.
		{APIGroups: []string{""}, Resources: []string{"pods", "replicationcontrollers", "podtemplates"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Verbs: []string{"list"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"list"}},
		// HostProcessExceptions, cached by the webhook.
		{APIGroups: []string{"hostprocess.dev"}, Resources: []string{"hostprocessexceptions"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"openreports.io"}, Resources: []string{"reports", "clusterreports"}, Verbs: []string{"get", "list", "create", "update", "delete"}},
		{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
			Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
			ResourceNames: []string{fullname}, Verbs: []string{"get", "update"}},
	}
	if !reflect.DeepEqual(cr.Rules, want) {
		t.Errorf("ClusterRole rules\n got %+v\nwant %+v", cr.Rules, want)
	}
	role := get[rbacv1.Role](t, m, "Role", fullname)
	wantRole := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{fullname + "-cert"}, Verbs: []string{"get", "update"}},
	}
	if !reflect.DeepEqual(role.Rules, wantRole) {
		t.Errorf("Role rules\n got %+v\nwant %+v", role.Rules, wantRole)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		o := m.find(kind, fullname)
		var subjects []rbacv1.Subject
		if kind == "ClusterRoleBinding" {
			subjects = get[rbacv1.ClusterRoleBinding](t, m, kind, fullname).Subjects
		} else {
			subjects = get[rbacv1.RoleBinding](t, m, kind, fullname).Subjects
		}
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}}
		if o == nil || !reflect.DeepEqual(subjects, want) {
			t.Errorf("%s subjects %+v, want %+v", kind, subjects, want)
		}
	}

	lease := get[rbacv1.Role](t, m, "Role", fullname+"-leader-election")
	wantLease := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if !reflect.DeepEqual(lease.Rules, wantLease) {
		t.Errorf("leader election Role rules\n got %+v\nwant %+v", lease.Rules, wantLease)
	}

	// Without self-managed certificates the webhook touches no webhook configuration.
	for _, mode := range modes[1:] {
		m := render(t, mode.args...)
		cr := get[rbacv1.ClusterRole](t, m, "ClusterRole", fullname)
		if !reflect.DeepEqual(cr.Rules, want[:6]) {
			t.Errorf("%s: ClusterRole rules %+v, want only %+v", mode.name, cr.Rules, want[:6])
		}
	}
}

// TestConfigMapIsAValidConfigurationAndAdmitsTheChartsOwnPods loads the
// rendered configuration the way the webhook does, and evaluates the
// webhook's own pod template with it.
func TestConfigMapIsAValidConfigurationAndAdmitsTheChartsOwnPods(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want func(*config.AdmissionConfiguration) bool
	}{
		{"the defaults", nil, func(c *config.AdmissionConfiguration) bool {
			return c.Mode == config.ModeEnforce && c.WorkloadMode == config.ModeWarn && len(c.AllowedUsers) == 3
		}},
		{"changed values", []string{"--set", "config.mode=warn", "--set", "config.allowedLocalGroups={hostprocess-agents}",
			"--set-json", `config.namespaceRules=[{"namespaces":["kube-system"],"allowedImages":["mcr.microsoft.com/*"]}]`},
			func(c *config.AdmissionConfiguration) bool {
				return c.Mode == config.ModeWarn && slices.Equal(c.AllowedLocalGroups, []string{"hostprocess-agents"}) && len(c.NamespaceRules) == 1
			}},
		{"allowedUsers null means the built-in default", []string{"--set", "config.allowedUsers=null"}, func(c *config.AdmissionConfiguration) bool {
			return len(c.AllowedUsers) == 3
		}},
		{"an explicit empty allowedUsers stays empty", []string{"--set-json", "config.allowedUsers=[]"}, func(c *config.AdmissionConfiguration) bool {
			return c.AllowedUsers != nil && len(c.AllowedUsers) == 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.args...)
			cm := get[corev1.ConfigMap](t, m, "ConfigMap", fullname+"-config")
			cfg, err := config.Decode([]byte(cm.Data["config.yaml"]))
			if err != nil {
				t.Fatalf("config.yaml does not load: %v\n%s", err, cm.Data["config.yaml"])
			}
			if !tc.want(cfg) {
				t.Errorf("unexpected configuration %+v", cfg)
			}
			p, err := policy.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d := get[appsv1.Deployment](t, m, "Deployment", fullname)
			tmpl, err := policy.Extract(d)
			if err != nil {
				t.Fatal(err)
			}
			res := p.Evaluate(policy.Input{Namespace: policy.Namespace{Name: namespace}, Spec: tmpl.Spec, SpecPath: tmpl.SpecPath})
			if !res.Allowed() || res.HostProcess {
				t.Errorf("the webhook's own pods: %+v, want admitted as not HostProcess", res)
			}
		})
	}
}

func TestOptionalExtrasAreOffByDefault(t *testing.T) {
	m := render(t)
	for _, kind := range []string{"ServiceMonitor", "NetworkPolicy", "PrometheusRule"} {
		if o := m.find(kind, fullname); o != nil {
			t.Errorf("%s rendered by default", kind)
		}
	}
	if o := m.find("ConfigMap", fullname+"-dashboard"); o != nil {
		t.Error("the Grafana dashboard ConfigMap is rendered by default")
	}
	m = render(t, "--set", "metrics.serviceMonitor.enabled=true", "--set", "networkPolicy.enabled=true",
		"--set-json", `networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]`)
	sm := m.find("ServiceMonitor", fullname)
	if sm == nil || sm.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Fatalf("ServiceMonitor %v", sm)
	}
	np := get[networkingv1.NetworkPolicy](t, m, "NetworkPolicy", fullname)
	if len(np.Spec.Ingress) != 3 || np.Spec.Ingress[0].Ports[0].Port.String() != "webhook" || len(np.Spec.Ingress[0].From) != 0 ||
		np.Spec.Ingress[1].Ports[0].Port.String() != "metrics" || len(np.Spec.Ingress[1].From) != 1 {
		t.Errorf("NetworkPolicy ingress %+v", np.Spec.Ingress)
	}
	podLabels := labels.Set(get[appsv1.Deployment](t, m, "Deployment", fullname).Spec.Template.Labels)
	if sel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); !sel.Matches(podLabels) {
		t.Errorf("NetworkPolicy selects %v, not the webhook pods", sel)
	}

	m = render(t, "--set", "metrics.enabled=false")
	d := get[appsv1.Deployment](t, m, "Deployment", fullname)
	if v := flagValue(d.Spec.Template.Spec.Containers[0].Args, "--metrics-bind-address"); v != "0" {
		t.Errorf("--metrics-bind-address=%s with metrics off, want 0", v)
	}
}

// TestEveryFlagTheChartPassesExists checks the Deployment's arguments against
// `hostprocess-admission serve --help` and the certificate flags of
// internal/certs (which serve binds with certs.Options.AddFlags).
func TestEveryFlagTheChartPassesExists(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hostprocess-admission")
	if built, err := testenv.Bin("hostprocess-admission"); err == nil {
		bin = built
	} else {
		root, _ := testenv.RepoRoot()
		cmd := exec.CommandContext(testContext(t, 8*time.Minute), "go", "build", "-o", bin, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	help, err := exec.CommandContext(testContext(t, time.Minute), bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("serve --help: %v\n%s", err, help)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z0-9-]+)`).FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	fs := pflag.NewFlagSet("certs", pflag.ContinueOnError)
	(&certs.Options{}).AddFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) { known[f.Name] = true })

	for _, mode := range modes {
		m := render(t, mode.args...)
		d := get[appsv1.Deployment](t, m, "Deployment", fullname)
		for _, a := range d.Spec.Template.Spec.Containers[0].Args[1:] {
			name := strings.TrimPrefix(strings.SplitN(a, "=", 2)[0], "--")
			if !known[name] {
				t.Errorf("%s: the chart passes %s, which serve does not know", mode.name, a)
			}
		}
	}
	// Once serve binds the certificate flags, they parse the chart's values.
	d := get[appsv1.Deployment](t, render(t), "Deployment", fullname)
	var o certs.Options
	fs = pflag.NewFlagSet("certs", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	o.AddFlags(fs)
	if err := fs.Parse(d.Spec.Template.Spec.Containers[0].Args[1:]); err != nil {
		t.Fatal(err)
	}
	o.CertDir = flagValue(d.Spec.Template.Spec.Containers[0].Args, "--cert-dir")
	if err := o.Validate(); err != nil {
		t.Errorf("the chart's certificate flags: %v", err)
	}
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestChartCELListsThePolicysRuntimeAnnotations: the pod webhook's condition
// lets through the changes of exactly the annotations the policy reads.
func TestChartCELListsThePolicysRuntimeAnnotations(t *testing.T) {
	quoted := make([]string, len(policy.RuntimeAnnotations))
	for i, k := range policy.RuntimeAnnotations {
		quoted[i] = "'" + k + "'"
	}
	want := "[" + strings.Join(quoted, ", ") + "]"
	hook := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, render(t), "ValidatingWebhookConfiguration", fullname).Webhooks[0]
	expr := hook.MatchConditions[0].Expression
	if n := strings.Count(expr, want); n != 2 {
		t.Fatalf("the condition of %s names the runtime annotations as %s %d times, want 2 (the Binding and the pod UPDATE):\n%s", hook.Name, want, n, expr)
	}
	if n := strings.Count(expr, "microsoft.com/"); n != 2*len(policy.RuntimeAnnotations) {
		t.Fatalf("the condition names %d microsoft.com/ annotations, want %d", n, 2*len(policy.RuntimeAnnotations))
	}
}
