// Package webhook serves the validating and mutating admission webhooks over
// TLS. It decodes each AdmissionReview once, asks the policy package for a
// verdict and builds the response; the policy knows nothing about HTTP.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// Audit annotation keys. The API server prefixes each with the webhook's
// name, e.g. validate.hostprocess.dev/violations.
const (
	AnnotationViolations = "violations"
	AnnotationMode       = "mode"
	AnnotationExempt     = "exempt"
)

// Paths the handlers are served on.
const (
	ValidatePath = "/validate"
	MutatePath   = "/mutate"
)

// DefaultMaxBodyBytes bounds a review's body. The API server's own request
// limit is 3 MiB and etcd stores at most 1.5 MiB per object; a review wraps
// the object and, for updates, the old object.
const DefaultMaxBodyBytes = 4 << 20

// MaxBodyBytesLimit bounds --max-body-bytes: the most a review from the API
// server holds (two objects at its 3 MiB request limit and the rest, 7 MiB
// as controller-runtime reckons), rounded up.
const MaxBodyBytesLimit = 8 << 20

// NamespaceGetter returns a namespace's labels.
type NamespaceGetter interface {
	NamespaceLabels(ctx context.Context, name string) (map[string]string, error)
}

// Handler evaluates admission reviews against the current policy.
type Handler struct {
	// Policy returns the policy in force; it may change between requests.
	Policy func() *policy.Policy
	// Namespaces is consulted only for HostProcess pods when a namespace rule
	// has a label selector.
	Namespaces NamespaceGetter
	Metrics    *Metrics
	Log        logr.Logger
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Exceptions are the HostProcessExceptions applied to the objects
	// evaluated, while each is active; nil means none.
	Exceptions ExceptionSource
	// Now returns the time of a request; nil means time.Now.
	Now func() time.Time
}

// Validate returns the validating webhook's HTTP handler.
func (h *Handler) Validate() http.Handler { return h.serve("validate", h.validate) }

// Mutate returns the mutating webhook's HTTP handler.
func (h *Handler) Mutate() http.Handler { return h.serve("mutate", h.mutate) }

// outcome is what a review decided, for the response and the metrics.
type outcome struct {
	resp     admissionv1.AdmissionResponse
	decision string
}

// Decisions, the values of the metrics' decision label.
const (
	decisionAllowed = "allowed"
	decisionDenied  = "denied"
	decisionWarned  = "warned"
	decisionAudited = "audited"
	decisionExempt  = "exempt"
	decisionError   = "error"
)

func (h *Handler) serve(name string, review func(context.Context, *admissionv1.AdmissionRequest) outcome) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			h.writeError(w, http.StatusMethodNotAllowed, "", "only POST is allowed")
			h.Metrics.observe(name, "", "", decisionError, start)
			return
		}
		limit := h.MaxBodyBytes
		if limit <= 0 {
			limit = DefaultMaxBodyBytes
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body exceeds %d bytes", limit))
			} else {
				h.writeError(w, http.StatusBadRequest, "", "reading request body: "+err.Error())
			}
			h.Metrics.observe(name, "", "", decisionError, start)
			return
		}
		if len(body) == 0 {
			h.writeError(w, http.StatusBadRequest, "", "request body is empty")
			h.Metrics.observe(name, "", "", decisionError, start)
			return
		}
		req, err := decodeReview(body)
		if err != nil {
			// A 200 with a denial when the uid is known, so the API server can
			// match it; a 400 when it is not.
			uid, code := "", http.StatusBadRequest
			if req != nil {
				uid, code = string(req.UID), http.StatusOK
			}
			h.writeError(w, code, uid, err.Error())
			h.Metrics.observe(name, "", "", decisionError, start)
			return
		}
		out := review(r.Context(), req)
		out.resp.UID = req.UID
		h.write(w, http.StatusOK, &out.resp)
		h.Metrics.observe(name, string(req.Operation), resourceLabel(req), out.decision, start)
		if out.decision == decisionDenied || out.decision == decisionError {
			msg := ""
			if out.resp.Result != nil {
				msg = out.resp.Result.Message
			}
			h.Log.Info("denied", "webhook", name, "uid", req.UID, "kind", req.Kind.Kind,
				"namespace", req.Namespace, "name", req.Name, "user", req.UserInfo.Username, "message", msg)
		}
	})
}

