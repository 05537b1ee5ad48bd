package policy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// NamespaceNameLabel is set by the API server on every namespace to its name.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// Namespace is what the policy needs to know about the namespace of a pod.
type Namespace struct {
	// Name of the namespace.
	Name string
	// Labels of the namespace. The kubernetes.io/metadata.name label is always
	// taken to equal Name, whatever Labels says, as the API server enforces.
	Labels map[string]string
}

// Input is one pod spec to evaluate.
type Input struct {
	Namespace Namespace
	Spec      *corev1.PodSpec
	// SpecPath is the field path of Spec in its object: "spec" for a Pod (the
	// default), "spec.template.spec" for most workloads.
	SpecPath string
	// Annotations are the pod's metadata.annotations, or the pod template's
	// for a workload. Some change what the runtime runs (runtime.go).
	Annotations map[string]string
	// Kind is the kind of the object, e.g. DaemonSet: a DaemonSet's template
	// gets the placement warnings of warning_placement.go, and a workload's
	// template defaults with defaults.workloadTemplates (defaults.go).
	Kind string
	// Name is the pod's name (its generateName when it has none yet), or
	// the workload's; Labels are the pod's or the pod template's. Only
	// exceptions read them (exception.go).
	Name   string
	Labels map[string]string
}

// metaPath returns the field path of the metadata beside the spec at
// specPath: "metadata" for a Pod, "spec.template.metadata" for most workloads.
func metaPath(specPath string) string {
	return strings.TrimSuffix(specPath, "spec") + "metadata"
}

// Policy is an AdmissionConfiguration compiled for evaluation. It is
// immutable and safe for concurrent use.
type Policy struct {
	cfg *config.AdmissionConfiguration

	global     scope
	rules      []namespaceRule
	needLabels bool
	// nsAllowed describes the namespaces the rules allow, for messages.
	nsAllowed string

	exemptNamespaces map[string]struct{}
	exemptUsers      map[string]struct{}
}

// scope is what applies to the pods of one namespace: allowed users, groups
// and images.
type scope struct {
	users  []string
	groups []string
	// allowedNames is the sorted users and groups, joined for messages.
	allowedNames string
	images       []imagePattern
	// allowedImages is the patterns, joined for messages.
	allowedImages string
	// inheritUserGranted is true when an exception allows the annotation
	// microsoft.com/hostprocess-inherit-user.
	inheritUserGranted bool
}

type namespaceRule struct {
	names    map[string]struct{}
	selector labels.Selector
	scope    scope
}

// New compiles cfg. cfg must already be defaulted and valid (config.Load does
// both); New still reports a selector it cannot parse.
func New(cfg *config.AdmissionConfiguration) (*Policy, error) {
	p := &Policy{
		cfg:              cfg,
		global:           newScope(cfg.AllowedUsers, cfg.AllowedLocalGroups, nil),
		exemptNamespaces: toSet(cfg.Exemptions.Namespaces),
		exemptUsers:      toSet(cfg.Exemptions.Usernames),
	}
	var allowed []string
	for i, r := range cfg.NamespaceRules {
		nr := namespaceRule{names: toSet(r.Namespaces)}
		allowed = append(allowed, r.Namespaces...)
		if r.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(r.NamespaceSelector)
			if err != nil {
				return nil, fmt.Errorf("namespaceRules[%d].namespaceSelector: %w", i, err)
			}
			nr.selector = sel
			p.needLabels = true
			allowed = append(allowed, "namespaces with labels "+sel.String())
		}
		users, groups := cfg.AllowedUsers, cfg.AllowedLocalGroups
		if r.AllowedUsers != nil {
			users = r.AllowedUsers
		}
		if r.AllowedLocalGroups != nil {
			groups = r.AllowedLocalGroups
		}
		nr.scope = newScope(users, groups, r.AllowedImages)
		p.rules = append(p.rules, nr)
	}
	p.nsAllowed = strings.Join(allowed, ", ")
	return p, nil
}

func newScope(users, groups, images []string) scope {
	names := make([]string, 0, len(users)+len(groups))
	names = append(names, users...)
	names = append(names, groups...)
	sort.Strings(names)
	s := scope{users: users, groups: groups, allowedNames: strings.Join(names, ", ")}
	if s.allowedNames == "" {
		s.allowedNames = "none"
	}
	for _, img := range images {
		s.images = append(s.images, compileImagePattern(img))
	}
	s.allowedImages = strings.Join(images, ", ")
	return s
}

