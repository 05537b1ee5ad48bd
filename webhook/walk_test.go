package webhook

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// managedPod is a HostProcess pod as the API server sends it: managed
// fields whose names are escaped JSON, annotations with escapes and
// non-ASCII text.
func managedPod() *corev1.Pod {
	p := hostProcessPod()
	p.Annotations = map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"agent"}}` + "\n",
		"description":                   "nœud — agent\ttab",
		policy.RootfsLocationAnnotation: `C:\hpc\nœud`,
	}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{
		Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:containers":{"k:{\"name\":\"agent\"}":{".":{},"f:image":{},"f:name":{}}},"f:hostNetwork":{}}}`)},
	}}
	return p
}

// members is an object of n members named m0, m1...; dup adds m0 again at
// the end.
func members(n int, dup bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"m%d":%d,`, i, i)
	}
	if dup {
		b.WriteString(`"m0":0,`)
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
}

// pod is a review of a pod with the given spec members.
func pod(spec string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"object":{"metadata":{"name":"p"},"spec":{` + spec + `}}}}`)
}

func wrap(options string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","options":` + options + `}}`)
}

// scanCases are bodies with whether the scan reads them itself (true) or
// leaves them to json.Unmarshal (false).
func scanCases(tb testing.TB) []struct {
	name string
	body []byte
	scan bool
} {
	return []struct {
		name string
		body []byte
		scan bool
	}{
		{"a HostProcess pod", reviewBody(tb, hostProcessPod(), reviewOpts{}), true},
		{"managed fields, escapes and non-ASCII text", reviewBody(tb, managedPod(), reviewOpts{}), true},
		{"an update of a plain pod", reviewBody(tb, plainPod(), reviewOpts{op: admissionv1.Update, old: plainPod(), subResource: "ephemeralcontainers"}), true},
		{"a CronJob", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"batch","version":"v1","kind":"CronJob"},"object":{"metadata":{"annotations":{"a":"b"}},"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"annotations":{"x":"y"}},"spec":{"containers":[],"securityContext":{"windowsOptions":{"hostProcess":true}}}}}}}}}}`), true},
		{"an escaped name that is read", []byte(`{"request":{"uid":"u","object":{"template":{"spec":{"hostNetwork":true}},"spec":{"template":null,"\u0063ontainers":[{"name":"a"}]}}}}`), true},
		{"whitespace everywhere", []byte(" \t\r\n{ \"kind\" : \"k\" ,\n\"request\" : { \"uid\" : \"u\" , \"dryRun\" : true } }\n"), true},
		{"dry run null", []byte(`{"request":{"uid":"u","dryRun":null}}`), true},
		{"dry run not a boolean", []byte(`{"request":{"uid":"u","dryRun":0}}`), false},
		{"numbers", wrap(`[0,-0,1.5,-2e10,3E+2,4e-3,12345678901234567890]`), true},
		{"literals and empty values", wrap(`[true,false,null,{},[],""]`), true},
		{"32 distinct members", wrap(members(32, false)), true},
		{"200 distinct members", wrap(members(200, false)), true},
		{"a duplicate among 200 members", wrap(members(200, true)), false},
		{"a duplicate among 20 members", wrap(members(20, true)), false},
		{"a duplicate name", []byte(`{"kind":"a","kind":"b"}`), false},
		{"a duplicate by escape", []byte(`{"kind":"a","\u006bind":"b"}`), false},
		{"a duplicate in a skipped object", wrap(`{"x":{"a":1,"a":2}}`), false},
		{"a duplicate in a read leaf", []byte(`{"request":{"object":{"spec":{"securityContext":{"runAsNonRoot":true,"runAsNonRoot":false}}}}}`), false},
		{"empty maps", []byte(`{"request":{"object":{"metadata":{"annotations":{}},"spec":{"nodeSelector":{},"template":{"metadata":{"annotations":{"a":"\u00e9\n"}}}}}}}`), true},
		{"a null annotation", []byte(`{"request":{"object":{"metadata":{"annotations":{"a":null}}}}}`), false},
		{"a number as an annotation the policy reads", []byte(`{"request":{"object":{"metadata":{"annotations":{"microsoft.com/hostprocess-inherit-user":1}}}}}`), false},
		{"an escaped annotation name the policy reads", []byte(`{"request":{"object":{"metadata":{"annotations":{"microsoft.com\/hostprocess-inherit-user":"true","other":"x"}}}}}`), true},
		{"a number as a map value", []byte(`{"request":{"object":{"spec":{"nodeSelector":{"a":1}}}}}`), false},
		{"a duplicate map key", []byte(`{"request":{"object":{"spec":{"nodeSelector":{"a":"x","a":"y"}}}}}`), false},
		{"leaves in the forms the scan reads", pod(`"securityContext":{"runAsNonRoot":false,"windowsOptions":{"hostProcess":true,"runAsUserName":"NT AUTHORITY\\SYSTEM","gmsaCredentialSpecName":null}},"tolerations":[{"key":"k","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"tolerationSeconds":-5},{}],"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]},{"matchExpressions":[{"key":"a","operator":"Exists","values":[]}]}]}}},"containers":[{"name":"c","securityContext":{"privileged":false,"allowPrivilegeEscalation":true,"readOnlyRootFilesystem":null,"windowsOptions":{}}}]`), true},
		{"leaves in other forms", pod(`"securityContext":{"runAsUser":1000,"windowsOptions":{"hostProcess":true}},"tolerations":[null,{"key":"k"}],"affinity":{"podAntiAffinity":{}},"containers":[{"name":"c","securityContext":{"capabilities":{"add":["NET_ADMIN"]}}}]`), true},
		{"a fraction in tolerationSeconds", pod(`"tolerations":[{"tolerationSeconds":1.5}]`), false},
		{"tolerationSeconds out of range", pod(`"tolerations":[{"tolerationSeconds":99999999999999999999}]`), false},
		{"a string for hostProcess", pod(`"securityContext":{"windowsOptions":{"hostProcess":"true"}}`), false},
		{"a duplicate in a leaf read as another form", pod(`"securityContext":{"runAsUser":1,"runAsUser":2}`), false},
		{"the same name in sibling objects", wrap(`[{"a":1},{"a":2}]`), true},
		{"invalid UTF-8", []byte("{\"request\":{\"uid\":\"u\xff\",\"n\xffame\":\"x\",\"name\":\"\\u00e9\\\"\"}}"), false},
		{"a surrogate escape", wrap(`"\ud83d\ude00"`), false},
		{"a bad escape", wrap(`"\x"`), false},
		{"a control character", wrap("\"a\x01\""), false},
		{"a leading zero", wrap(`01`), false},
		{"a bare minus", wrap(`-`), false},
		{"a fraction without digits", wrap(`1.`), false},
		{"an exponent without digits", wrap(`1e`), false},
		{"a misspelt literal", wrap(`nul`), false},
		{"a trailing comma", wrap(`[1,]`), false},
		{"a wrong kind", []byte(`{"request":{"object":null,"oldObject":{"spec":{"containers":"x"}}}}`), false},
		{"a number where an object is read", []byte(`{"request":7}`), false},
		{"data after the review", []byte(`{} {}`), false},
		{"null", []byte(`null`), false},
		{"an unclosed array", []byte(`[`), false},
		{"an unclosed string", []byte(`{"kind":"abc`), false},
		{"empty", nil, false},
		{"nesting deeper than 500", wrap(strings.Repeat("[", 501) + strings.Repeat("]", 501)), false},
		{"nesting of 400", wrap(strings.Repeat("[", 400) + strings.Repeat("]", 400)), true},
	}
}

func scanSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{pod(`"tolerations":[{"tolerationSeconds":1e2}]`), pod(`"tolerations":[{"tolerationSeconds":-0}]`)}
	for _, c := range scanCases(tb) {
		seeds = append(seeds, c.body)
	}
	return seeds
}

