// Package nativepolicy compiles an AdmissionConfiguration into the API
// server's own admission policies: ValidatingAdmissionPolicies for Pods and
// for workload pod templates, a Warn-only one for the engine's warnings, and
// a MutatingAdmissionPolicy for the defaults, each with its binding. The API
// server then enforces the configuration in-process, with no webhook in the
// path of pod creation.
//
// The CEL mirrors the policy package rule by rule, with the same messages.
// What CEL cannot say the same way is listed in Gaps and written as comments
// into the generated YAML.
package nativepolicy

import (
	"fmt"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// Object names. The policies are cluster-scoped; the names follow the
// webhooks' (validate.hostprocess.dev, mutate.hostprocess.dev).
const (
	PodsPolicy      = "pods.hostprocess.dev"
	WorkloadsPolicy = "workloads.hostprocess.dev"
	// PodWarningsPolicy and WorkloadWarningsPolicy send the engine's
	// warnings (Warn only).
	PodWarningsPolicy      = "pods-warnings.hostprocess.dev"
	WorkloadWarningsPolicy = "workloads-warnings.hostprocess.dev"
	DefaultsPolicy         = "defaults.hostprocess.dev"
	// WorkloadDefaultsPolicy defaults workload templates
	// (defaults.workloadTemplates).
	WorkloadDefaultsPolicy = "workload-defaults.hostprocess.dev"
)

// Options are the generator's settings besides the configuration.
type Options struct {
	// Namespace, when set, is excluded from every binding, as the chart's
	// webhooks exclude their release namespace.
	Namespace string
}

// Policies is the compiled configuration.
type Policies struct {
	Validating []admissionregistrationv1.ValidatingAdmissionPolicy
	// ValidatingBindings[i] binds Validating[i].
	ValidatingBindings []admissionregistrationv1.ValidatingAdmissionPolicyBinding
	Mutating           []admissionregistrationv1.MutatingAdmissionPolicy
	// MutatingBindings[i] binds Mutating[i].
	MutatingBindings []admissionregistrationv1.MutatingAdmissionPolicyBinding
	// Gaps are the places where the native policies do not say what the Go
	// engine says, for the YAML's header and the docs.
	Gaps []string
	// Comments says, by object name, what each policy does, for the YAML.
	Comments map[string]string
}

// Generate compiles cfg, which must be defaulted and valid (config.Load does
// both).
func Generate(cfg *config.AdmissionConfiguration, opts Options) (*Policies, error) {
	g := &generator{cfg: cfg, opts: opts}
	if err := g.compileScopes(); err != nil {
		return nil, err
	}
	p := &Policies{Gaps: g.gaps(), Comments: map[string]string{}}
	for _, t := range []target{podTarget(), workloadTarget()} {
		mode, what, field := cfg.Mode, "Pods (CREATE; UPDATE through the pod, pods/ephemeralcontainers and pods/status; pods/binding)", "mode"
		if t.workload {
			mode, what, field = cfg.WorkloadMode, "the pod templates of "+workloadKindNames(), "workloadMode"
		}
		p.Comments[t.name] = fmt.Sprintf("Every rule for %s, under %s %q: validationActions %v.", what, field, mode, actionsFor(mode))
		p.Comments[strings.Replace(t.name, ".", "-warnings.", 1)] = "The engine's warnings that are not violations, for the same objects (Warn only)."
		vap := g.validating(t, mode)
		p.Validating = append(p.Validating, vap)
		p.ValidatingBindings = append(p.ValidatingBindings, g.validatingBinding(vap.Name, actionsFor(mode)))
		w := g.warnings(t, mode)
		p.Validating = append(p.Validating, w)
		p.ValidatingBindings = append(p.ValidatingBindings, g.validatingBinding(w.Name, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}))
	}
	p.Comments[DefaultsPolicy] = "The defaults for new HostProcess pods: nodeSelector kubernetes.io/os=windows and the configured tolerations, only what is missing."
	if cfg.Defaults.LocalGroupNodeAffinity {
		p.Comments[DefaultsPolicy] += " defaults.localGroupNodeAffinity is NOT compiled: the mutating webhook adds it (enforcement: both)."
	}
	p.Comments[WorkloadDefaultsPolicy] = "defaults.workloadTemplates: the same defaults for the pod templates of new " + workloadKindNames() + "."
	if m, ok := g.mutating(); ok {
		p.Mutating = append(p.Mutating, m)
		p.MutatingBindings = append(p.MutatingBindings, g.mutatingBinding(m.Name))
	}
	if m, ok := g.workloadMutating(); ok {
		p.Mutating = append(p.Mutating, m)
		p.MutatingBindings = append(p.MutatingBindings, g.mutatingBinding(m.Name))
	}
	p.wrapExpressions()
	return p, nil
}

