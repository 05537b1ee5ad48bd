//go:build !windows

package nativepolicy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/nativepolicy"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// TestDifferentialAgainstTheAPIServer sends the same objects to two real
// control planes, one enforcing the configuration with the webhook (the real
// serve binary) and one with only the generated native policies, as
// server-side dry-run creates (Pods with ephemeral containers: a real create,
// then a dry-run update of pods/ephemeralcontainers). The verdict, the
// status code and message, the policy's warnings, the violated rules (from
// each API server's audit log) and the defaulted nodeSelector and
// tolerations must be the same.
func TestDifferentialAgainstTheAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two control planes")
	}
	bin := buildBinary(t)
	var web, native *cluster
	var wg sync.WaitGroup
	wg.Go(func() { web = startCluster(t, "webhook", true) })
	wg.Go(func() { native = startCluster(t, "native", false) })
	wg.Wait()
	if t.Failed() {
		return
	}
	createNamespaces(t, web)
	createNamespaces(t, native)
	startServe(t, web, bin, []byte(fmt.Sprintf(richConfig, "enforce", "enforce")))

	allNS := []string{"kube-system", "default", "hp-system", "labelled", "tier-agents", "tier-legacy", "exempt-ns"}
	phases := []struct {
		name, config, mode, workloadMode string
		corpusNS                         []string
		random                           int
		// updates are the namespaces whose corpus is also sent as UPDATEs.
		updates []string
		// templates turns defaults.workloadTemplates on. It comes last: the
		// phases before it see the placement warnings of DaemonSets whose
		// templates lack the defaults.
		templates bool
	}{
		{"rich-enforce", richConfig, "enforce", "enforce", []string{"kube-system", "labelled"}, 2000, []string{"labelled"}, false},
		{"rich-warn", richConfig, "warn", "warn", []string{"labelled"}, 0, nil, false},
		{"rich-audit", richConfig, "audit", "audit", []string{"labelled"}, 0, nil, false},
		{"default", defaultConfig, "enforce", "warn", []string{"kube-system"}, 300, nil, false},
		{"rich-templates", richConfig, "enforce", "warn", []string{"labelled"}, 300, nil, true},
	}
	cases := corpus()
	total, requests := 0, 0
	counts := map[string]int{}
	for _, ph := range phases {
		cfgYAML := fmt.Sprintf(ph.config, ph.mode, ph.workloadMode)
		if ph.templates {
			cfgYAML = strings.Replace(cfgYAML, "\ndefaults:\n", "\ndefaults:\n  workloadTemplates: true\n", 1)
		}
		cfg, err := config.Decode([]byte(cfgYAML))
		if err != nil {
			t.Fatalf("phase %s: %v", ph.name, err)
		}
		writeFile(t, web.serveConfig, []byte(cfgYAML))
		installNative(t, native, cfg)
		waitForMode(t, web, cfg, ph.name)
		waitForMode(t, native, cfg, ph.name)

		var probes []probe
		for _, ns := range ph.corpusNS {
			for _, c := range cases {
				for _, kind := range append([]string{"Pod"}, workloadKinds...) {
					pod := validPod()
					c.pod(pod)
					probes = append(probes, probe{name: c.name + " in " + kind + " in " + ns, ns: ns, kind: kind, pod: pod})
				}
			}
		}
		for _, ns := range ph.updates {
			for _, c := range cases {
				for _, kind := range append([]string{"Pod"}, workloadKinds...) {
					if kind == "Job" {
						continue // a Job's template is immutable
					}
					updates := []string{"label", "image"}
					if kind == "Pod" {
						updates = append(updates, podUpdates...)
					}
					for _, update := range updates {
						pod := validPod()
						c.pod(pod)
						pod.Spec.EphemeralContainers = nil
						probes = append(probes, probe{name: c.name + " in " + kind + " in " + ns + ", updated: " + update, ns: ns, kind: kind, pod: pod, update: update})
					}
				}
			}
		}
		r := rand.New(rand.NewPCG(20261206, uint64(len(ph.name))))
		for i := range ph.random {
			kind := "Pod"
			if r.Float64() < 0.25 {
				kind = workloadKinds[r.IntN(len(workloadKinds))]
			}
			user := ""
			switch x := r.Float64(); {
			case x < 0.05:
				user = exemptUser
			case x < 0.1:
				user = plainUser
			}
			probes = append(probes, probe{name: fmt.Sprintf("random pod %d", i), ns: allNS[r.IntN(len(allNS))], user: user, kind: kind, pod: randomPod(r)})
		}

		var webAnswers, nativeAnswers [][]answer
		wg.Go(func() { webAnswers = runProbes(t, web, ph.name, probes) })
		wg.Go(func() { nativeAnswers = runProbes(t, native, ph.name, probes) })
		wg.Wait()
		if t.Failed() {
			return
		}
		addRules(t, web, webAnswers)
		addRules(t, native, nativeAnswers)

		failures := 0
		for i, pr := range probes {
			wa, na := webAnswers[i], nativeAnswers[i]
			body, _ := json.Marshal(pr.pod)
			if diff := compare(wa, na, hasInvisible(string(body))); diff != "" {
				failures++
				if failures <= 20 {
					t.Errorf("phase %s, %s (%s in %s, user %q): %s\nobject: %s\nwebhook: %v\nnative:  %v",
						ph.name, pr.name, pr.kind, pr.ns, pr.user, diff, body, wa, na)
				}
			}
			requests += len(wa)
			last := wa[len(wa)-1]
			if last.Notes != "" {
				counts["with warnings that are not violations"]++
			}
			switch {
			case last.Violations != "":
				counts["denied by the policy"]++
			case last.Code >= 300:
				counts["refused by the API server's own validation"]++
			case len(last.Warnings) > 0:
				counts["admitted with policy warnings"]++
			case len(last.Rules) > 0:
				counts["admitted, violations audited"]++
			default:
				counts["admitted"]++
			}
		}
		if failures > 20 {
			t.Errorf("phase %s: %d more disagreements not shown", ph.name, failures-20)
		}
		total += len(probes)
		t.Logf("phase %s: %d cases (%d corpus, %d random), %d disagreements", ph.name, len(probes), len(probes)-ph.random, ph.random, failures)
	}
	t.Logf("differential test: %d cases, %d requests to each API server; outcomes: %v", total, requests, counts)

	// Delete removes every policy: the pod the policies denied is admitted.
	cfg, err := config.Decode([]byte(fmt.Sprintf(richConfig, "enforce", "enforce")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := nativepolicy.Generate(cfg, nativepolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := nativepolicy.Delete(context.Background(), native.cs.AdmissionregistrationV1(), p); err != nil {
		t.Fatal(err)
	}
	bad := validPod()
	bad.Spec.EphemeralContainers = nil
	bad.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
	obj, path := object("Pod", "hp-system", "after-delete", bad)
	body, _ := json.Marshal(obj)
	eventually(t, 30*time.Second, "the pod to be admitted once the policies are deleted", func() error {
		a, _, err := native.sendRaw(http.MethodPost, path+"?dryRun=All", "", body)
		if err == nil && (a.Code != http.StatusCreated || a.NodeSelector != nil) {
			err = fmt.Errorf("%v", a)
		}
		return err
	})
}

// runProbes sends every probe to c, a few at a time, and returns the answers
// in order. It is called in a goroutine: it reports errors with t.Error and
// the caller checks t.Failed.
func runProbes(t *testing.T, c *cluster, phase string, probes []probe) [][]answer {
	out := make([][]answer, len(probes))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 6 {
		wg.Go(func() {
			for i := range work {
				a, err := c.run(fmt.Sprintf("%s-%d", phase, i), probes[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %s: %w", c.name, probes[i].name, err)
					}
					mu.Unlock()
				}
				out[i] = a
			}
		})
	}
	for i := range probes {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Error(firstErr) // not Fatal: this runs in a goroutine of its own
	}
	return out
}

// run sends one probe. A Pod with ephemeral containers is created for real
// without them, then they are added with a dry-run update of the
// pods/ephemeralcontainers subresource.
func (c *cluster) run(name string, pr probe) ([]answer, error) {
	if pr.update != "" {
		return c.runUpdate(name, pr)
	}
	pod := pr.pod
	var eph []corev1.EphemeralContainer
	if pr.kind == "Pod" && len(pod.Spec.EphemeralContainers) > 0 {
		pod = pod.DeepCopy()
		eph, pod.Spec.EphemeralContainers = pod.Spec.EphemeralContainers, nil
	}
	obj, path := object(pr.kind, pr.ns, name, pod)
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	query := "?dryRun=All"
	if eph != nil {
		query = ""
	}
	a, raw, err := c.sendRaw(http.MethodPost, path+query, pr.user, body)
	if err != nil || eph == nil || a.Code != http.StatusCreated {
		return []answer{a}, err
	}
	var created corev1.Pod
	if err := json.Unmarshal(raw, &created); err != nil {
		return nil, err
	}
	created.APIVersion, created.Kind = "v1", "Pod"
	created.Spec.EphemeralContainers = eph
	body, err = json.Marshal(&created)
	if err != nil {
		return nil, err
	}
	b, _, err := c.sendRaw(http.MethodPut, path+"/"+name+"/ephemeralcontainers?dryRun=All", pr.user, body)
	return []answer{a, b}, err
}

// podUpdates are the changes of a Pod after its creation, beyond "label" and
// "image", that the differential test sends (docs/policy.md, "Updates"): the
// runtime annotations through the pod, pods/status and a Binding; node
// targeting added while the pod is scheduling-gated; tolerations; and the
// removal of the gate.
var podUpdates = []string{"annotate", "annotate-other", "status-annotate", "binding", "binding-plain",
	"gated-nodeselector", "gated-affinity", "gated-ungate", "toleration"}

// runUpdate creates the probe's object for real as the exempt user, then
// sends a dry-run UPDATE by the admin that changes a label of the pod
// (template), which the policy does not read, or the image of its first
// container, which it does, or one of podUpdates.
func (c *cluster) runUpdate(name string, pr probe) ([]answer, error) {
	if strings.HasPrefix(pr.update, "gated-") {
		pr.pod = pr.pod.DeepCopy()
		pr.pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
	}
	obj, path := object(pr.kind, pr.ns, name, pr.pod)
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	a, raw, err := c.sendRaw(http.MethodPost, path, exemptUser, body)
	if err != nil || a.Code != http.StatusCreated {
		return []answer{a}, err
	}
	var u map[string]any
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	// The pod, or the pod template, of the object.
	tmpl := u
	switch pr.kind {
	case "Pod":
	case "PodTemplate":
		tmpl = u["template"].(map[string]any)
	case "CronJob":
		tmpl = u["spec"].(map[string]any)["jobTemplate"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)
	default:
		tmpl = u["spec"].(map[string]any)["template"].(map[string]any)
	}
	switch pr.update {
	case "label":
		meta := tmpl["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
		}
		labels["touched"] = "yes"
		meta["labels"] = labels
	case "image":
		containers := tmpl["spec"].(map[string]any)["containers"].([]any)
		containers[0].(map[string]any)["image"] = "docker.io/library/nginx:latest"
	case "annotate", "status-annotate":
		setAnnotation(tmpl, policy.InheritUserAnnotation, "true")
	case "annotate-other":
		setAnnotation(tmpl, "example.com/owner", "team-a")
	case "binding", "binding-plain":
		binding := map[string]any{"apiVersion": "v1", "kind": "Binding",
			"metadata": map[string]any{"name": name, "namespace": pr.ns},
			"target":   map[string]any{"kind": "Node", "name": "win-node-1"}}
		if pr.update == "binding" {
			binding["metadata"].(map[string]any)["annotations"] = map[string]any{policy.InheritUserAnnotation: "true"}
		}
		body, err = json.Marshal(binding)
		if err != nil {
			return nil, err
		}
		b, _, err := c.sendRaw(http.MethodPost, path+"/"+name+"/binding?dryRun=All", "", body)
		return []answer{a, b}, err
	case "gated-nodeselector":
		spec := tmpl["spec"].(map[string]any)
		sel, _ := spec["nodeSelector"].(map[string]any)
		if sel == nil {
			sel = map[string]any{}
		}
		sel["kubernetes.io/os"] = "linux"
		sel["pool"] = "agents"
		spec["nodeSelector"] = sel
	case "gated-affinity":
		spec := tmpl["spec"].(map[string]any)
		if _, ok := spec["affinity"]; !ok {
			spec["affinity"] = map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
				"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
					map[string]any{"key": "kubernetes.io/os", "operator": "NotIn", "values": []any{"windows"}}}}}}}}
		}
	case "gated-ungate":
		delete(tmpl["spec"].(map[string]any), "schedulingGates")
	case "toleration":
		spec := tmpl["spec"].(map[string]any)
		tolerations, _ := spec["tolerations"].([]any)
		spec["tolerations"] = append(tolerations, map[string]any{"key": "example.com/dedicated", "operator": "Exists", "effect": "NoSchedule"})
	}
	body, err = json.Marshal(u)
	if err != nil {
		return nil, err
	}
	if pr.update == "status-annotate" {
		path += "/" + name + "/status"
	} else {
		path += "/" + name
	}
	b, _, err := c.sendRaw(http.MethodPut, path+"?dryRun=All", "", body)
	return []answer{a, b}, err
}

