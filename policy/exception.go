package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

/*
Exceptions (docs/exceptions.md). A HostProcessException grants the pods it
selects, while the current time is before its expiresAt, accounts, local
groups and images beyond the scope of their namespace, and the annotation
microsoft.com/hostprocess-inherit-user. It selects namespaces by name; a pod
in a namespace that no namespace rule matches then gets the top-level scope
with the grants, so the rule namespace does not judge it either. The grants
never reach the rules hostProcessMixed, hostNetwork, runAsNonRoot and
windowsOS, which judge the pod's structure, not what it may run as; and
config.ValidateException refuses administrative groups and names the
configuration itself would refuse.

A pod is evaluated first without exceptions. Only when it has violations
are the exceptions that select it and are active tried, each on its own: an
exception that removes at least one violation is said to apply, and the pod
is then evaluated once more under every exception that applies. So an
exception is named on exactly the pods it lets through (or, under warn and
audit, spares a violation), never on pods that needed nothing.
*/

// Exception is a HostProcessException compiled for matching. It is
// immutable and safe for concurrent use.
type Exception struct {
	// Name is the exception's name.
	Name string
	// ExpiresAt is when it stops applying.
	ExpiresAt time.Time
	// Created is its creation time.
	Created time.Time

	namespaces     map[string]struct{}
	namePrefix     string
	serviceAccount string
	selector       labels.Selector
	grants         config.ExceptionGrants
	images         []imagePattern
}

// CompileException compiles e, which config.ValidateException accepted
// when it was written. Its grants are checked again, as a stored exception
// may predate the validation (written while no webhook or policy checked
// exceptions): one that grants what the configuration refuses is an error.
func CompileException(e *config.HostProcessException) (*Exception, error) {
	if errs := config.ValidateExceptionGrants(&e.Spec.Grants, field.NewPath("spec", "grants")); len(errs) > 0 {
		return nil, fmt.Errorf("HostProcessException %s: %w", e.Name, errs.ToAggregate())
	}
	x := &Exception{
		Name:       e.Name,
		ExpiresAt:  e.Spec.ExpiresAt.Time,
		Created:    e.CreationTimestamp.Time,
		namespaces: toSet(e.Spec.Namespaces),
		grants:     e.Spec.Grants,
	}
	if p := e.Spec.Pods; p != nil {
		x.namePrefix, x.serviceAccount = p.NamePrefix, p.ServiceAccountName
		if p.Selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(p.Selector)
			if err != nil {
				return nil, fmt.Errorf("HostProcessException %s: spec.pods.selector: %w", e.Name, err)
			}
			x.selector = sel
		}
	}
	for _, img := range e.Spec.Grants.Images {
		x.images = append(x.images, compileImagePattern(img))
	}
	return x, nil
}

// ActiveAt reports whether the exception applies at now: now is before
// its expiresAt.
func (x *Exception) ActiveAt(now time.Time) bool { return now.Before(x.ExpiresAt) }

// withinLifetime reports whether the exception lasts at most max from its
// creation; an exception that lasts longer (written while nothing checked
// exceptions, or before maxLifetime was shortened) never applies.
func (x *Exception) withinLifetime(max *metav1.Duration) bool {
	return max == nil || x.Created.IsZero() || !x.ExpiresAt.After(x.Created.Add(max.Duration))
}

// Selects reports whether the exception selects the pod (or pod template)
// of in: its namespace is listed, and the name prefix, service account and
// label selector, those that are set, all match.
func (x *Exception) Selects(in *Input) bool {
	if _, ok := x.namespaces[in.Namespace.Name]; !ok {
		return false
	}
	if x.namePrefix != "" && !strings.HasPrefix(in.Name, x.namePrefix) {
		return false
	}
	if x.serviceAccount != "" {
		sa := "default"
		if in.Spec != nil && in.Spec.ServiceAccountName != "" {
			sa = in.Spec.ServiceAccountName
		}
		if sa != x.serviceAccount {
			return false
		}
	}
	return x.selector == nil || x.selector.Matches(labels.Set(in.Labels))
}

// AppliedException names an exception that let a pod through, with its
// expiry, for the warning, the audit annotation and the reports.
type AppliedException struct {
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ExceptionWarning is the warning on an object admitted under exception a.
func ExceptionWarning(a AppliedException) string {
	return "admitted under HostProcessException " + quote(a.Name) + ", which expires at " + a.ExpiresAt.UTC().Format(time.RFC3339)
}

// EvaluateWithExceptions evaluates in as Evaluate does and, when it has
// violations, under the exceptions among exceptions that select it and are
// active at now (see the top of this file). Result.Exceptions lists those
// that apply, by name; when violations remain, Result.ExpiredExceptions
// lists the exceptions that select the pod and would spare it one but have
// expired (the audit flags such a pod: it outlived its grant).
func (p *Policy) EvaluateWithExceptions(in Input, exceptions []*Exception, now time.Time) Result {
	res := p.Evaluate(in)
	if len(res.Violations) == 0 || len(exceptions) == 0 {
		return res
	}
	if in.SpecPath == "" {
		in.SpecPath = "spec"
	}
	// A namespace that no rule matches has the top-level scope, with no
	// images; an exception that selects it lifts the rule namespace.
	base, _ := p.scopeFor(in.Namespace)
	var applied, expired []*Exception
	for _, x := range exceptions {
		if !x.withinLifetime(p.cfg.Exceptions.MaxLifetime) || !x.Selects(&in) {
			continue
		}
		if one := p.evaluate(in, widen(base, x), true); len(one.Violations) < len(res.Violations) {
			if x.ActiveAt(now) {
				applied = append(applied, x)
			} else {
				expired = append(expired, x)
			}
		}
	}
	if len(applied) == 0 {
		res.ExpiredExceptions = appliedList(expired)
		return res
	}
	res = p.evaluate(in, widen(base, applied...), true)
	res.Exceptions = appliedList(applied)
	if len(res.Violations) > 0 {
		res.ExpiredExceptions = appliedList(expired)
	}
	return res
}

// appliedList names xs, sorted by name.
func appliedList(xs []*Exception) []AppliedException {
	if len(xs) == 0 {
		return nil
	}
	out := make([]AppliedException, len(xs))
	for i, x := range xs {
		out[i] = AppliedException{Name: x.Name, ExpiresAt: x.ExpiresAt}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// widen returns base with the grants of xs added. The names in messages
// stay the configuration's.
func widen(base *scope, xs ...*Exception) *scope {
	w := *base
	w.users = append([]string(nil), base.users...)
	w.groups = append([]string(nil), base.groups...)
	w.images = append([]imagePattern(nil), base.images...)
	for _, x := range xs {
		w.users = append(w.users, x.grants.Accounts...)
		w.groups = append(w.groups, x.grants.LocalGroups...)
		if len(base.images) > 0 {
			// Without allowedImages every image is allowed already.
			w.images = append(w.images, x.images...)
		}
		w.inheritUserGranted = w.inheritUserGranted || x.grants.InheritUser
	}
	return &w
}