// validate is the validating webhook: Pods (CREATE, and UPDATE through the
// pod or a subresource), Bindings and workload pod templates.
func (h *Handler) validate(ctx context.Context, req *admissionv1.AdmissionRequest) outcome {
	if isExceptionRequest(req) {
		return h.validateException(req)
	}
	kind, p, t, answer := h.read(req, true)
	if answer != nil {
		return *answer
	}
	if kind == nil {
		return h.validateBinding(ctx, p, req)
	}
	// before is the pod as it was, for an update of a Pod (or of one of its
	// subresources): only the violations the update introduces count.
	var before *target
	if req.Operation == admissionv1.Update {
		oldObj, err := decodeObject(kind, req.OldObject, "request.oldObject")
		if err == nil {
			old := newTarget(kind, oldObj)
			// The kubelet reads a pod's annotations each time it creates the pod's
			// sandbox, and a template's reach every new pod: both count.
			if policy.SameForPolicy(old.Spec, t.Spec) && policy.SameRuntimeAnnotations(old.annotations(), t.annotations()) {
				// Relabelling, finalizers, tolerations, scheduling gates, scaling,
				// status: nothing the policy reads changed.
				return allowed()
			}
			if !t.Workload {
				before = &old
			}
		}
	}
	if t.Spec == nil || !policy.IsHostProcess(t.Spec) {
		return allowed()
	}
	ns, err := h.namespace(ctx, p, req.Namespace)
	if err != nil {
		return denied(req, t, fmt.Sprintf("namespace %q could not be read to evaluate the HostProcess namespace rules, so the pod is denied: %v", req.Namespace, err))
	}
	now, exceptions := h.now(), h.exceptions()
	res := p.EvaluateWithExceptions(t.input(ns, req), exceptions, now)
	if before != nil && before.Spec != nil && len(res.Violations) > 0 {
		was := p.EvaluateWithExceptions(before.input(ns, req), exceptions, now)
		res.Violations = policy.Introduced(was.Violations, res.Violations, req.SubResource == "ephemeralcontainers")
	}
	return h.verdict(req, t, p.ModeFor(t.Workload), &res)
}

// validateBinding judges the runtime annotations of a Binding, which the API
// server merges into the pod it binds (policy.EvaluateBinding).
func (h *Handler) validateBinding(ctx context.Context, p *policy.Policy, req *admissionv1.AdmissionRequest) outcome {
	var b corev1.Binding
	if len(req.Object.Raw) == 0 {
		return errored(http.StatusBadRequest, "request has no Binding object")
	}
	if err := unmarshal(req.Object.Raw, &b); err != nil {
		return errored(http.StatusBadRequest, decodeError("request.object", withIndices(req.Object.Raw, err)).Error())
	}
	t := target{name: req.Name, Template: policy.Template{Meta: &b.ObjectMeta}}
	if policy.SameRuntimeAnnotations(nil, b.Annotations) {
		return allowed() // none of the annotations the policy reads
	}
	ns, err := h.namespace(ctx, p, req.Namespace)
	if err != nil {
		return denied(req, t, fmt.Sprintf("namespace %q could not be read to evaluate the Binding's runtime annotations, so it is denied: %v", req.Namespace, err))
	}
	res := p.EvaluateBinding(ns, b.Annotations)
	return h.verdict(req, t, p.ModeFor(false), &res)
}

