package policy

import (
	"encoding/json"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// LocalGroupsReadyLabel is set on a node by the executor once every allowed
// local group exists there, to config.LocalGroupsReadyValue of the groups.
const LocalGroupsReadyLabel = "hostprocess.dev/local-groups-ready"

// PatchOp is one RFC 6902 JSON patch operation. Defaulting only ever adds.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// String renders the operation for people, e.g.
// add /spec/nodeSelector {"kubernetes.io/os":"windows"}.
func (o PatchOp) String() string {
	v, err := json.Marshal(o.Value)
	if err != nil {
		v = []byte("?")
	}
	return o.Op + " " + o.Path + " " + string(v)
}

func add(path string, value any) PatchOp { return PatchOp{Op: "add", Path: path, Value: value} }

// Default returns the patch the mutating webhook applies to a pod: the
// nodeSelector, the configured tolerations and, when configured, the
// local-group node affinity. It returns nil for a pod that is not a
// HostProcess pod or that already has every default, so a second pass over a
// defaulted pod returns nil. It never removes or replaces a value the user set.
// For a Pod (in.Kind "Pod" or empty) in.SpecPath is ignored and taken as
// "spec". For a workload (any other in.Kind) it returns the node selector and
// tolerations for the template at in.SpecPath, and only with
// defaults.workloadTemplates (see warning_placement.go).
func (p *Policy) Default(in Input) []PatchOp {
	spec := in.Spec
	if spec == nil || !IsHostProcess(spec) {
		return nil
	}
	d := &p.cfg.Defaults
	at := "/spec"
	workload := in.Kind != "" && in.Kind != "Pod"
	if workload {
		if !d.WorkloadTemplates {
			return nil
		}
		at = "/" + strings.ReplaceAll(in.SpecPath, ".", "/")
	}
	var ops []PatchOp
	if d.NodeSelector == nil || *d.NodeSelector {
		ops = defaultNodeSelector(ops, spec, at)
	}
	ops = defaultTolerations(ops, spec, d.Tolerations, at)
	if workload {
		// The local-group node affinity is for pods: a template's pods get it
		// from the mutating webhook.
		return ops
	}
	// A pod that inherits the shim's user runs as SYSTEM, not as a group.
	if _, inherits := inheritsUser(in.Annotations); d.LocalGroupNodeAffinity && !inherits {
		if s, _ := p.scopeFor(in.Namespace); runsAsLocalGroup(spec, s) {
			ops = defaultLocalGroupAffinity(ops, spec, config.LocalGroupsReadyValue(p.cfg.AllowedLocalGroups))
		}
	}
	return ops
}

// defaultNodeSelector adds kubernetes.io/os=windows unless scheduling already
// constrains kubernetes.io/os by nodeSelector or a required affinity term.
func defaultNodeSelector(ops []PatchOp, spec *corev1.PodSpec, at string) []PatchOp {
	if _, ok := spec.NodeSelector[OSLabel]; ok {
		return ops
	}
	terms := requiredTerms(spec)
	for i := range terms {
		if termConstrainsOS(&terms[i]) {
			return ops
		}
	}
	// An empty map is left out when the API server serializes the pod, so it
	// gets the whole field; "add" also replaces an empty one that is present.
	if len(spec.NodeSelector) == 0 {
		return append(ops, add(at+"/nodeSelector", map[string]string{OSLabel: string(corev1.Windows)}))
	}
	return append(ops, add(at+"/nodeSelector/kubernetes.io~1os", string(corev1.Windows)))
}

// defaultTolerations adds each configured toleration the pod does not have.
func defaultTolerations(ops []PatchOp, spec *corev1.PodSpec, want []corev1.Toleration, at string) []PatchOp {
	var missing []corev1.Toleration
	for _, t := range want {
		if !hasToleration(spec.Tolerations, &t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return ops
	}
	if len(spec.Tolerations) == 0 {
		return append(ops, add(at+"/tolerations", missing))
	}
	for _, t := range missing {
		ops = append(ops, add(at+"/tolerations/-", t))
	}
	return ops
}

func hasToleration(have []corev1.Toleration, t *corev1.Toleration) bool {
	for i := range have {
		h := &have[i]
		if h.Key == t.Key && normalOp(h.Operator) == normalOp(t.Operator) && h.Value == t.Value &&
			h.Effect == t.Effect && equalSeconds(h.TolerationSeconds, t.TolerationSeconds) {
			return true
		}
	}
	return false
}

func normalOp(op corev1.TolerationOperator) corev1.TolerationOperator {
	if op == "" {
		return corev1.TolerationOpEqual
	}
	return op
}

func equalSeconds(a, b *int64) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// runsAsLocalGroup reports whether any container's effective runAsUserName
// is an allowed local group.
func runsAsLocalGroup(spec *corev1.PodSpec, s *scope) bool {
	found := false
	visitContainers(spec, func(c containerRef) bool {
		found = c.eff.runAsUserNameSrc != unset && s.isLocalGroup(c.eff.runAsUserName)
		return !found
	})
	return found
}

// defaultLocalGroupAffinity requires nodes labelled
// hostprocess.dev/local-groups-ready=<value>, where value stands for the
// allowed local groups (config.LocalGroupsReadyValue): a node whose executor
// prepared another list does not match. Required terms are ORed, so the
// requirement is added to every existing term.
func defaultLocalGroupAffinity(ops []PatchOp, spec *corev1.PodSpec, value string) []PatchOp {
	const base = "/spec/affinity"
	localGroupsReady := corev1.NodeSelectorRequirement{Key: LocalGroupsReadyLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}
	term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{localGroupsReady}}
	required := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}
	switch {
	case spec.Affinity == nil:
		return append(ops, add(base, &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: required}}))
	case spec.Affinity.NodeAffinity == nil:
		return append(ops, add(base+"/nodeAffinity", &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: required}))
	case spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil:
		return append(ops, add(base+"/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution", required))
	}
	terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	termsPath := base + "/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"
	if len(terms) == 0 {
		return append(ops, add(termsPath, []corev1.NodeSelectorTerm{term}))
	}
	for i := range terms {
		if hasLocalGroupsReady(&terms[i], value) {
			continue
		}
		path := termsPath + "/" + strconv.Itoa(i) + "/matchExpressions"
		if len(terms[i].MatchExpressions) == 0 {
			ops = append(ops, add(path, []corev1.NodeSelectorRequirement{localGroupsReady}))
		} else {
			ops = append(ops, add(path+"/-", localGroupsReady))
		}
	}
	return ops
}

func hasLocalGroupsReady(term *corev1.NodeSelectorTerm, value string) bool {
	for _, req := range term.MatchExpressions {
		if req.Key == LocalGroupsReadyLabel && req.Operator == corev1.NodeSelectorOpIn &&
			len(req.Values) == 1 && req.Values[0] == value {
			return true
		}
	}
	return false
}
