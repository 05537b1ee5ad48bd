package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// flippingNamespaces returns different labels on every call, as a namespace
// relabelled while a review is in flight would.
type flippingNamespaces struct{ calls int }

func (f *flippingNamespaces) NamespaceLabels(context.Context, string) (map[string]string, error) {
	f.calls++
	if f.calls%2 == 1 {
		return map[string]string{"hostprocess.dev/allowed": "true"}, nil
	}
	return nil, nil
}

func TestAdversarialReviews(t *testing.T) {
	bad := hostProcessPod()
	bad.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
	const badMsg = `pods "agent" is forbidden: violates the HostProcess policy: pod: spec.securityContext.runAsNonRoot is true (allowed: unset or false)`

	t.Run("a dry-run request gets the same verdict", func(t *testing.T) {
		body := reviewBody(t, bad, reviewOpts{})
		var r admissionv1.AdmissionReview
		_ = json.Unmarshal(body, &r)
		r.Request.DryRun = ptr.To(true)
		body, _ = json.Marshal(r)
		_, resp := post(t, newHandler(t, nil, nil).Validate(), body)
		if resp.Allowed || resp.Result.Message != badMsg {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
	})
	t.Run("a CREATE carrying a deletionTimestamp is still evaluated", func(t *testing.T) {
		deleting := bad.DeepCopy()
		deleting.DeletionTimestamp = &metav1.Time{}
		deleting.Finalizers = []string{"x/y"}
		_, resp := post(t, newHandler(t, nil, nil).Validate(), reviewBody(t, deleting, reviewOpts{}))
		if resp.Allowed || resp.Result.Message != badMsg {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
	})
	t.Run("an UPDATE of a deleting pod that introduces a violation is evaluated", func(t *testing.T) {
		old := hostProcessPod()
		old.DeletionTimestamp = &metav1.Time{}
		cur := bad.DeepCopy()
		cur.DeletionTimestamp = &metav1.Time{}
		cur.Spec.Containers[0].Image = "mcr.microsoft.com/windows/servercore:ltsc2022"
		_, resp := post(t, newHandler(t, nil, nil).Validate(), reviewBody(t, cur, reviewOpts{op: admissionv1.Update, old: old}))
		if resp.Allowed || resp.Result.Message != badMsg {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
	})
	t.Run("an UPDATE whose old object is unreadable is evaluated, not waved through", func(t *testing.T) {
		body := reviewBody(t, bad, reviewOpts{op: admissionv1.Update})
		var r admissionv1.AdmissionReview
		_ = json.Unmarshal(body, &r)
		r.Request.OldObject.Raw = []byte(`{"spec":{"containers":7}}`)
		body, _ = json.Marshal(r)
		_, resp := post(t, newHandler(t, nil, nil).Validate(), body)
		if resp.Allowed {
			t.Fatal("admitted")
		}
	})
	t.Run("a non-HostProcess debug container added to a HostProcess pod is denied", func(t *testing.T) {
		old := hostProcessPod()
		cur := old.DeepCopy()
		cur.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(false)}}}}}
		_, resp := post(t, newHandler(t, nil, nil).Validate(), reviewBody(t, cur, reviewOpts{op: admissionv1.Update, subResource: "ephemeralcontainers", old: old}))
		want := `pods "agent" is forbidden: violates the HostProcess policy: container "debugger": securityContext.windowsOptions.hostProcess is false (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)`
		if resp.Allowed || resp.Result.Message != want {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
	})
	t.Run("namespace labels are read once per review, so a relabel mid-review cannot mix two answers", func(t *testing.T) {
		rules := func(c *config.AdmissionConfiguration) {
			c.NamespaceRules = []config.NamespaceRule{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"hostprocess.dev/allowed": "true"}}}}
		}
		ns := &flippingNamespaces{}
		h := newHandler(t, rules, ns)
		_, first := post(t, h.Validate(), reviewBody(t, hostProcessPod(), reviewOpts{}))
		_, second := post(t, h.Validate(), reviewBody(t, hostProcessPod(), reviewOpts{}))
		if ns.calls != 2 || !first.Allowed || second.Allowed {
			t.Fatalf("calls %d first %v second %v", ns.calls, first.Allowed, second.Allowed)
		}
	})
	t.Run("a resource that claims to be pods but carries another kind is denied", func(t *testing.T) {
		body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{}}}`)
		_, resp := post(t, newHandler(t, nil, nil).Validate(), body)
		if resp.Allowed || resp.Result.Message != "resource pods has unexpected kind ConfigMap" {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
	})
}

// FuzzReview sends arbitrary bodies through the real validating and
// mutating handlers: no panic, never a 5xx, the uid is echoed, and a body
// that is not a well-formed review (envelope and object) is never admitted.
func FuzzReview(f *testing.F) {
	hp := hostProcessPod()
	hp.Spec.SecurityContext.RunAsNonRoot = ptr.To(true)
	for _, seed := range [][]byte{
		reviewBody(f, hostProcessPod(), reviewOpts{}),
		reviewBody(f, hp, reviewOpts{}),
		reviewBody(f, plainPod(), reviewOpts{op: admissionv1.Update, old: plainPod(), subResource: "ephemeralcontainers"}),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"batch","version":"v1","kind":"CronJob"},"resource":{"group":"batch","version":"v1","resource":"cronjobs"},"operation":"CREATE","object":{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"securityContext":{"windowsOptions":{"hostProcess":true}}}}}}}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":null}}`),
		[]byte(`{}`), []byte(`null`), []byte(`[`),
	} {
		f.Add(seed)
	}
	h := newHandler(f, nil, nil)
	handlers := []http.Handler{h.Validate(), h.Mutate()}
	f.Fuzz(func(t *testing.T, body []byte) {
		// A review is well-formed when its envelope decodes and so does its
		// object as the kind it claims; only then may it be admitted.
		wellFormed, uid := false, ""
		if req, err := decodeReview(body); err == nil {
			wellFormed, uid = true, string(req.UID)
			if k := policy.KindFor(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}); k != nil && len(req.Object.Raw) > 0 {
				if _, err := decodeObject(k, req.Object, "request.object"); err != nil {
					wellFormed = false
				}
			}
		}
		for _, hh := range handlers {
			rec := httptest.NewRecorder()
			hh.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
			if rec.Code >= 500 {
				t.Fatalf("HTTP %d for %q", rec.Code, body)
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("response is not an AdmissionReview: %s", rec.Body.String())
			}
			if !wellFormed && out.Response.Allowed {
				t.Fatalf("a malformed review was admitted: %q", body)
			}
			if uid != "" && string(out.Response.UID) != uid {
				t.Fatalf("uid %q echoed as %q", uid, out.Response.UID)
			}
		}
	})
}
