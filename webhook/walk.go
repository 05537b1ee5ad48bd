package webhook

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// A review is decoded by walking its tokens with jsontext.Decoder and reading
// only the members the policy needs into the view types of review.go; every
// other member is skipped without being decoded. The walk keeps the
// guarantees of decoding with encoding/json/v2 into those types
// (FuzzWalkAgrees checks that both agree on every body):
//
//   - the decoder rejects a duplicate name in any object, read or skipped;
//   - names match case-sensitively; an escaped name matches its unescaped form;
//   - null leaves a member at its zero value;
//   - a value of the wrong JSON kind is decoded with json.UnmarshalDecode into
//     the member's Go type, which fails with the same SemanticError (and field
//     path) as decoding the whole review would;
//   - nothing may follow the review.
//
// Small leaves (security contexts, affinity, tolerations, annotations) are
// decoded with json.UnmarshalDecode. The member functions are plain
// functions, not closures, so that walking allocates nothing of its own.

// walker is a decoder with a cache of the strings it made: most strings of a
// review (apiVersion, kind, operation, the user, the images) repeat from one
// review to the next.
type walker struct {
	*jsontext.Decoder
	strings [64]string
}

var walkers = sync.Pool{New: func() any { return &walker{Decoder: jsontext.NewDecoder(bytes.NewReader(nil), decodeOptions)} }}

// walkReview decodes body into r.
func walkReview(body []byte, r *review) error {
	d := walkers.Get().(*walker)
	d.Reset(bytes.NewBuffer(body), decodeOptions)
	defer func() {
		d.Reset(bytes.NewReader(nil), decodeOptions) // drop the body
		walkers.Put(d)
	}()
	if err := object(d, r, reviewMember); err != nil {
		return err
	}
	// Like json.Unmarshal: the review is the whole body.
	if _, err := d.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("unexpected data after the review")
		}
		return err
	}
	return nil
}

func reviewMember(d *walker, r *review, name []byte) error {
	switch string(name) {
	case "apiVersion":
		return str(d, &r.APIVersion)
	case "kind":
		return str(d, &r.Kind)
	case "request":
		return objectPtr(d, &r.Request, requestMember)
	}
	return d.SkipValue()
}

func requestMember(d *walker, q *request, name []byte) error {
	switch string(name) {
	case "uid":
		return str(d, (*string)(&q.UID))
	case "kind":
		return object(d, &q.Kind, gvkMember)
	case "resource":
		return object(d, &q.Resource, gvrMember)
	case "subResource":
		return str(d, &q.SubResource)
	case "name":
		return str(d, &q.Name)
	case "namespace":
		return str(d, &q.Namespace)
	case "operation":
		return str(d, (*string)(&q.Operation))
	case "userInfo":
		return object(d, &q.UserInfo, userInfoMember)
	case "object":
		return objectPtr(d, &q.Object, objectMember)
	case "oldObject":
		return objectPtr(d, &q.OldObject, objectMember)
	case "dryRun":
		return json.UnmarshalDecode(d.Decoder, &q.DryRun)
	}
	return d.SkipValue()
}

func userInfoMember(d *walker, u *userInfoView, name []byte) error {
	if string(name) == "username" {
		return str(d, &u.Username)
	}
	return d.SkipValue()
}

func gvkMember(d *walker, k *metav1.GroupVersionKind, name []byte) error {
	switch string(name) {
	case "group":
		return str(d, &k.Group)
	case "version":
		return str(d, &k.Version)
	case "kind":
		return str(d, &k.Kind)
	}
	return d.SkipValue()
}

func gvrMember(d *walker, r *metav1.GroupVersionResource, name []byte) error {
	switch string(name) {
	case "group":
		return str(d, &r.Group)
	case "version":
		return str(d, &r.Version)
	case "resource":
		return str(d, &r.Resource)
	}
	return d.SkipValue()
}

func objectMember(d *walker, o *objectView, name []byte) error {
	switch string(name) {
	case "metadata":
		return object(d, &o.Metadata, metaMember)
	case "spec":
		return object(d, &o.Spec, specMember)
	case "template":
		return objectPtr(d, &o.Template, templateMember)
	}
	return d.SkipValue()
}

func metaMember(d *walker, m *metaView, name []byte) error {
	switch string(name) {
	case "name":
		return str(d, &m.Name)
	case "generateName":
		return str(d, &m.GenerateName)
	case "namespace":
		return str(d, &m.Namespace)
	case "annotations":
		return json.UnmarshalDecode(d.Decoder, &m.Annotations)
	}
	return d.SkipValue()
}

// specMember reads a Pod's spec and a workload's spec in one: their member
// names do not collide (see objectView).
func specMember(d *walker, s *specView, name []byte) error {
	switch string(name) {
	case "template":
		return objectPtr(d, &s.Template, templateMember)
	case "jobTemplate":
		return objectPtr(d, &s.JobTemplate, jobTemplateMember)
	}
	return podSpecMember(d, &s.podSpecView, name)
}

func jobTemplateMember(d *walker, j *jobTemplateView, name []byte) error {
	if string(name) == "spec" {
		return object(d, &j.Spec, jobSpecMember)
	}
	return d.SkipValue()
}

func jobSpecMember(d *walker, s *jobSpecView, name []byte) error {
	if string(name) == "template" {
		return objectPtr(d, &s.Template, templateMember)
	}
	return d.SkipValue()
}