func toSet(items []string) map[string]struct{} {
	m := make(map[string]struct{}, len(items))
	for _, s := range items {
		m[s] = struct{}{}
	}
	return m
}

// Config returns the configuration the policy was compiled from.
func (p *Policy) Config() *config.AdmissionConfiguration { return p.cfg }

// ModeFor returns the mode for pods, or for workload pod templates.
func (p *Policy) ModeFor(workload bool) config.Mode {
	if workload {
		return p.cfg.WorkloadMode
	}
	return p.cfg.Mode
}

// NeedsNamespaceLabels reports whether evaluating a HostProcess pod needs its
// namespace's labels: true when a namespace rule has a label selector.
func (p *Policy) NeedsNamespaceLabels() bool { return p.needLabels }

// ExemptNamespace reports whether objects in namespace are exempt.
func (p *Policy) ExemptNamespace(namespace string) bool {
	_, ok := p.exemptNamespaces[namespace]
	return ok
}

// ExemptUser reports whether requests by username are exempt. Kubernetes
// usernames are case-sensitive, so the match is exact.
func (p *Policy) ExemptUser(username string) bool {
	_, ok := p.exemptUsers[username]
	return ok
}

// Evaluate runs every rule over in and returns every violation. A pod that is
// not a HostProcess pod is outside the policy: the result is empty.
func (p *Policy) Evaluate(in Input) Result {
	if in.Spec == nil || !IsHostProcess(in.Spec) {
		return Result{}
	}
	if in.SpecPath == "" {
		in.SpecPath = "spec"
	}
	sc, matched := p.scopeFor(in.Namespace)
	return p.evaluate(in, sc, matched)
}

// evaluate runs every rule over in, a HostProcess pod, under sc, the scope
// of its namespace (widened by exceptions, exception.go).
func (p *Policy) evaluate(in Input, sc *scope, nsMatched bool) Result {
	ev := evaluation{p: p, in: in, res: Result{HostProcess: true}, scope: sc, nsMatched: nsMatched}
	ev.inheritValue, ev.inheritUser = inheritsUser(in.Annotations)
	for i := range RuleTable {
		RuleTable[i].check(&ev)
	}
	warnIgnoredFields(&ev)
	warnRuntime(&ev)
	warnPlacement(&ev)
	return ev.res
}

// evaluation is the state of one Evaluate call, shared by the rules.
type evaluation struct {
	p         *Policy
	in        Input
	scope     *scope
	nsMatched bool
	res       Result
	// inheritUser is true when the annotation microsoft.com/hostprocess-inherit-user
	// makes every container run as SYSTEM; inheritValue is its value.
	inheritUser  bool
	inheritValue string
}

func (ev *evaluation) add(rule, container, field, message string) {
	ev.res.Violations = append(ev.res.Violations, Violation{Rule: rule, Container: container, Field: field, Message: message})
}

// scopeFor returns the scope of the first namespace rule that matches ns, or
// the top-level scope when no rules are configured. matched is false when
// rules are configured and none matches.
func (p *Policy) scopeFor(ns Namespace) (s *scope, matched bool) {
	if len(p.rules) == 0 {
		return &p.global, true
	}
	lbls := namespaceLabels(ns)
	for i := range p.rules {
		r := &p.rules[i]
		if _, ok := r.names[ns.Name]; ok {
			return &r.scope, true
		}
		if r.selector != nil && r.selector.Matches(lbls) {
			return &r.scope, true
		}
	}
	return &p.global, false
}

// namespaceLabels implements labels.Labels over a namespace's labels, with
// kubernetes.io/metadata.name always equal to the namespace's name.
type namespaceLabels Namespace

var _ labels.Labels = namespaceLabels{}

func (n namespaceLabels) Has(key string) bool {
	_, ok := n.Lookup(key)
	return ok
}

func (n namespaceLabels) Get(key string) string {
	v, _ := n.Lookup(key)
	return v
}

func (n namespaceLabels) Lookup(key string) (string, bool) {
	if key == NamespaceNameLabel {
		return n.Name, n.Name != ""
	}
	v, ok := n.Labels[key]
	return v, ok
}