// verdict turns an evaluation into a response under mode.
func (h *Handler) verdict(req *admissionv1.AdmissionRequest, t target, mode config.Mode, res *policy.Result) outcome {
	d := policy.Decide(res, mode)
	for _, a := range res.Exceptions {
		h.Metrics.exceptionApplied(a.Name, req.Namespace)
	}
	if len(res.Violations) == 0 {
		out := allowed()
		out.resp.Warnings = d.Warnings
		if len(res.Exceptions) > 0 {
			out.resp.AuditAnnotations = map[string]string{AnnotationExceptions: exceptionsJSON(res.Exceptions)}
		}
		return out
	}
	for _, v := range res.Violations {
		h.Metrics.violation(v.Rule, string(mode), req.Namespace)
	}
	var out outcome
	switch {
	case !d.Allowed:
		out = denied(req, t, d.Reason)
	case d.Audited:
		out = allowed()
		out.decision = decisionAudited
	default:
		out = allowed()
		out.decision = decisionWarned
	}
	out.resp.Warnings = d.Warnings
	out.resp.AuditAnnotations = map[string]string{
		AnnotationViolations: violationsJSON(res.Violations),
		AnnotationMode:       string(mode),
	}
	if len(res.Exceptions) > 0 {
		out.resp.AuditAnnotations[AnnotationExceptions] = exceptionsJSON(res.Exceptions)
	}
	return out
}

// mutate is the mutating webhook: Pods on CREATE, and workloads on CREATE
// under defaults.workloadTemplates.
func (h *Handler) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) outcome {
	if isExceptionRequest(req) {
		return h.mutateException(req)
	}
	_, p, t, answer := h.read(req, false)
	if answer != nil {
		return *answer
	}
	if t.Spec == nil || (t.Workload && !p.Config().Defaults.WorkloadTemplates) || !policy.IsHostProcess(t.Spec) {
		return allowed()
	}
	ns, err := h.namespace(ctx, p, req.Namespace)
	if err != nil {
		return denied(req, t, fmt.Sprintf("namespace %q could not be read to apply the HostProcess defaults, so the pod is denied: %v", req.Namespace, err))
	}
	ops := p.Default(policy.Input{Namespace: ns, Spec: t.Spec, SpecPath: t.SpecPath, Annotations: t.annotations(), Kind: req.Kind.Kind})
	out := allowed()
	if len(ops) > 0 {
		patch, err := json.Marshal(ops)
		if err != nil {
			return errored(http.StatusInternalServerError, "encoding the patch: "+err.Error())
		}
		pt := admissionv1.PatchTypeJSONPatch
		out.resp.Patch, out.resp.PatchType = patch, &pt
	}
	return out
}

// read returns the kind, the policy in force and the decoded object of a
// request this webhook evaluates, or the answer to one it does not: out of
// scope, exempt, or unreadable (fail closed). The kind of a Binding
// (pods/binding) is nil: validateBinding reads it.
func (h *Handler) read(req *admissionv1.AdmissionRequest, validating bool) (*policy.Kind, *policy.Policy, target, *outcome) {
	kind, skip, ok := h.inScope(req, validating)
	if !ok {
		return nil, nil, target{}, &skip
	}
	p := h.Policy()
	if out, exempt := exemption(p, req); exempt {
		return nil, nil, target{}, &out
	}
	if kind == nil {
		return nil, p, target{}, nil
	}
	obj, err := decodeObject(kind, req.Object, "request.object")
	if err != nil {
		out := errored(http.StatusBadRequest, err.Error())
		return nil, nil, target{}, &out
	}
	return kind, p, newTarget(kind, obj), nil
}

// podSubresources are the ways into a Pod that can change what its node runs
// (docs/policy.md, "Updates"): the pod itself, its ephemeral containers, its
// status (which keeps changes of metadata), its resources (resize, which the
// policy does not read) and its Binding (whose annotations are merged into
// the pod). The Binding's object is a Binding; the others' is the Pod.
var podSubresources = map[string]bool{"": true, "ephemeralcontainers": true, "status": true, "resize": true, "binding": true}

// inScope returns the kind of a request this webhook evaluates, or the
// answer to one it does not: other operations, subresources and resources
// are admitted. validating selects the validating webhook's scope (pods and
// their subresources, workloads on CREATE and UPDATE) or the mutating one's
// (pods and workloads on CREATE).
func (h *Handler) inScope(req *admissionv1.AdmissionRequest, validating bool) (*policy.Kind, outcome, bool) {
	gr := schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}
	isPod := gr == schema.GroupResource{Resource: "pods"}
	switch {
	case !validating && (!policy.HasPodSpec(gr) || req.Operation != admissionv1.Create || req.SubResource != ""):
		return nil, allowed(), false
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		return nil, allowed(), false
	case isPod && !podSubresources[req.SubResource]:
		return nil, allowed(), false
	case !isPod && (req.SubResource != "" || !policy.HasPodSpec(gr)):
		return nil, allowed(), false
	case isPod && req.SubResource == "binding":
		if req.Kind.Group != "" || req.Kind.Kind != "Binding" {
			return nil, errored(http.StatusBadRequest, fmt.Sprintf("resource pods/binding has unexpected kind %s", req.Kind.Kind)), false
		}
		return nil, outcome{}, true
	}
	kind := policy.KindFor(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind})
	if kind == nil {
		return nil, errored(http.StatusBadRequest, fmt.Sprintf("resource %s has unexpected kind %s", gr.String(), req.Kind.Kind)), false
	}
	return kind, outcome{}, true
}

