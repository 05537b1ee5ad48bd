package webhook

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// The request side of an admission.k8s.io/v1 AdmissionReview, decoded once
// into only what the policy needs (walk.go reads the members named by the
// json tags below and skips the rest).

type review struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Request    *request `json:"request"`
}

type request struct {
	UID         types.UID                   `json:"uid"`
	Kind        metav1.GroupVersionKind     `json:"kind"`
	Resource    metav1.GroupVersionResource `json:"resource"`
	SubResource string                      `json:"subResource"`
	Name        string                      `json:"name"`
	Namespace   string                      `json:"namespace"`
	Operation   admissionv1.Operation       `json:"operation"`
	UserInfo    userInfoView                `json:"userInfo"`
	Object      *objectView                 `json:"object"`
	OldObject   *objectView                 `json:"oldObject"`
	DryRun      *bool                       `json:"dryRun"`
}

// decodeOptions are those of encoding/json/v2 (the go-json-experiment module
// mirrors it until Go 1.27): names match case-sensitively, as the API server
// writes them; a duplicate name is an error, so no field can be read
// differently by the API server and the webhook; unknown members are skipped
// without being decoded. Invalid UTF-8 becomes U+FFFD, as the API server's
// own decoder treats it.
var decodeOptions = jsontext.AllowInvalidUTF8(true)

// decodeReview decodes an AdmissionReview in one pass over the body: the
// object and old object go straight into views of the fields the policy
// reads. When the body does not decode, the returned review still carries the
// request's uid if it can be found, so that the denial echoes it.
func decodeReview(body []byte) (*review, error) {
	var r review
	if err := walkReview(body, &r); err != nil {
		var id struct {
			Request *struct {
				UID types.UID `json:"uid"`
			} `json:"request"`
		}
		// Only to echo the uid: a duplicate name elsewhere does not hide it.
		if json.Unmarshal(body, &id, decodeOptions, jsontext.AllowDuplicateNames(true)) == nil && id.Request != nil {
			return &review{Request: &request{UID: id.Request.UID}}, decodeError(err)
		}
		return nil, decodeError(err)
	}
	if r.APIVersion != admissionv1.SchemeGroupVersion.String() || r.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("expected an admission.k8s.io/v1 AdmissionReview, got apiVersion %q kind %q", r.APIVersion, r.Kind)
	}
	if r.Request == nil {
		return nil, errors.New("AdmissionReview has no request")
	}
	if r.Request.UID == "" {
		return nil, errors.New("AdmissionReview request has no uid")
	}
	return &r, nil
}

// decodeError words a decoding error for the API server's user: the field
// path as Kubernetes writes it and the JSON that was wrong, never the
// webhook's Go types.
func decodeError(err error) error {
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &sem) && sem.JSONKind != 0 && sem.GoType != nil:
		if sem.Err != nil { // e.g. a number out of range
			return fmt.Errorf("malformed AdmissionReview: %s: JSON %s: %v", fieldPath(sem.JSONPointer), kindName(sem.JSONKind), sem.Err)
		}
		return fmt.Errorf("malformed AdmissionReview: %s: JSON %s where %s is expected", fieldPath(sem.JSONPointer), kindName(sem.JSONKind), typeName(sem.GoType))
	case errors.As(err, &syn) && syn.Err != nil:
		where := fmt.Sprintf("byte %d", syn.ByteOffset)
		if syn.JSONPointer != "" {
			where += " (" + fieldPath(syn.JSONPointer) + ")"
		}
		return fmt.Errorf("malformed AdmissionReview: invalid JSON at %s: %v", where, syn.Err)
	}
	return fmt.Errorf("malformed AdmissionReview: %w", err)
}

// fieldPath turns a JSON pointer into a field path: /spec/containers/0/name
// is spec.containers[0].name.
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if tok != "" && strings.Trim(tok, "0123456789") == "" {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "the review"
	}
	return b.String()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '{', '}':
		return "object"
	case '[', ']':
		return "array"
	}
	return k.String() // string, number
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

