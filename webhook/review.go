package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// The webhook reads JSON as the API server reads a request body, with
// sigs.k8s.io/json, the decoder of apimachinery's JSON serializer: names
// match case-sensitively, integers stay integers, invalid UTF-8 becomes
// U+FFFD, unknown fields are dropped. A duplicate name anywhere is refused
// (the API server refuses it under fieldValidation=Strict and never writes
// one itself), so that no field can be read differently by the API server
// and the webhook.

// decodeReview decodes an admission.k8s.io/v1 AdmissionReview. The object
// and old object stay raw until the request's kind is known
// (decodeObject). When the review does not decode, the request is returned
// nonetheless if its uid could be read, so that the denial echoes it.
func decodeReview(body []byte) (*admissionv1.AdmissionRequest, error) {
	var r admissionv1.AdmissionReview
	if err := unmarshal(body, &r); err != nil {
		err = withIndices(body, err)
		if ok, _ := kjson.SyntaxErrorOffset(err); !ok && r.Request != nil && r.Request.UID != "" {
			return r.Request, decodeError("", err)
		}
		return nil, decodeError("", err)
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
	return r.Request, nil
}

// decodeObject decodes raw, the request's object or old object (field names
// which), into a typed object of kind k.
func decodeObject(k *policy.Kind, raw runtime.RawExtension, field string) (runtime.Object, error) {
	if len(raw.Raw) == 0 {
		return nil, fmt.Errorf("request has no %s %s", k.Kind, strings.TrimPrefix(field, "request."))
	}
	obj := k.New()
	if err := unmarshal(raw.Raw, obj); err != nil {
		return nil, decodeError(field, withIndices(raw.Raw, err))
	}
	return obj, nil
}

// unmarshal decodes data into v, refusing duplicate names.
func unmarshal(data []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(data, v, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// decodeError words a decoding error for the API server's user: the field
// path as Kubernetes writes it (under prefix, e.g. request.object) and the
// JSON that was wrong, never the webhook's Go types.
func decodeError(prefix string, err error) error {
	path := func(p string) string {
		if p = strings.Trim(prefix+"."+p, "."); p == "" {
			return "the review"
		}
		return p
	}
	var typ *json.UnmarshalTypeError
	var field kjson.FieldError
	if ok, offset := kjson.SyntaxErrorOffset(err); ok {
		return fmt.Errorf("malformed AdmissionReview: invalid JSON at byte %d of %s: %v", offset, path(""), err)
	}
	switch {
	case errors.As(err, &typ):
		what, literal, _ := strings.Cut(typ.Value, " ")
		if literal != "" && strings.Trim(literal, "-0123456789") == "" && isNumber(typ.Type) {
			return fmt.Errorf("malformed AdmissionReview: %s: JSON number: value out of range", path(typ.Field))
		}
		return fmt.Errorf("malformed AdmissionReview: %s: JSON %s where %s is expected", path(typ.Field), what, typeName(typ.Type))
	case errors.As(err, &field):
		msg, _, _ := strings.Cut(err.Error(), " ")
		return fmt.Errorf("malformed AdmissionReview: %s: %s field", path(field.FieldPath()), msg)
	}
	return fmt.Errorf("malformed AdmissionReview: %s: %w", path(""), err)
}

// withIndices adds list indices to the field path of a type error, which
// the decoder names without them (spec.containers.name): the path of the
// value the decoder stopped after, found by reading data's tokens with
// encoding/json up to the error's offset. Only a denial's message uses it.
func withIndices(data []byte, err error) error {
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) || typ.Field == "" {
		return err
	}
	type level struct {
		array bool
		index int
		key   string
		isKey bool // an object's next string is a name
	}
	var stack []level
	path := func() string {
		var b strings.Builder
		for _, l := range stack {
			if l.array {
				fmt.Fprintf(&b, "[%d]", l.index)
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(l.key)
			}
		}
		return b.String()
	}
	next := func() { // the value at the top of the stack is read
		if n := len(stack); n > 0 {
			stack[n-1].index++
			stack[n-1].isKey = !stack[n-1].array
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, terr := dec.Token()
		if terr != nil {
			return err
		}
		d, delim := tok.(json.Delim)
		switch {
		case delim && (d == '}' || d == ']'):
			stack = stack[:len(stack)-1]
			next()
			continue
		case len(stack) > 0 && stack[len(stack)-1].isKey:
			stack[len(stack)-1].key, _ = tok.(string)
			stack[len(stack)-1].isKey = false
			continue
		}
		if dec.InputOffset() >= typ.Offset {
			if p := path(); listIndex.ReplaceAllString(p, "") == typ.Field {
				indexed := *typ
				indexed.Field = p
				return &indexed
			}
			return err
		}
		if delim {
			stack = append(stack, level{array: d == '[', isKey: d == '{'})
		} else {
			next()
		}
	}
}

// listIndex matches the [i] of a field path.
var listIndex = regexp.MustCompile(`\[[0-9]+\]`)

func isNumber(t reflect.Type) bool { return t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64 }

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

// target is a decoded object: its name and the pod spec to evaluate.
type target struct {
	name string
	policy.Template
}

// newTarget picks the pod spec of obj, an object of kind k.
func newTarget(k *policy.Kind, obj runtime.Object) target {
	t := target{Template: k.Extract(obj)}
	if m, err := meta.Accessor(obj); err == nil {
		t.name = m.GetName()
		if t.name == "" && m.GetGenerateName() != "" {
			t.name = m.GetGenerateName() + "*"
		}
	}
	return t
}

// annotations returns the pod's annotations, or the pod template's.
func (t *target) annotations() map[string]string {
	if t.Meta == nil {
		return nil
	}
	return t.Meta.Annotations
}

// input is what the policy evaluates of t, in namespace ns: the pod's
// name (its generateName when it has none yet) or the workload's, and its
// labels, for the exceptions.
func (t *target) input(ns policy.Namespace, req *admissionv1.AdmissionRequest) policy.Input {
	in := policy.Input{Namespace: ns, Spec: t.Spec, SpecPath: t.SpecPath, Annotations: t.annotations(), Kind: req.Kind.Kind}
	in.Name = strings.TrimSuffix(t.name, "*")
	if in.Name == "" {
		in.Name = req.Name
	}
	if t.Meta != nil {
		in.Labels = t.Meta.Labels
	}
	return in
}