// exemption admits requests from exempt namespaces and users, recording why.
func exemption(p *policy.Policy, req *admissionv1.AdmissionRequest) (outcome, bool) {
	var reason string
	switch {
	case p.ExemptNamespace(req.Namespace):
		reason = fmt.Sprintf("namespace %s is exempt", req.Namespace)
	case p.ExemptUser(req.UserInfo.Username):
		reason = fmt.Sprintf("user %s is exempt", req.UserInfo.Username)
	default:
		return outcome{}, false
	}
	out := allowed()
	out.decision = decisionExempt
	out.resp.AuditAnnotations = map[string]string{AnnotationExempt: reason}
	return out, true
}

// namespace returns what the policy needs to know about a namespace, reading
// its labels only when a namespace rule has a label selector.
func (h *Handler) namespace(ctx context.Context, p *policy.Policy, name string) (policy.Namespace, error) {
	ns := policy.Namespace{Name: name}
	if !p.NeedsNamespaceLabels() {
		return ns, nil
	}
	if h.Namespaces == nil {
		return ns, errors.New("no namespace source is configured")
	}
	labels, err := h.Namespaces.NamespaceLabels(ctx, name)
	if err != nil {
		return ns, err
	}
	ns.Labels = labels
	return ns, nil
}

func allowed() outcome {
	return outcome{resp: admissionv1.AdmissionResponse{Allowed: true}, decision: decisionAllowed}
}

// denied is a 403 Forbidden denial naming the object, as the API server's
// own admission plugins word theirs.
func denied(req *admissionv1.AdmissionRequest, t target, reason string) outcome {
	name := t.name
	if name == "" {
		name = req.Name
	}
	err := apierrors.NewForbidden(schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}, name,
		errors.New(policy.DeniedPrefix+reason))
	status := err.Status()
	return outcome{resp: admissionv1.AdmissionResponse{Allowed: false, Result: &status}, decision: decisionDenied}
}

// errored is a denial for a request that could not be evaluated: the webhook
// fails closed.
func errored(code int32, msg string) outcome {
	return outcome{resp: admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: reasonFor(code), Message: msg,
	}}, decision: decisionError}
}

func reasonFor(code int32) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusRequestEntityTooLarge:
		return metav1.StatusReasonRequestEntityTooLarge
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	default:
		return metav1.StatusReasonInternalError
	}
}

func (h *Handler) write(w http.ResponseWriter, code int, resp *admissionv1.AdmissionResponse) {
	body, err := json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: resp,
	})
	if err != nil {
		h.Log.Error(err, "encoding the AdmissionReview response")
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeError answers a request that could not be decoded with a denial.
func (h *Handler) writeError(w http.ResponseWriter, code int, uid, msg string) {
	out := errored(int32(code), msg)
	out.resp.UID = types.UID(uid)
	h.write(w, code, &out.resp)
}

func violationsJSON(vs []policy.Violation) string {
	b, err := json.Marshal(vs)
	if err != nil {
		return "[]"
	}
	return string(b)
}

// resourceLabel bounds the resource metric label to known values.
func resourceLabel(req *admissionv1.AdmissionRequest) string {
	gr := schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}
	if !policy.HasPodSpec(gr) {
		return "other"
	}
	switch {
	case req.SubResource == "":
		return gr.String()
	case gr.Resource == "pods" && podSubresources[req.SubResource]:
		return "pods/" + req.SubResource
	}
	return "other"
}
