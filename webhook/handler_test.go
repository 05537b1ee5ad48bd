package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const defaultAllowed = `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM`

func hostProcessPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", Labels: map[string]string{"app": "agent"}},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess: ptr.To(true), RunAsUserName: ptr.To(`NT AUTHORITY\SYSTEM`)}},
			Containers: []corev1.Container{{Name: "agent", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022",
				Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
		},
	}
}

func plainPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
	}
}

type reviewOpts struct {
	op          admissionv1.Operation
	resource    string
	group       string
	kind        string
	subResource string
	namespace   string
	user        string
	old         runtime.Object
}

func reviewBody(t testing.TB, obj runtime.Object, o reviewOpts) []byte {
	t.Helper()
	if o.op == "" {
		o.op = admissionv1.Create
	}
	if o.resource == "" {
		o.resource, o.kind = "pods", "Pod"
	}
	if o.namespace == "" {
		o.namespace = "kube-system"
	}
	if o.user == "" {
		o.user = "alice"
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{
		UID:         types.UID("0f6e3ad2-review"),
		Kind:        metav1.GroupVersionKind{Group: o.group, Version: "v1", Kind: o.kind},
		Resource:    metav1.GroupVersionResource{Group: o.group, Version: "v1", Resource: o.resource},
		SubResource: o.subResource,
		Name:        "agent",
		Namespace:   o.namespace,
		Operation:   o.op,
		Object:      runtime.RawExtension{Raw: raw},
	}
	req.UserInfo.Username = o.user
	if o.old != nil {
		oldRaw, _ := json.Marshal(o.old)
		req.OldObject = runtime.RawExtension{Raw: oldRaw}
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// fakeNamespaces is a NamespaceGetter for unit tests of the handler alone.
type fakeNamespaces struct {
	labels map[string]map[string]string
	err    error
	calls  int
}

func (f *fakeNamespaces) NamespaceLabels(_ context.Context, name string) (map[string]string, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.labels[name], nil
}

func newHandler(t testing.TB, mutate func(*config.AdmissionConfiguration), ns NamespaceGetter) *Handler {
	t.Helper()
	cfg := config.Default()
	if mutate != nil {
		mutate(cfg)
	}
	if errs := config.Validate(cfg); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{Policy: StaticPolicy(p).Policy, Namespaces: ns, Log: logr.Discard()}
}

func post(t testing.TB, h http.Handler, body []byte) (int, *admissionv1.AdmissionResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response is not an AdmissionReview (%d): %s", rec.Code, rec.Body.String())
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil {
		t.Fatalf("bad response envelope: %s", rec.Body.String())
	}
	return rec.Code, out.Response
}

func withMode(m config.Mode) func(*config.AdmissionConfiguration) {
	return func(c *config.AdmissionConfiguration) { c.Mode = m }
}

func TestValidateModes(t *testing.T) {
	bad := hostProcessPod()
	bad.Spec.HostNetwork = false
	bad.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To("Administrator")}}
	const msg1 = `pod: spec.hostNetwork is false (allowed: true)`
	const msg2 = `container "agent": securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: ` + defaultAllowed + `)`
	violations := `[{"rule":"hostNetwork","container":"pod","field":"spec.hostNetwork","message":"pod: spec.hostNetwork is false (allowed: true)"},` +
		`{"rule":"runAsUserName","container":"agent","field":"spec.containers[0].securityContext.windowsOptions.runAsUserName","message":"container \"agent\": securityContext.windowsOptions.runAsUserName \"Administrator\" is not allowed (allowed: NT AUTHORITY\\Local service, NT AUTHORITY\\NetworkService, NT AUTHORITY\\SYSTEM)"}]`

	t.Run("enforce denies with 403 Forbidden listing every violation", func(t *testing.T) {
		code, resp := post(t, newHandler(t, nil, nil).Validate(), reviewBody(t, bad, reviewOpts{}))
		if code != 200 || resp.Allowed || resp.UID != "0f6e3ad2-review" {
			t.Fatalf("code %d allowed %v uid %q", code, resp.Allowed, resp.UID)
		}
		want := metav1.Status{Status: "Failure", Code: 403, Reason: metav1.StatusReasonForbidden,
			Message: `pods "agent" is forbidden: violates the HostProcess policy: ` + msg1 + "; " + msg2,
			Details: &metav1.StatusDetails{Name: "agent", Kind: "pods"}}
		if !reflect.DeepEqual(*resp.Result, want) {
			t.Fatalf("status:\ngot:  %+v\nwant: %+v", *resp.Result, want)
		}
		wantAnn := map[string]string{"violations": violations, "mode": "enforce"}
		if !reflect.DeepEqual(resp.AuditAnnotations, wantAnn) {
			t.Fatalf("audit annotations:\ngot:  %v\nwant: %v", resp.AuditAnnotations, wantAnn)
		}
	})
	t.Run("warn admits with one warning per violation", func(t *testing.T) {
		_, resp := post(t, newHandler(t, withMode(config.ModeWarn), nil).Validate(), reviewBody(t, bad, reviewOpts{}))
		if !resp.Allowed || resp.Result != nil {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
		want := []string{"would violate the HostProcess policy: " + msg1, "would violate the HostProcess policy: " + msg2}
		if !reflect.DeepEqual(resp.Warnings, want) {
			t.Fatalf("warnings %q, want %q", resp.Warnings, want)
		}
		if resp.AuditAnnotations["mode"] != "warn" || resp.AuditAnnotations["violations"] != violations {
			t.Fatalf("audit annotations %v", resp.AuditAnnotations)
		}
	})
	t.Run("audit admits silently but records the violations", func(t *testing.T) {
		_, resp := post(t, newHandler(t, withMode(config.ModeAudit), nil).Validate(), reviewBody(t, bad, reviewOpts{}))
		if !resp.Allowed || len(resp.Warnings) != 0 {
			t.Fatalf("allowed %v warnings %q", resp.Allowed, resp.Warnings)
		}
		if resp.AuditAnnotations["mode"] != "audit" || resp.AuditAnnotations["violations"] != violations {
			t.Fatalf("audit annotations %v", resp.AuditAnnotations)
		}
	})
}

func TestValidateScope(t *testing.T) {
	violating := hostProcessPod()
	violating.Spec.HostNetwork = false
	relabelled := violating.DeepCopy()
	relabelled.Labels["team"] = "b"
	relabelled.Finalizers = []string{"example.com/keep"}
	relabelled.DeletionTimestamp = &metav1.Time{}
	tolerated := violating.DeepCopy()
	tolerated.Spec.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	reimaged := violating.DeepCopy()
	reimaged.Spec.Containers[0].Image = "mcr.microsoft.com/windows/nanoserver:ltsc2025"

	normal := plainPod()
	debugged := normal.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022",
		SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
			HostProcess: ptr.To(true), RunAsUserName: ptr.To(`NT AUTHORITY\SYSTEM`)}}}}}

	exempt := func(c *config.AdmissionConfiguration) {
		c.Exemptions.Namespaces = []string{"kube-system"}
		c.Exemptions.Usernames = []string{"system:serviceaccount:ci:deployer"}
	}
	for _, tc := range []struct {
		name        string
		config      func(*config.AdmissionConfiguration)
		obj         runtime.Object
		opts        reviewOpts
		allowed     bool
		message     string
		annotations map[string]string
	}{
		{name: "a plain Linux pod is admitted without annotations", obj: plainPod(), allowed: true},
		{name: "a HostProcess pod that follows the policy is admitted", obj: hostProcessPod(), allowed: true},
		{name: "relabelling, finalizing and deleting a violating pod is admitted", obj: relabelled,
			opts: reviewOpts{op: admissionv1.Update, old: violating}, allowed: true},
		{name: "adding tolerations to a violating pod is admitted", obj: tolerated,
			opts: reviewOpts{op: admissionv1.Update, old: violating}, allowed: true},
		{name: "changing an image of a violating pod is admitted when it introduces no violation", obj: reimaged,
			opts: reviewOpts{op: admissionv1.Update, old: violating}, allowed: true},
		{name: "changing an image of a compliant pod is evaluated", obj: reimaged,
			opts:    reviewOpts{op: admissionv1.Update, old: hostProcessPod()},
			message: `pods "agent" is forbidden: violates the HostProcess policy: pod: spec.hostNetwork is false (allowed: true)`},
		{name: "a HostProcess ephemeral container added to a normal pod is denied", obj: debugged,
			opts: reviewOpts{op: admissionv1.Update, subResource: "ephemeralcontainers", old: normal, namespace: "default"},
			message: `pods "web" is forbidden: violates the HostProcess policy: ` +
				`container "nginx": securityContext.windowsOptions.hostProcess is not set (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers); ` +
				`pod: spec.hostNetwork is false (allowed: true); ` +
				`container "nginx": securityContext.windowsOptions.runAsUserName is not set (allowed: ` + defaultAllowed + `)`},
		{name: "a status update that changes nothing the policy reads is admitted", obj: violating, opts: reviewOpts{op: admissionv1.Update, subResource: "status", old: violating}, allowed: true},
		{name: "a DELETE is out of scope", obj: violating, opts: reviewOpts{op: admissionv1.Delete}, allowed: true},
		{name: "an exempt namespace is admitted and recorded", config: exempt, obj: violating, allowed: true,
			annotations: map[string]string{"exempt": "namespace kube-system is exempt"}},
		{name: "an exempt user is admitted and recorded", config: exempt, obj: violating, allowed: true,
			opts:        reviewOpts{namespace: "agents", user: "system:serviceaccount:ci:deployer"},
			annotations: map[string]string{"exempt": "user system:serviceaccount:ci:deployer is exempt"}},
		{name: "a user whose name only differs in case is not exempt", config: exempt, obj: violating,
			opts:    reviewOpts{namespace: "agents", user: "system:serviceaccount:ci:Deployer"},
			message: `pods "agent" is forbidden: violates the HostProcess policy: pod: spec.hostNetwork is false (allowed: true)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := post(t, newHandler(t, tc.config, nil).Validate(), reviewBody(t, tc.obj, tc.opts))
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tc.allowed, resp.Result)
			}
			if !tc.allowed && resp.Result.Message != tc.message {
				t.Fatalf("message:\ngot:  %s\nwant: %s", resp.Result.Message, tc.message)
			}
			if tc.annotations != nil && !reflect.DeepEqual(resp.AuditAnnotations, tc.annotations) {
				t.Fatalf("annotations %v, want %v", resp.AuditAnnotations, tc.annotations)
			}
			if tc.allowed && tc.annotations == nil && len(resp.AuditAnnotations) != 0 {
				t.Fatalf("unexpected annotations %v", resp.AuditAnnotations)
			}
		})
	}
}

func TestValidateWorkloads(t *testing.T) {
	bad := hostProcessPod()
	bad.Spec.HostNetwork = false
	cron := &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "cleanup", Namespace: "kube-system"},
		Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: bad.Spec}}}},
	}
	deploy := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
		Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: bad.Spec}},
	}
	scaled := deploy.DeepCopy()
	scaled.Spec.Replicas = ptr.To(int32(0))

	t.Run("a CronJob in the default warn workload mode is admitted with warnings on its template path", func(t *testing.T) {
		_, resp := post(t, newHandler(t, nil, nil).Validate(), reviewBody(t, cron, reviewOpts{group: "batch", resource: "cronjobs", kind: "CronJob"}))
		want := []string{"would violate the HostProcess policy: pod: spec.jobTemplate.spec.template.spec.hostNetwork is false (allowed: true)"}
		if !resp.Allowed || !reflect.DeepEqual(resp.Warnings, want) {
			t.Fatalf("allowed %v warnings %q", resp.Allowed, resp.Warnings)
		}
	})
	enforce := func(c *config.AdmissionConfiguration) { c.WorkloadMode = config.ModeEnforce }
	t.Run("a Deployment in enforce workload mode is denied", func(t *testing.T) {
		_, resp := post(t, newHandler(t, enforce, nil).Validate(), reviewBody(t, deploy, reviewOpts{group: "apps", resource: "deployments", kind: "Deployment"}))
		want := `deployments.apps "agent" is forbidden: violates the HostProcess policy: pod: spec.template.spec.hostNetwork is false (allowed: true)`
		if resp.Allowed || resp.Result.Message != want {
			t.Fatalf("allowed %v message %q", resp.Allowed, resp.Result.Message)
		}
	})
	t.Run("scaling a violating Deployment in enforce workload mode is admitted", func(t *testing.T) {
		_, resp := post(t, newHandler(t, enforce, nil).Validate(), reviewBody(t, scaled,
			reviewOpts{group: "apps", resource: "deployments", kind: "Deployment", op: admissionv1.Update, old: deploy}))
		if !resp.Allowed {
			t.Fatalf("denied: %+v", resp.Result)
		}
	})
}

func TestNamespaceLookups(t *testing.T) {
	rules := func(c *config.AdmissionConfiguration) {
		c.NamespaceRules = []config.NamespaceRule{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"hostprocess.dev/allowed": "true"}}}}
	}
	t.Run("a namespace that cannot be read denies a HostProcess pod", func(t *testing.T) {
		ns := &fakeNamespaces{err: errors.New("cache not synced")}
		_, resp := post(t, newHandler(t, rules, ns).Validate(), reviewBody(t, hostProcessPod(), reviewOpts{}))
		want := `pods "agent" is forbidden: violates the HostProcess policy: namespace "kube-system" could not be read to evaluate the HostProcess namespace rules, so the pod is denied: cache not synced`
		if resp.Allowed || resp.Result.Code != 403 || resp.Result.Message != want {
			t.Fatalf("allowed %v result %+v", resp.Allowed, resp.Result)
		}
	})
	t.Run("a non-HostProcess pod never needs a lookup", func(t *testing.T) {
		ns := &fakeNamespaces{err: errors.New("must not be called")}
		_, resp := post(t, newHandler(t, rules, ns).Validate(), reviewBody(t, plainPod(), reviewOpts{}))
		if !resp.Allowed || ns.calls != 0 {
			t.Fatalf("allowed %v calls %d", resp.Allowed, ns.calls)
		}
	})
	t.Run("a namespace whose labels match is admitted", func(t *testing.T) {
		ns := &fakeNamespaces{labels: map[string]map[string]string{"kube-system": {"hostprocess.dev/allowed": "true"}}}
		_, resp := post(t, newHandler(t, rules, ns).Validate(), reviewBody(t, hostProcessPod(), reviewOpts{}))
		if !resp.Allowed || ns.calls != 1 {
			t.Fatalf("allowed %v calls %d result %+v", resp.Allowed, ns.calls, resp.Result)
		}
	})
}

func TestMutate(t *testing.T) {
	h := newHandler(t, nil, nil).Mutate()
	t.Run("a HostProcess pod gets the nodeSelector patch", func(t *testing.T) {
		_, resp := post(t, h, reviewBody(t, hostProcessPod(), reviewOpts{}))
		if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Fatalf("allowed %v patchType %v", resp.Allowed, resp.PatchType)
		}
		if want := `[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}}]`; string(resp.Patch) != want {
			t.Fatalf("patch %s, want %s", resp.Patch, want)
		}
	})
	t.Run("a plain pod gets no patch", func(t *testing.T) {
		_, resp := post(t, h, reviewBody(t, plainPod(), reviewOpts{}))
		if !resp.Allowed || resp.Patch != nil || resp.PatchType != nil {
			t.Fatalf("allowed %v patch %s", resp.Allowed, resp.Patch)
		}
	})
	t.Run("an UPDATE is never mutated", func(t *testing.T) {
		_, resp := post(t, h, reviewBody(t, hostProcessPod(), reviewOpts{op: admissionv1.Update, old: hostProcessPod()}))
		if !resp.Allowed || resp.Patch != nil {
			t.Fatalf("allowed %v patch %s", resp.Allowed, resp.Patch)
		}
	})
}

func TestHostileBodies(t *testing.T) {
	h := newHandler(t, nil, nil)
	h.MaxBodyBytes = 1 << 16
	for _, tc := range []struct {
		name   string
		body   []byte
		code   int
		substr string
	}{
		{"an empty body", nil, 400, "request body is empty"},
		{"a body that is not JSON", []byte("{not json"), 400, "malformed AdmissionReview"},
		{"a review with no request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), 400, "AdmissionReview has no request"},
		{"a review of another version", []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`), 400, `expected an admission.k8s.io/v1 AdmissionReview, got apiVersion "admission.k8s.io/v1beta1"`},
		{"a request without a uid", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`), 400, "request has no uid"},
		{"an oversized body", bytes.Repeat([]byte("a"), 1<<17), 413, "request body exceeds 65536 bytes"},
	} {
		t.Run(tc.name+" is answered with a 4xx denial", func(t *testing.T) {
			code, resp := post(t, h.Validate(), tc.body)
			if code != tc.code || resp.Allowed || resp.Result == nil || int(resp.Result.Code) != tc.code || !strings.Contains(resp.Result.Message, tc.substr) {
				t.Fatalf("code %d allowed %v result %+v", code, resp.Allowed, resp.Result)
			}
		})
	}
	t.Run("a pod object that is not a pod is denied, with the uid echoed", func(t *testing.T) {
		body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"containers":"nope"}}}}`)
		code, resp := post(t, h.Validate(), body)
		if code != 200 || resp.Allowed || resp.UID != "u-1" || resp.Result.Code != 400 ||
			resp.Result.Message != "malformed AdmissionReview: request.object.spec.containers: JSON string where an array is expected" {
			t.Fatalf("code %d resp %+v", code, resp)
		}
	})
	for _, tc := range []struct{ name, request, msg string }{
		{"a duplicate name, which the API server and the webhook could read differently,",
			`"object":{"spec":{"securityContext":{"windowsOptions":{"hostProcess":false,"hostProcess":true}}}}`,
			"malformed AdmissionReview: request.object.spec.securityContext.windowsOptions.hostProcess: duplicate field"},
		{"a container field of the wrong type",
			`"object":{"spec":{"containers":[{"name":"a"},{"name":5}]}}`,
			"malformed AdmissionReview: request.object.spec.containers[1].name: JSON number where a string is expected"},
		{"a wrong type deep in a later container",
			`"object":{"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"a"},{"name":"b","securityContext":{"windowsOptions":{"hostProcess":"yes"}}}]}}`,
			"malformed AdmissionReview: request.object.spec.containers[1].securityContext.windowsOptions.hostProcess: JSON string where a boolean is expected"},
		{"a list where a string is expected",
			`"object":{"spec":{"containers":[{"name":["a"]}]}}`,
			"malformed AdmissionReview: request.object.spec.containers[0].name: JSON array where a string is expected"},
		{"a duplicate annotation",
			`"object":{"metadata":{"annotations":{"microsoft.com/hostprocess-inherit-user":"false","microsoft.com/hostprocess-inherit-user":"true"}}}`,
			"malformed AdmissionReview: request.object.metadata.annotations.microsoft.com/hostprocess-inherit-user: duplicate field"},
		{"a number out of range",
			`"object":{"spec":{"securityContext":{"runAsUser":99999999999999999999}}}`,
			"malformed AdmissionReview: request.object.spec.securityContext.runAsUser: JSON number: value out of range"},
	} {
		t.Run(tc.name+" is denied with the field path, the uid echoed", func(t *testing.T) {
			body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-2","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE",` + tc.request + `}}`)
			code, resp := post(t, h.Validate(), body)
			if code != 200 || resp.Allowed || resp.UID != "u-2" || resp.Result.Code != 400 || resp.Result.Message != tc.msg {
				t.Fatalf("code %d resp %+v", code, resp)
			}
		})
	}
	t.Run("a GET is refused with 405", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.Validate().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/validate", nil))
		if rec.Code != 405 {
			t.Fatalf("code %d", rec.Code)
		}
	})
}