// setAnnotation sets key in the metadata of the pod (template) m.
func setAnnotation(m map[string]any, key, value string) {
	meta := m["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
	}
	annotations[key] = value
	meta["annotations"] = annotations
}

// addRules fills in each answer's rules from c's audit log.
func addRules(t *testing.T, c *cluster, answers [][]answer) {
	t.Helper()
	var rules map[string][]string
	eventually(t, 20*time.Second, c.name+"'s audit log to have every request", func() error {
		rules = c.auditRules(t)
		for _, as := range answers {
			for _, a := range as {
				if _, ok := rules[a.auditID]; !ok {
					return fmt.Errorf("no ResponseComplete event for audit ID %q", a.auditID)
				}
			}
		}
		return nil
	})
	for _, as := range answers {
		for j := range as {
			as[j].Rules = rules[as[j].auditID]
		}
	}
}

// invisibleEscapes maps the Go engine's escapes of the test's invisible
// characters to the characters, which CEL's strings.quote writes as they are.
var invisibleEscapes = strings.NewReplacer(`\u200b`, "\u200b", `\u00a0`, "\u00a0")

// compare returns "" when the two answers agree, else what differs.
func compare(web, native []answer, invisible bool) string {
	if len(web) != len(native) {
		return fmt.Sprintf("%d steps vs %d", len(web), len(native))
	}
	for i := range web {
		w, n := web[i], native[i]
		if invisible {
			w.Violations = invisibleEscapes.Replace(w.Violations)
			for j := range w.Warnings {
				w.Warnings[j] = invisibleEscapes.Replace(w.Warnings[j])
			}
			w.Notes = invisibleEscapes.Replace(w.Notes)
		}
		// A denial over the API server's 5 KiB message limit is cut by the
		// policies; warnings over 4,096 characters in all are cut to 256
		// characters each by the API server, which leaves the policy's one
		// warning per object a stub.
		if len(w.Violations) > 5000 && !strings.Contains(n.Violations, nativepolicy.TruncatedMarker) {
			return fmt.Sprintf("step %d: a denial over 5 KiB is not cut", i+1)
		}
		if len(w.Violations) > 5000 || len(strings.Join(w.Warnings, "; "+warnMarker)) > 4000 {
			if len(w.Warnings) > 0 && len(n.Warnings) == 0 {
				return fmt.Sprintf("step %d: no warnings", i+1)
			}
			w.Violations, n.Violations, w.Warnings, n.Warnings = "", "", nil, nil
			// The warnings that are not violations come after them: the API
			// server drops the webhook's past the limit and cuts the
			// policy's one (a DaemonSet's placement warnings).
			w.Notes, n.Notes = "", ""
			if w.Code == http.StatusForbidden {
				w.Message, n.Message = "", ""
			}
		}
		var diffs []string
		if w.Code != n.Code {
			diffs = append(diffs, "status code")
		}
		if w.Violations != n.Violations {
			diffs = append(diffs, "violation messages")
		}
		if w.Violations == "" && n.Violations == "" && w.Message != n.Message {
			diffs = append(diffs, "message")
		}
		if !slices.Equal(w.Warnings, n.Warnings) {
			diffs = append(diffs, "warnings")
		}
		if w.Notes != n.Notes {
			diffs = append(diffs, "warnings that are not violations")
		}
		if !slices.Equal(w.Rules, n.Rules) {
			diffs = append(diffs, "violated rules")
		}
		if !reflect.DeepEqual(w.NodeSelector, n.NodeSelector) {
			diffs = append(diffs, "nodeSelector")
		}
		if !reflect.DeepEqual(w.Tolerations, n.Tolerations) {
			diffs = append(diffs, "tolerations")
		}
		if len(diffs) > 0 {
			return fmt.Sprintf("step %d: %s differ", i+1, strings.Join(diffs, ", "))
		}
	}
	return ""
}