// podSpecView holds the pod spec fields the policy reads. Everything else in
// the spec (volumes, env, resources...) is skipped by the decoder.
type podSpecView struct {
	HostNetwork         bool                       `json:"hostNetwork"`
	SecurityContext     *corev1.PodSecurityContext `json:"securityContext"`
	InitContainers      []containerView            `json:"initContainers"`
	Containers          []containerView            `json:"containers"`
	EphemeralContainers []containerView            `json:"ephemeralContainers"`
	OS                  *corev1.PodOS              `json:"os"`
	NodeSelector        map[string]string          `json:"nodeSelector"`
	Affinity            *corev1.Affinity           `json:"affinity"`
	Tolerations         []corev1.Toleration        `json:"tolerations"`
}

type containerView struct {
	Name            string                  `json:"name"`
	Image           string                  `json:"image"`
	SecurityContext *corev1.SecurityContext `json:"securityContext"`
}

type metaView struct {
	Name         string             `json:"name"`
	GenerateName string             `json:"generateName"`
	Namespace    string             `json:"namespace"`
	Annotations  runtimeAnnotations `json:"annotations"`
}

type templateView struct {
	Metadata templateMetaView `json:"metadata"`
	Spec     podSpecView      `json:"spec"`
}

type templateMetaView struct {
	Annotations runtimeAnnotations `json:"annotations"`
}

// runtimeAnnotations holds the annotations the policy reads
// (policy.RuntimeAnnotations), nil when there are none: the others are
// checked as JSON and dropped, by the scan and by json.Unmarshal alike.
type runtimeAnnotations map[string]string

// UnmarshalJSONFrom decodes all the annotations and keeps the policy's.
func (a *runtimeAnnotations) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	var all map[string]string
	if err := json.UnmarshalDecode(d, &all); err != nil {
		return err
	}
	*a = nil
	for _, key := range policy.RuntimeAnnotations {
		if v, ok := all[key]; ok {
			if *a == nil {
				*a = runtimeAnnotations{}
			}
			(*a)[key] = v
		}
	}
	return nil
}

// objectView covers a Pod and every workload kind in one type, so that the
// object decodes in the same pass as the review: Pod (spec), Deployment,
// ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController
// (spec.template), CronJob (spec.jobTemplate.spec.template) and PodTemplate
// (template). No field name of a pod spec occurs in a workload spec, so the
// parts do not collide; which part is read depends on the request's kind.
type objectView struct {
	Metadata metaView      `json:"metadata"`
	Spec     specView      `json:"spec"`
	Template *templateView `json:"template"`
}

type specView struct {
	podSpecView
	Template    *templateView    `json:"template"`
	JobTemplate *jobTemplateView `json:"jobTemplate"`
}

type jobTemplateView struct {
	Spec jobSpecView `json:"spec"`
}

type jobSpecView struct {
	Template *templateView `json:"template"`
}

type userInfoView struct {
	Username string `json:"username"`
}

// target is a decoded object: its name and the pod spec view to evaluate.
type target struct {
	name     string
	spec     *podSpecView // nil when a workload has no template
	specPath string
	workload bool
	// annotations are the pod's, or the pod template's for a workload.
	annotations map[string]string
}

// kindPaths maps the pod-bearing kinds to the field path of their pod spec.
var kindPaths = map[metav1.GroupKind]string{
	{Group: "", Kind: "Pod"}:                   "spec",
	{Group: "", Kind: "PodTemplate"}:           "template.spec",
	{Group: "", Kind: "ReplicationController"}: "spec.template.spec",
	{Group: "apps", Kind: "Deployment"}:        "spec.template.spec",
	{Group: "apps", Kind: "ReplicaSet"}:        "spec.template.spec",
	{Group: "apps", Kind: "StatefulSet"}:       "spec.template.spec",
	{Group: "apps", Kind: "DaemonSet"}:         "spec.template.spec",
	{Group: "batch", Kind: "Job"}:              "spec.template.spec",
	{Group: "batch", Kind: "CronJob"}:          "spec.jobTemplate.spec.template.spec",
}

