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
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
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

func (h *Handler) serve(name string, review func(context.Context, *request) outcome) http.Handler {
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
		buf := getBuffer(r.ContentLength, limit)
		defer putBuffer(buf)
		body, err := readBody(*buf, http.MaxBytesReader(w, r.Body, limit))
		*buf = body
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
		rev, err := decodeReview(body)
		if err != nil {
			uid := ""
			if rev != nil && rev.Request != nil {
				uid = string(rev.Request.UID)
			}
			// A 200 with a denial when the uid is known, so the API server can
			// match it; a 400 when it is not.
			code := http.StatusBadRequest
			if uid != "" {
				code = http.StatusOK
			}
			out := errored(http.StatusBadRequest, err.Error())
			out.resp.UID = types.UID(uid)
			h.write(w, code, &out.resp)
			h.Metrics.observe(name, "", "", decisionError, start)
			return
		}
		req := rev.Request
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
func (h *Handler) validate(ctx context.Context, req *request) outcome {
	if skip, ok := h.outOfScope(req, true); ok {
		return skip
	}
	p := h.Policy()
	if out, exempt := exemption(p, req); exempt {
		return out
	}
	if req.SubResource == "binding" {
		return h.validateBinding(ctx, p, req)
	}
	gk := metav1.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	t, err := decodeTarget(gk, req.Object)
	if err != nil {
		return errored(http.StatusBadRequest, err.Error())
	}
	// before is the pod as it was, for an update of a Pod (or of one of its
	// subresources): only the violations the update introduces count.
	var before *target
	if req.Operation == admissionv1.Update {
		old, err := decodeTarget(gk, req.OldObject)
		// The kubelet reads a pod's annotations each time it creates the pod's
		// sandbox, and a template's reach every new pod: both count.
		if err == nil && sameForPolicy(old.spec, t.spec) && sameRuntimeAnnotations(old.annotations, t.annotations) {
			// Relabelling, finalizers, tolerations, scheduling gates, scaling,
			// status: nothing the policy reads changed.
			return allowed()
		}
		if err == nil && !t.workload {
			before = &old
		}
	}
	if t.spec == nil {
		return allowed()
	}
	ps := t.spec.podSpec()
	defer ps.release()
	spec := &ps.spec
	if !policy.IsHostProcess(spec) {
		return allowed()
	}
	ns, err := h.namespace(ctx, p, req.Namespace)
	if err != nil {
		return denied(req, t, fmt.Sprintf("namespace %q could not be read to evaluate the HostProcess namespace rules, so the pod is denied: %v", req.Namespace, err))
	}
	res := p.Evaluate(policy.Input{Namespace: ns, Spec: spec, SpecPath: t.specPath, Annotations: t.annotations, Kind: req.Kind.Kind})
	if before != nil && before.spec != nil && len(res.Violations) > 0 {
		old := before.spec.podSpec()
		defer old.release()
		was := p.Evaluate(policy.Input{Namespace: ns, Spec: &old.spec, SpecPath: before.specPath, Annotations: before.annotations, Kind: req.Kind.Kind})
		res.Violations = policy.Introduced(was.Violations, res.Violations, req.SubResource == "ephemeralcontainers")
	}
	mode := p.ModeFor(t.workload)
	return h.verdict(req, t, mode, &res)
}

// validateBinding judges the runtime annotations of a Binding, which the API
// server merges into the pod it binds (policy.EvaluateBinding).
func (h *Handler) validateBinding(ctx context.Context, p *policy.Policy, req *request) outcome {
	if req.Object == nil {
		return errored(http.StatusBadRequest, "request has no Binding object")
	}
	t := target{name: req.Name, annotations: req.Object.Metadata.Annotations}
	if len(t.annotations) == 0 {
		return allowed()
	}
	ns, err := h.namespace(ctx, p, req.Namespace)
	if err != nil {
		return denied(req, t, fmt.Sprintf("namespace %q could not be read to evaluate the Binding's runtime annotations, so it is denied: %v", req.Namespace, err))
	}
	res := p.EvaluateBinding(ns, t.annotations)
	return h.verdict(req, t, p.ModeFor(false), &res)
}

// verdict turns an evaluation into a response under mode.
func (h *Handler) verdict(req *request, t target, mode config.Mode, res *policy.Result) outcome {
	if len(res.Violations) == 0 {
		out := allowed()
		out.resp.Warnings = res.Warnings
		return out
	}
	for _, v := range res.Violations {
		h.Metrics.violation(v.Rule, string(mode), req.Namespace)
	}
	annotations := map[string]string{
		AnnotationViolations: violationsJSON(res.Violations),
		AnnotationMode:       string(mode),
	}
	var out outcome
	switch mode {
	case config.ModeWarn:
		out = allowed()
		out.decision = decisionWarned
		for _, v := range res.Violations {
			out.resp.Warnings = append(out.resp.Warnings, "would violate the HostProcess policy: "+v.Message)
		}
		out.resp.Warnings = append(out.resp.Warnings, res.Warnings...)
	case config.ModeAudit:
		out = allowed()
		out.decision = decisionAudited
	default:
		msgs := make([]string, len(res.Violations))
		for i, v := range res.Violations {
			msgs[i] = v.Message
		}
		out = denied(req, t, strings.Join(msgs, "; "))
		out.resp.Warnings = res.Warnings
	}
	out.resp.AuditAnnotations = annotations
	return out
}

// mutate is the mutating webhook: Pods on CREATE.
func (h *Handler) mutate(ctx context.Context, req *request) outcome {
	if skip, ok := h.outOfScope(req, false); ok {
		return skip
	}
	p := h.Policy()
	if out, exempt := exemption(p, req); exempt {
		return out
	}
	// Pods, and workloads for defaults.workloadTemplates (Default says
	// whether a template gets defaults).
	t, err := decodeTarget(metav1.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}, req.Object)
	if err != nil {
		return errored(http.StatusBadRequest, err.Error())
	}
	if t.spec == nil || (t.workload && !p.Config().Defaults.WorkloadTemplates) {
		return allowed()
	}
	ps := t.spec.podSpec()
	defer ps.release()
	spec := &ps.spec
	if !policy.IsHostProcess(spec) {
		return allowed()
	}
	ns, err := h.namespace(ctx, p, req.Namespace)
	if err != nil {
		return denied(req, t, fmt.Sprintf("namespace %q could not be read to apply the HostProcess defaults, so the pod is denied: %v", req.Namespace, err))
	}
	ops := p.Default(policy.Input{Namespace: ns, Spec: spec, SpecPath: t.specPath, Annotations: t.annotations, Kind: req.Kind.Kind})
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

// podSubresources are the ways into a Pod that can change what its node runs
// (docs/policy.md, "Updates"): the pod itself, its ephemeral containers, its
// status (which keeps changes of metadata), its resources (resize, which the
// policy does not read) and its Binding (whose annotations are merged into
// the pod). The Binding's object is a Binding; the others' is the Pod.
var podSubresources = map[string]bool{"": true, "ephemeralcontainers": true, "status": true, "resize": true, "binding": true}

// outOfScope admits requests this webhook does not evaluate: other
// operations, subresources and resources. validating selects the
// validating webhook's scope (pods, pods/ephemeralcontainers, workloads on
// CREATE and UPDATE) or the mutating one's (pods and workloads on CREATE).
func (h *Handler) outOfScope(req *request, validating bool) (outcome, bool) {
	gr := schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}
	isPod := gr == schema.GroupResource{Resource: "pods"}
	switch {
	case !validating && (!policy.HasPodSpec(gr) || req.Operation != admissionv1.Create || req.SubResource != ""):
		return allowed(), true
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		return allowed(), true
	case isPod && !podSubresources[req.SubResource]:
		return allowed(), true
	case !isPod && (req.SubResource != "" || !policy.HasPodSpec(gr)):
		return allowed(), true
	case isPod && req.SubResource == "binding":
		if req.Kind.Group != "" || req.Kind.Kind != "Binding" {
			return errored(http.StatusBadRequest, fmt.Sprintf("resource pods/binding has unexpected kind %s", req.Kind.Kind)), true
		}
		return outcome{}, false
	}
	if _, ok := kindPaths[metav1.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}]; !ok {
		return errored(http.StatusBadRequest, fmt.Sprintf("resource %s has unexpected kind %s", gr.String(), req.Kind.Kind)), true
	}
	return outcome{}, false
}

