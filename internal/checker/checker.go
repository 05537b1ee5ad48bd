// Package checker evaluates manifests offline, as the admission webhooks
// would on CREATE: the mutating webhook's defaulting of Pods first, then
// validation, under the mode that applies to the object.
package checker

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// DefaultNamespace is the namespace of objects that name none, as kubectl
// assumes without a context namespace.
const DefaultNamespace = "default"

// Result is the verdict on one Pod or workload.
type Result struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Document  int    `json:"document"`
	// Item is the position in a list, 0 outside a list.
	Item int `json:"item,omitempty"`
	// Line is the line of File the object starts on, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Allowed is false when the object has violations and its mode is enforce.
	Allowed bool        `json:"allowed"`
	Mode    config.Mode `json:"mode"`
	// Exempt is true when the object's namespace is exempt: it is not evaluated.
	Exempt      bool               `json:"exempt"`
	HostProcess bool               `json:"hostProcess"`
	Violations  []policy.Violation `json:"violations"`
	Warnings    []string           `json:"warnings"`
	// Patch is what the mutating webhook would add to a Pod.
	Patch []policy.PatchOp `json:"patch"`
	// Exceptions are the HostProcessExceptions of the input the object is
	// admitted under (each spares it a violation).
	Exceptions []policy.AppliedException `json:"exceptions,omitempty"`

	// where is the source as shown in text output.
	where string
	// index is the object's position in the input.
	index int
}

// Skipped is an object that is neither a Pod nor a workload.
type Skipped struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Document  int    `json:"document"`
	Item      int    `json:"item,omitempty"`
	Line      int    `json:"line,omitempty"`
	Reason    string `json:"reason"`

	where string
	// index is the object's position in the input.
	index int
}

// Summary counts the objects of a report.
type Summary struct {
	Objects  int `json:"objects"`
	Admitted int `json:"admitted"`
	Denied   int `json:"denied"`
	Skipped  int `json:"skipped"`
}

// Report is the outcome of checking every object of the input, in input
// order.
type Report struct {
	Results []Result  `json:"results"`
	Skipped []Skipped `json:"skipped"`
	Summary Summary   `json:"summary"`
	// Notes are remarks for the user, such as a namespace evaluated without
	// its labels. They belong on stderr, not in the JSON document.
	Notes []string `json:"-"`
}

// Check evaluates every Pod and workload of objs under p, now. Namespace
// objects among objs supply the labels that namespace rules select on, and
// HostProcessExceptions among them apply as in the cluster.
func Check(p *policy.Policy, objs []manifest.Object) *Report { return CheckAt(p, objs, time.Now()) }

// CheckAt is Check at the time now: the exceptions active at now apply.
func CheckAt(p *policy.Policy, objs []manifest.Object, now time.Time) *Report {
	r := &Report{Results: []Result{}, Skipped: []Skipped{}}
	namespaces := map[string]map[string]string{}
	perFile := map[string]int{}
	exceptions := map[int]exceptionNote{}
	var active []*policy.Exception
	for i, o := range objs {
		if ns, ok := o.Object.(*corev1.Namespace); ok {
			if _, seen := namespaces[ns.Name]; !seen {
				namespaces[ns.Name] = ns.Labels
			}
		}
		if o.GVK.GroupKind() == exceptionGroupKind {
			note := readException(p, o, now)
			exceptions[i] = note
			if note.compiled != nil {
				active = append(active, note.compiled)
			}
		}
		perFile[o.Source.File]++
	}
	noted := map[string]bool{}
	for i, o := range objs {
		// The document is shown only where the file holds several objects.
		where := o.Source.File
		if perFile[o.Source.File] > 1 {
			where = o.Source.String()
		}
		tmpl, err := policy.Extract(o.Object)
		if err != nil {
			r.skip(o, where, i, exceptions[i].reason)
			continue
		}
		res := check(p, o, tmpl, namespaces, active, now)
		res.where, res.index = where, i
		if p.NeedsNamespaceLabels() && res.HostProcess && !res.Exempt && !noted[res.Namespace] {
			if _, ok := namespaces[res.Namespace]; !ok {
				noted[res.Namespace] = true
				r.Notes = append(r.Notes, fmt.Sprintf(
					"namespace %s has no Namespace object in the input: namespace rules see only its name (%s=%s)",
					res.Namespace, policy.NamespaceNameLabel, res.Namespace))
			}
		}
		r.Results = append(r.Results, res)
		if res.Allowed {
			r.Summary.Admitted++
		} else {
			r.Summary.Denied++
		}
	}
	r.Summary.Objects = len(objs)
	r.Summary.Skipped = len(r.Skipped)
	return r
}

// Denied reports whether any object was denied.
func (r *Report) Denied() bool { return r.Summary.Denied > 0 }