// decodeTarget picks the pod spec of obj, an object of kind gk.
func decodeTarget(gk metav1.GroupKind, obj *objectView) (target, error) {
	path, ok := kindPaths[gk]
	if !ok {
		return target{}, fmt.Errorf("kind %s has no pod spec", gk.String())
	}
	if obj == nil {
		return target{}, fmt.Errorf("request has no %s object", gk.Kind)
	}
	t := target{name: obj.Metadata.name(), specPath: path, workload: gk.Kind != "Pod"}
	var tmpl *templateView
	switch gk.Kind {
	case "Pod":
		t.spec = &obj.Spec.podSpecView
		t.annotations = obj.Metadata.Annotations
		return t, nil
	case "PodTemplate":
		tmpl = obj.Template
	case "CronJob":
		if obj.Spec.JobTemplate != nil {
			tmpl = obj.Spec.JobTemplate.Spec.Template
		}
	default:
		tmpl = obj.Spec.Template
	}
	if tmpl != nil {
		t.spec = &tmpl.Spec
		t.annotations = tmpl.Metadata.Annotations
	}
	return t, nil
}

func (m metaView) name() string {
	if m.Name == "" && m.GenerateName != "" {
		return m.GenerateName + "*"
	}
	return m.Name
}

// pooledSpec is a view converted into the corev1.PodSpec the policy
// evaluates. The containers are most of a review's garbage (a Container is
// over a kilobyte), so specs are recycled: release one once nothing refers
// to it.
type pooledSpec struct {
	spec       corev1.PodSpec
	containers []corev1.Container
	ephemeral  []corev1.EphemeralContainer
}

var specPool = sync.Pool{New: func() any { return new(pooledSpec) }}

// maxPooledContainers keeps unusually large pods' slices out of the pool.
const maxPooledContainers = 64

// podSpec converts the view; the spec holds the view's own values.
func (v *podSpecView) podSpec() *pooledSpec {
	p := specPool.Get().(*pooledSpec)
	p.spec = corev1.PodSpec{
		HostNetwork:     v.HostNetwork,
		SecurityContext: v.SecurityContext,
		OS:              v.OS,
		NodeSelector:    v.NodeSelector,
		Affinity:        v.Affinity,
		Tolerations:     v.Tolerations,
	}
	if n := len(v.InitContainers) + len(v.Containers); n > 0 {
		all := slices.Grow(p.containers[:0], n)[:n]
		for i, c := range v.InitContainers {
			all[i] = corev1.Container{Name: c.Name, Image: c.Image, SecurityContext: c.SecurityContext}
		}
		for i, c := range v.Containers {
			all[len(v.InitContainers)+i] = corev1.Container{Name: c.Name, Image: c.Image, SecurityContext: c.SecurityContext}
		}
		p.containers = all
		if k := len(v.InitContainers); k > 0 {
			p.spec.InitContainers = all[:k:k]
		}
		if k := len(v.InitContainers); k < n {
			p.spec.Containers = all[k:n:n]
		}
	}
	if n := len(v.EphemeralContainers); n > 0 {
		eph := slices.Grow(p.ephemeral[:0], n)[:n]
		for i, c := range v.EphemeralContainers {
			eph[i] = corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: c.Name, Image: c.Image, SecurityContext: c.SecurityContext}}
		}
		p.ephemeral = eph
		p.spec.EphemeralContainers = eph
	}
	return p
}

// release returns the spec to the pool, dropping its references.
func (p *pooledSpec) release() {
	if cap(p.containers) > maxPooledContainers || cap(p.ephemeral) > maxPooledContainers {
		return
	}
	clear(p.containers)
	clear(p.ephemeral)
	p.containers, p.ephemeral = p.containers[:0], p.ephemeral[:0]
	p.spec = corev1.PodSpec{}
	specPool.Put(p)
}

// sameForPolicy reports whether an update leaves every field the policy
// reads unchanged. Tolerations are left out: adding them to a running pod is
// always allowed.
// sameRuntimeAnnotations reports whether the annotations the policy reads
// (policy.RuntimeAnnotations) are the same in old and cur.
func sameRuntimeAnnotations(old, cur map[string]string) bool {
	for _, key := range policy.RuntimeAnnotations {
		a, okA := old[key]
		b, okB := cur[key]
		if a != b || okA != okB {
			return false
		}
	}
	return true
}

func sameForPolicy(old, cur *podSpecView) bool {
	if old == nil || cur == nil {
		return old == cur
	}
	a, b := *old, *cur
	a.Tolerations, b.Tolerations = nil, nil
	return reflect.DeepEqual(a, b)
}
