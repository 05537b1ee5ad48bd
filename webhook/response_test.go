package webhook

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func marshalled(t *testing.T, resp *admissionv1.AdmissionResponse) string {
	t.Helper()
	b, err := json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// awkward holds every byte below 0x80, the characters encoding/json escapes
// for HTML, U+2028, U+2029, other non-ASCII text and invalid UTF-8.
var awkward = func() string {
	var b strings.Builder
	for c := range 0x80 {
		b.WriteByte(byte(c))
	}
	b.WriteString("<>&\u2028\u2029é😀\xff\xc3(\xed\xa0\x80\u00a0")
	return b.String()
}()

func TestEncodeResponse(t *testing.T) {
	for name, resp := range map[string]*admissionv1.AdmissionResponse{
		"allowed":  {UID: "u-1", Allowed: true},
		"no uid":   {Allowed: true},
		"warnings": {UID: "u", Allowed: true, Warnings: []string{`container "a": runAsUserName "x" will fail`, awkward}},
		"audit annotations": {UID: "u", Allowed: true, AuditAnnotations: map[string]string{
			"mode": "warn", "violations": `pod: spec.hostNetwork is false`, "a" + awkward: awkward}},
		"a patch": {UID: "u", Allowed: true, Patch: []byte(`[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}}]`),
			PatchType: ptr.To(admissionv1.PatchTypeJSONPatch)},
		"everything": {UID: "u", Allowed: true, Patch: []byte{0, 1, 2, 0xff}, PatchType: ptr.To(admissionv1.PatchType(awkward)),
			AuditAnnotations: map[string]string{"b": "2", "a": "1"}, Warnings: []string{"w"}},
		"empty lists": {UID: "u", Allowed: true, Warnings: []string{}, AuditAnnotations: map[string]string{}, Patch: []byte{}},
		"a status":    {UID: "u", Result: &metav1.Status{Status: metav1.StatusFailure, Code: 403, Message: awkward}},
		"denied":      {UID: types.UID(awkward), Allowed: false},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := encodeResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if want := marshalled(t, resp); string(got) != want {
				t.Fatalf("encodeResponse:\n%s\njson.Marshal:\n%s", got, want)
			}
		})
	}
}

// TestEncodeResponseStrings compares random strings of awkward runes and
// bytes with json.Marshal.
func TestEncodeResponseStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "\"", "\\", "\x00", "\x1f", "\n", "\b", "\f", "<", ">", "&", "\u2028", "\u2029", "é", "😀", "\xff", "\xe2\x80", "\x7f", " "}
	for range 2000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		resp := &admissionv1.AdmissionResponse{UID: "u", Allowed: true, Warnings: []string{b.String()}}
		got, _ := encodeResponse(resp)
		if want := marshalled(t, resp); string(got) != want {
			t.Fatalf("%q:\nencodeResponse: %s\njson.Marshal:   %s", b.String(), got, want)
		}
	}
}