// exemption admits requests from exempt namespaces and users, recording why.
func exemption(p *policy.Policy, req *request) (outcome, bool) {
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
func denied(req *request, t target, reason string) outcome {
	name := t.name
	if name == "" {
		name = req.Name
	}
	err := apierrors.NewForbidden(schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}, name,
		errors.New("violates the HostProcess policy: "+reason))
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
	body, err := encodeResponse(resp)
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

// Request bodies are read into pooled buffers, sized from Content-Length
// when the client sends one: the decoded review copies what it keeps, so a
// buffer is free again once the response is written. Buffers that grew
// past maxPooledBuffer are left to the garbage collector.
const maxPooledBuffer = 256 << 10

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuffer(contentLength, limit int64) *[]byte {
	buf := bufferPool.Get().(*[]byte)
	// One byte more than the body, so that reading it ends at EOF without
	// growing; a Content-Length is only a claim, so it never reserves more
	// than a pooled buffer holds.
	if n := contentLength + 1; contentLength > 0 && n <= min(limit+1, maxPooledBuffer) && int64(cap(*buf)) < n {
		*buf = make([]byte, 0, n)
	}
	*buf = (*buf)[:0]
	return buf
}

func putBuffer(buf *[]byte) {
	if cap(*buf) <= maxPooledBuffer {
		bufferPool.Put(buf)
	}
}

// readBody appends all of r to b, like io.ReadAll into a given buffer.
func readBody(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func violationsJSON(vs []policy.Violation) string {
	b, err := json.Marshal(vs)
	if err != nil {
		return "[]"
	}
	return string(b)
}

// resourceLabel bounds the resource metric label to known values.
func resourceLabel(req *request) string {
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