// wrapExpressions breaks every long expression into lines (wrapCEL).
func (p *Policies) wrapExpressions() {
	const width = 100
	wrapConditions := func(mc []admissionregistrationv1.MatchCondition) {
		for i := range mc {
			mc[i].Expression = wrapCEL(mc[i].Expression, width)
		}
	}
	for i := range p.Validating {
		s := &p.Validating[i].Spec
		wrapConditions(s.MatchConditions)
		for j := range s.Variables {
			s.Variables[j].Expression = wrapCEL(s.Variables[j].Expression, width)
		}
		for j := range s.Validations {
			s.Validations[j].Expression = wrapCEL(s.Validations[j].Expression, width)
			s.Validations[j].MessageExpression = wrapCEL(s.Validations[j].MessageExpression, width)
		}
		for j := range s.AuditAnnotations {
			s.AuditAnnotations[j].ValueExpression = wrapCEL(s.AuditAnnotations[j].ValueExpression, width)
		}
	}
	for i := range p.Mutating {
		s := &p.Mutating[i].Spec
		wrapConditions(s.MatchConditions)
		for j := range s.Variables {
			s.Variables[j].Expression = wrapCEL(s.Variables[j].Expression, width)
		}
		for j := range s.Mutations {
			if jp := s.Mutations[j].JSONPatch; jp != nil {
				jp.Expression = wrapCEL(jp.Expression, width)
			}
		}
	}
}

// workloadKindNames lists the workload kinds of policy.Kinds for a comment:
// "Deployments, ReplicaSets, ... and PodTemplates".
func workloadKindNames() string {
	var names []string
	for _, k := range policy.Kinds {
		if k.Workload() {
			names = append(names, k.Kind+"s")
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// actionsFor maps a mode to the binding's validationActions. Audit is added
// to Deny and Warn so that every violation is in the audit log in every mode,
// as the webhook's audit annotations are.
func actionsFor(m config.Mode) []admissionregistrationv1.ValidationAction {
	switch m {
	case config.ModeWarn:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn, admissionregistrationv1.Audit}
	case config.ModeAudit:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
	default:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny, admissionregistrationv1.Audit}
	}
}

type generator struct {
	cfg    *config.AdmissionConfiguration
	opts   Options
	scopes []scope // one per namespace rule, then the top-level scope last
	// ruleMatch[i] is the CEL condition of namespace rule i.
	ruleMatch []string
	nsAllowed string
}

// scope mirrors policy.scope: what applies to the pods of a namespace.
type scope struct {
	spellings     []string // lower-case spellings every allowed user and group matches
	allowedNames  string
	images        []string
	allowedImages string
}

func newScope(users, groups, images []string) scope {
	names := append(append([]string(nil), users...), groups...)
	sort.Strings(names)
	s := scope{allowedNames: strings.Join(names, ", "), images: images, allowedImages: strings.Join(images, ", ")}
	if s.allowedNames == "" {
		s.allowedNames = "none"
	}
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), users...), groups...) {
		for _, sp := range accountSpellings(n) {
			if !seen[sp] {
				seen[sp] = true
				s.spellings = append(s.spellings, sp)
			}
		}
	}
	return s
}

func (g *generator) compileScopes() error {
	cfg := g.cfg
	var allowed []string
	for i, r := range cfg.NamespaceRules {
		var conds []string
		if len(r.Namespaces) > 0 {
			conds = append(conds, "request.namespace in "+litList(r.Namespaces))
		}
		allowed = append(allowed, r.Namespaces...)
		if r.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(r.NamespaceSelector)
			if err != nil {
				return fmt.Errorf("namespaceRules[%d].namespaceSelector: %w", i, err)
			}
			allowed = append(allowed, "namespaces with labels "+sel.String())
			conds = append(conds, selectorCEL(r.NamespaceSelector))
		}
		if len(conds) == 0 {
			conds = []string{"false"}
		}
		g.ruleMatch = append(g.ruleMatch, "("+strings.Join(conds, " || ")+")")
		users, groups := cfg.AllowedUsers, cfg.AllowedLocalGroups
		if r.AllowedUsers != nil {
			users = r.AllowedUsers
		}
		if r.AllowedLocalGroups != nil {
			groups = r.AllowedLocalGroups
		}
		g.scopes = append(g.scopes, newScope(users, groups, r.AllowedImages))
	}
	g.scopes = append(g.scopes, newScope(cfg.AllowedUsers, cfg.AllowedLocalGroups, nil))
	g.nsAllowed = strings.Join(allowed, ", ")
	return nil
}