// waitForMode waits until c enforces cfg: a pod and a Deployment with a
// disallowed user get the Go engine's messages under the configured modes,
// and an allowed pod gets the configured defaults.
func waitForMode(t *testing.T, c *cluster, cfg *config.AdmissionConfiguration, phase string) {
	t.Helper()
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := validPod()
	bad.Spec.EphemeralContainers = nil
	bad.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
	good := validPod()
	good.Spec.EphemeralContainers = nil
	good.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(system)
	n := 0
	check := func(kind string, pod *corev1.Pod, mode config.Mode) error {
		n++
		obj, path := object(kind, "hp-system", fmt.Sprintf("probe-%s-%d", phase, n), pod)
		body, _ := json.Marshal(obj)
		a, _, err := c.sendRaw(http.MethodPost, path+"?dryRun=All", "", body)
		if err != nil {
			return err
		}
		spec := pod.Spec.DeepCopy()
		if kind != "Pod" && cfg.Defaults.WorkloadTemplates {
			// The template as the defaults leave it (validPod has neither).
			spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows"}
			spec.Tolerations = cfg.Defaults.Tolerations
		}
		res := p.Evaluate(policy.Input{Namespace: policy.Namespace{Name: "hp-system"}, Kind: kind, Spec: spec, SpecPath: map[bool]string{true: "spec.template.spec", false: "spec"}[kind != "Pod"]})
		var msgs []string
		for _, v := range res.Violations {
			msgs = append(msgs, v.Message)
		}
		sorted := slices.Sorted(slices.Values(msgs))
		// The warnings that are not violations (a DaemonSet's placement
		// warnings): the *-warnings policies are updated on their own.
		wantNotes := strings.Join(res.Warnings, "; ")
		if mode == config.ModeAudit && len(msgs) > 0 {
			wantNotes = ""
		}
		if a.Notes != wantNotes {
			return fmt.Errorf("%s: want the warnings %q, got %v", kind, wantNotes, a)
		}
		switch {
		case len(msgs) == 0:
			if a.Code != http.StatusCreated {
				return fmt.Errorf("%s: want admitted, got %v", kind, a)
			}
			// The API server's DefaultTolerationSeconds adds the not-ready and
			// unreachable tolerations; the rest must be the configured ones.
			var added []corev1.Toleration
			for _, h := range a.Tolerations {
				if h.Key != corev1.TaintNodeNotReady && h.Key != corev1.TaintNodeUnreachable {
					added = append(added, h)
				}
			}
			if kind == "Pod" && (len(added) != len(cfg.Defaults.Tolerations) || (len(added) > 0 && !reflect.DeepEqual(added, cfg.Defaults.Tolerations))) {
				return fmt.Errorf("%s: want the tolerations %v added, got %v", kind, cfg.Defaults.Tolerations, a)
			}
		case mode == config.ModeEnforce:
			if a.Code != http.StatusForbidden || a.Violations != strings.Join(msgs, "; ") {
				return fmt.Errorf("%s: want denied with %q, got %v", kind, strings.Join(msgs, "; "), a)
			}
		case mode == config.ModeWarn:
			if a.Code != http.StatusCreated || !slices.Equal(a.Warnings, sorted) {
				return fmt.Errorf("%s: want warnings %q, got %v", kind, msgs, a)
			}
		default:
			// (The notes are checked above: a binding not yet updated from
			// Warn would send the audit-mode message as a warning.)
			if a.Code != http.StatusCreated || len(a.Warnings) != 0 {
				return fmt.Errorf("%s: want admitted silently, got %v", kind, a)
			}
		}
		return nil
	}
	eventually(t, 60*time.Second, c.name+" to enforce the configuration of phase "+phase, func() error {
		if err := check("Pod", bad, cfg.Mode); err != nil {
			return err
		}
		if err := check("Deployment", bad, cfg.WorkloadMode); err != nil {
			return err
		}
		if err := check("DaemonSet", bad, cfg.WorkloadMode); err != nil {
			return err
		}
		if err := check("DaemonSet", good, cfg.WorkloadMode); err != nil {
			return err
		}
		return check("Pod", good, cfg.Mode)
	})
}