// TestScan checks which bodies the scan reads itself, and that walkReview
// decodes each as json.Unmarshal does, error text included.
func TestScan(t *testing.T) {
	for _, c := range scanCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var scanned review
			if ok := (&scanner{b: c.body}).review(&scanned); ok != c.scan {
				t.Fatalf("scan = %v, want %v", ok, c.scan)
			}
			var walked, unmarshalled review
			werr := walkReview(c.body, &walked)
			uerr := jsonv2.Unmarshal(c.body, &unmarshalled, decodeOptions)
			if fmt.Sprint(werr) != fmt.Sprint(uerr) {
				t.Fatalf("walkReview: %v\njson.Unmarshal: %v", werr, uerr)
			}
			if !reflect.DeepEqual(walked, unmarshalled) {
				t.Fatalf("walkReview and json.Unmarshal differ:\n%+v\n%+v", walked, unmarshalled)
			}
			if c.scan && !reflect.DeepEqual(scanned, unmarshalled) {
				t.Fatalf("the scan and json.Unmarshal differ:\n%+v\n%+v", scanned, unmarshalled)
			}
		})
	}
}

// TestScanReadsThePod checks what the scan reads from a pod, field by field.
func TestScanReadsThePod(t *testing.T) {
	var r review
	if !(&scanner{b: reviewBody(t, managedPod(), reviewOpts{})}).review(&r) {
		t.Fatal("the scan gave up on a pod with managed fields")
	}
	if r.Request == nil || r.Request.Object == nil {
		t.Fatalf("no object: %+v", r)
	}
	spec := r.Request.Object.Spec
	if r.Request.Operation != admissionv1.Create || r.Request.UserInfo.Username != "alice" || r.Request.Namespace != "kube-system" {
		t.Errorf("request = %s by %q in %q", r.Request.Operation, r.Request.UserInfo.Username, r.Request.Namespace)
	}
	// Only the annotations the policy reads are kept.
	if got, want := r.Request.Object.Metadata.Annotations, (runtimeAnnotations{policy.RootfsLocationAnnotation: `C:\hpc\nœud`}); !reflect.DeepEqual(got, want) {
		t.Errorf("annotations = %q, want %q", got, want)
	}
	if len(spec.Containers) != 1 || spec.Containers[0].Name != "agent" || !spec.HostNetwork {
		t.Fatalf("spec = %+v", spec.podSpecView)
	}
	sc := spec.SecurityContext
	if sc == nil || sc.WindowsOptions == nil || sc.WindowsOptions.HostProcess == nil || !*sc.WindowsOptions.HostProcess {
		t.Errorf("pod securityContext = %+v", sc)
	}
}