func (r *Report) skip(o manifest.Object, where string, index int, reason string) {
	if reason == "" {
		reason = "not a pod or workload"
	}
	s := Skipped{
		Kind: o.GVK.Kind, File: o.Source.File, Document: o.Source.Document, Item: o.Source.Item, Line: o.Source.Line,
		Reason: reason, where: where, index: index,
	}
	if m, err := meta.Accessor(o.Object); err == nil {
		s.Namespace, s.Name = m.GetNamespace(), m.GetName()
	}
	switch {
	case formerPodKind(o.GVK.GroupKind()):
		// Extract handles the served version of each kind with a pod spec.
		s.Reason = o.GVK.GroupVersion().String() + " is not evaluated: the API server no longer serves it"
	case o.GVK.Kind == "Namespace" && o.GVK.Group == "":
		s.Reason += "; its labels are used by namespace rules"
	case o.GVK.GroupKind() == configGroupKind:
		s.Reason += "; pass a configuration with --config"
	}
	r.Skipped = append(r.Skipped, s)
}

// formerPodKind reports whether gk is a kind of policy.Kinds, or one that
// the extensions group served before apps.
func formerPodKind(gk schema.GroupKind) bool {
	if gk.Group == "extensions" {
		gk.Group = "apps"
	}
	return policy.KindFor(gk) != nil
}

// configGroupKind is the AdmissionConfiguration, which is easily passed
// with -f by mistake.
var configGroupKind = schema.FromAPIVersionAndKind(config.APIVersion, config.Kind).GroupKind()

// check evaluates one Pod or workload.
func check(p *policy.Policy, o manifest.Object, tmpl policy.Template, namespaces map[string]map[string]string,
	exceptions []*policy.Exception, now time.Time) Result {
	m, _ := meta.Accessor(o.Object) // Extract succeeded, so o.Object has metadata.
	res := Result{
		Kind: o.GVK.Kind, Namespace: m.GetNamespace(), Name: m.GetName(),
		File: o.Source.File, Document: o.Source.Document, Item: o.Source.Item, Line: o.Source.Line,
		Allowed: true, Mode: p.ModeFor(tmpl.Workload),
		Violations: []policy.Violation{}, Warnings: []string{}, Patch: []policy.PatchOp{},
	}
	if res.Namespace == "" {
		res.Namespace = DefaultNamespace
	}
	res.HostProcess = tmpl.Spec != nil && policy.IsHostProcess(tmpl.Spec)
	if p.ExemptNamespace(res.Namespace) {
		res.Exempt = true
		return res
	}
	in := policy.Input{
		Namespace: policy.Namespace{Name: res.Namespace, Labels: namespaces[res.Namespace]},
		Spec:      tmpl.Spec,
		SpecPath:  tmpl.SpecPath,
		Kind:      o.GVK.Kind,
	}
	if tmpl.Meta != nil {
		in.Annotations, in.Labels = tmpl.Meta.Annotations, tmpl.Meta.Labels
	}
	in.Name = m.GetName()
	if in.Name == "" {
		in.Name = m.GetGenerateName()
	}
	// Pods, and with defaults.workloadTemplates the templates of workloads,
	// are defaulted on CREATE.
	if patch := p.Default(in); len(patch) > 0 {
		res.Patch = patch
		// The API server applies the patch to the object as JSON, where an
		// empty map or list is left out; a patch that adds to one fails.
		if defaulted, err := applyPatch(o.Object, patch); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"the default patch does not apply to the %s (%v): the API server would fail the request", strings.ToLower(res.Kind), err))
		} else if t, err := policy.Extract(defaulted); err == nil {
			in.Spec = t.Spec
		}
	}
	pr := p.EvaluateWithExceptions(in, exceptions, now)
	res.HostProcess = pr.HostProcess
	if pr.Violations != nil {
		res.Violations = pr.Violations
	}
	// Every warning is shown, whatever the mode: the violations are listed
	// beside them, labelled by the mode (output.go).
	res.Exceptions = pr.Exceptions
	for _, a := range pr.Exceptions {
		res.Warnings = append(res.Warnings, policy.ExceptionWarning(a))
	}
	res.Warnings = append(res.Warnings, pr.Warnings...)
	res.Allowed = policy.Decide(&pr, res.Mode).Allowed
	return res
}

// applyPatch returns a copy of obj with the JSON patch applied, as the API
// server applies a mutating webhook's patch.
func applyPatch(obj runtime.Object, ops []policy.PatchOp) (runtime.Object, error) {
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	patchJSON, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatch.DecodePatch(patchJSON)
	if err != nil {
		return nil, err
	}
	patched, err := patch.Apply(doc)
	if err != nil {
		return nil, err
	}
	out := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, err
	}
	return out, nil
}