// selectorCEL is a label selector over the namespace's labels, where
// kubernetes.io/metadata.name always equals the namespace's name (the API
// server sets it), as in policy.namespaceLabels.
func selectorCEL(sel *metav1.LabelSelector) string {
	has := func(k string) string {
		if k == nameLabel {
			return "(request.namespace != '')"
		}
		return "(" + lit(k) + " in variables.nsLabels)"
	}
	get := func(k string) string {
		if k == nameLabel {
			return "request.namespace"
		}
		return "variables.nsLabels[" + lit(k) + "]"
	}
	var terms []string
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		terms = append(terms, "("+has(k)+" && "+get(k)+" == "+lit(sel.MatchLabels[k])+")")
	}
	for _, e := range sel.MatchExpressions {
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			terms = append(terms, "("+has(e.Key)+" && "+get(e.Key)+" in "+litList(e.Values)+")")
		case metav1.LabelSelectorOpNotIn:
			terms = append(terms, "(!"+has(e.Key)+" || !("+get(e.Key)+" in "+litList(e.Values)+"))")
		case metav1.LabelSelectorOpExists:
			terms = append(terms, has(e.Key))
		case metav1.LabelSelectorOpDoesNotExist:
			terms = append(terms, "!"+has(e.Key))
		}
	}
	if len(terms) == 0 {
		// An empty selector matches every namespace.
		return "true"
	}
	return "(" + strings.Join(terms, " && ") + ")"
}

const nameLabel = "kubernetes.io/metadata.name"

// pick is a CEL expression choosing, by the matched namespace rule, one of
// per-scope values (the last is the top-level scope's).
func (g *generator) pick(val func(s *scope) string) string {
	out := val(&g.scopes[len(g.scopes)-1])
	for i := len(g.scopes) - 2; i >= 0; i-- {
		out = fmt.Sprintf("variables.rule == %d ? %s : (%s)", i, val(&g.scopes[i]), out)
	}
	return out
}

func (g *generator) matchResources(rules []admissionregistrationv1.NamedRuleWithOperations) *admissionregistrationv1.MatchResources {
	equivalent := admissionregistrationv1.Equivalent
	return &admissionregistrationv1.MatchResources{MatchPolicy: &equivalent, ResourceRules: rules}
}

func rule(ops []admissionregistrationv1.OperationType, group string, resources ...string) admissionregistrationv1.NamedRuleWithOperations {
	scope := admissionregistrationv1.NamespacedScope
	return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: ops,
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources, Scope: &scope},
	}}
}

var createUpdate = []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}

// exemptions are the matchConditions that skip exempt namespaces and users.
// Both compare exactly, as policy.ExemptNamespace and ExemptUser do.
func (g *generator) exemptions() []admissionregistrationv1.MatchCondition {
	var mc []admissionregistrationv1.MatchCondition
	if ns := g.cfg.Exemptions.Namespaces; len(ns) > 0 {
		mc = append(mc, admissionregistrationv1.MatchCondition{Name: "not-exempt-namespace", Expression: "!(request.namespace in " + litList(ns) + ")"})
	}
	if us := g.cfg.Exemptions.Usernames; len(us) > 0 {
		mc = append(mc, admissionregistrationv1.MatchCondition{Name: "not-exempt-user", Expression: "!(request.userInfo.username in " + litList(us) + ")"})
	}
	return mc
}

func (g *generator) bindingMatch() *admissionregistrationv1.MatchResources {
	if g.opts.Namespace == "" {
		return nil
	}
	return &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: nameLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{g.opts.Namespace}}},
	}}
}

func (g *generator) validatingBinding(policy string, actions []admissionregistrationv1.ValidationAction) admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	return admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: policy},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: policy, ValidationActions: actions, MatchResources: g.bindingMatch(),
		},
	}
}

func (g *generator) mutatingBinding(policy string) admissionregistrationv1.MutatingAdmissionPolicyBinding {
	return admissionregistrationv1.MutatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: policy},
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: policy, MatchResources: g.bindingMatch()},
	}
}

var failClosed = ptr.To(admissionregistrationv1.Fail)