func templateMember(d *walker, t *templateView, name []byte) error {
	switch string(name) {
	case "metadata":
		return object(d, &t.Metadata, templateMetaMember)
	case "spec":
		return object(d, &t.Spec, podSpecMember)
	}
	return d.SkipValue()
}

func templateMetaMember(d *walker, m *templateMetaView, name []byte) error {
	if string(name) == "annotations" {
		return json.UnmarshalDecode(d.Decoder, &m.Annotations)
	}
	return d.SkipValue()
}

// podSpecMember reads one member of a pod spec.
func podSpecMember(d *walker, s *podSpecView, name []byte) error {
	switch string(name) {
	case "hostNetwork":
		return boolean(d, &s.HostNetwork)
	case "securityContext":
		return json.UnmarshalDecode(d.Decoder, &s.SecurityContext)
	case "initContainers":
		return containers(d, &s.InitContainers)
	case "containers":
		return containers(d, &s.Containers)
	case "ephemeralContainers":
		return containers(d, &s.EphemeralContainers)
	case "os":
		return json.UnmarshalDecode(d.Decoder, &s.OS)
	case "nodeSelector":
		return json.UnmarshalDecode(d.Decoder, &s.NodeSelector)
	case "affinity":
		return json.UnmarshalDecode(d.Decoder, &s.Affinity)
	case "tolerations":
		return json.UnmarshalDecode(d.Decoder, &s.Tolerations)
	}
	return d.SkipValue()
}

func containerMember(d *walker, c *containerView, name []byte) error {
	switch string(name) {
	case "name":
		return str(d, &c.Name)
	case "image":
		return str(d, &c.Image)
	case "securityContext":
		return json.UnmarshalDecode(d.Decoder, &c.SecurityContext)
	}
	return d.SkipValue()
}

func containers(d *walker, cs *[]containerView) error {
	switch d.PeekKind() {
	case 'n':
		_, err := d.ReadToken()
		*cs = nil
		return err
	case '[':
	default:
		return json.UnmarshalDecode(d.Decoder, cs) // the error of a wrong kind
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	out := (*cs)[:0]
	if out == nil {
		out = []containerView{} // [] is an empty slice, not nil, as json.Unmarshal makes it
	}
	for {
		switch d.PeekKind() {
		case ']':
			_, err := d.ReadToken()
			*cs = out
			return err
		case 0:
			_, err := d.ReadToken() // the syntax error
			return err
		}
		out = append(out, containerView{})
		if err := object(d, &out[len(out)-1], containerMember); err != nil {
			return err
		}
	}
}

// object walks a JSON object into v, calling member for each name; member
// must read or skip the value. null leaves v as it is; any other kind is
// decoded into v for the error json.Unmarshal would give.
func object[T any](d *walker, v *T, member func(*walker, *T, []byte) error) error {
	switch d.PeekKind() {
	case 'n':
		_, err := d.ReadToken()
		return err
	case '{':
	default:
		return json.UnmarshalDecode(d.Decoder, v)
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	for {
		switch d.PeekKind() {
		case '}':
			_, err := d.ReadToken()
			return err
		case 0:
			_, err := d.ReadToken() // the syntax error
			return err
		}
		raw, err := d.ReadValue() // the name, quoted; the decoder has checked it is unique
		if err != nil {
			return err
		}
		name := raw[1 : len(raw)-1]
		if bytes.IndexByte(name, '\\') >= 0 || !utf8.Valid(name) {
			name, _ = jsontext.AppendUnquote(nil, raw) // as in str
		}
		if err := member(d, v, name); err != nil {
			return err
		}
	}
}

// objectPtr walks an object into a new T; null leaves *p nil.
func objectPtr[T any](d *walker, p **T, member func(*walker, *T, []byte) error) error {
	switch d.PeekKind() {
	case 'n':
		_, err := d.ReadToken()
		*p = nil
		return err
	case '{':
		*p = new(T)
		return object(d, *p, member)
	}
	return json.UnmarshalDecode(d.Decoder, p)
}

func str(d *walker, s *string) error {
	switch d.PeekKind() {
	case '"':
		raw, err := d.ReadValue()
		if err != nil {
			return err
		}
		b := raw[1 : len(raw)-1]
		if bytes.IndexByte(b, '\\') >= 0 || !utf8.Valid(b) {
			// Escapes, or invalid UTF-8 that becomes U+FFFD: the decoder's own
			// unquoting. The decoder has checked the string; the only error
			// left is the invalid UTF-8 that decodeOptions allow.
			b, _ = jsontext.AppendUnquote(nil, raw)
			*s = string(b)
			return nil
		}
		*s = d.intern(b)
		return nil
	case 'n':
		_, err := d.ReadToken()
		return err
	}
	return json.UnmarshalDecode(d.Decoder, s)
}

func boolean(d *walker, b *bool) error {
	switch d.PeekKind() {
	case 't', 'f':
		tok, err := d.ReadToken()
		if err == nil {
			*b = tok.Bool()
		}
		return err
	case 'n':
		_, err := d.ReadToken()
		return err
	}
	return json.UnmarshalDecode(d.Decoder, b)
}

// intern returns b as a string, from the cache when the string was made
// before (the slot is chosen by the length and the first and last bytes).
func (d *walker) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 64 {
		return string(b)
	}
	slot := &d.strings[(len(b)*31+int(b[0])*7+int(b[len(b)-1]))%len(d.strings)]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}