// TestValidateEveryKind sends a violating object of every kind of
// policy.Kinds: each is decoded as its kind and evaluated at its spec path.
func TestValidateEveryKind(t *testing.T) {
	bad := hostProcessPod()
	bad.Spec.HostNetwork = false
	enforce := func(c *config.AdmissionConfiguration) { c.WorkloadMode = config.ModeEnforce }
	h := newHandler(t, enforce, nil)
	for i := range policy.Kinds {
		k := &policy.Kinds[i]
		t.Run(k.Kind, func(t *testing.T) {
			obj := k.New()
			if rc, ok := obj.(*corev1.ReplicationController); ok {
				rc.Spec.Template = &corev1.PodTemplateSpec{}
			}
			tmpl := k.Extract(obj)
			*tmpl.Spec = *bad.Spec.DeepCopy()
			obj.GetObjectKind().SetGroupVersionKind(k.GroupVersionKind)
			obj.(metav1.Object).SetName("agent")
			_, resp := post(t, h.Validate(), reviewBody(t, obj, reviewOpts{group: k.Group, resource: k.Resource, kind: k.Kind}))
			gr := k.GroupResource()
			want := gr.String() + ` "agent" is forbidden: violates the HostProcess policy: pod: ` + k.SpecPath() + `.hostNetwork is false (allowed: true)`
			if resp.Allowed || resp.Result.Message != want {
				t.Fatalf("allowed %v message %q, want %q", resp.Allowed, resp.Result.Message, want)
			}
		})
	}
}

func TestValidateUpdateOfAWorkloadWithoutATemplate(t *testing.T) {
	rc := &corev1.ReplicationController{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "kube-system"}}
	scaled := rc.DeepCopy()
	scaled.Spec.Replicas = ptr.To(int32(3))
	_, resp := post(t, newHandler(t, nil, nil).Validate(), reviewBody(t, scaled,
		reviewOpts{resource: "replicationcontrollers", kind: "ReplicationController", op: admissionv1.Update, old: rc}))
	if !resp.Allowed {
		t.Fatalf("denied: %+v", resp.Result)
	}
}
