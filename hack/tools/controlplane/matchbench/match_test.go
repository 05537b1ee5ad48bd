// Package matchbench measures, with kube-apiserver's own code at the pinned
// version, what the chart's matchConditions cost a pod that no webhook is
// called for: the CEL evaluation that the API server makes for each pod
// webhook before it decides not to call it. See docs/performance.md.
//
//	cd hack/tools/controlplane && go test -run '^$' -bench . -benchmem ./matchbench
package matchbench

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
)

// chartConditions renders the chart with bin/helm and returns the
// matchConditions of each pod webhook by name.
func chartConditions(tb testing.TB) map[string][]admissionregistrationv1.MatchCondition {
	tb.Helper()
	out, err := exec.Command("../../../../bin/helm", "template", "bench", "../../../../charts/hostprocess-admission").Output()
	if err != nil {
		tb.Fatalf("helm template (run make tools first): %v", err)
	}
	conds := map[string][]admissionregistrationv1.MatchCondition{}
	r := yaml.NewYAMLReader(bufio.NewReader(strings.NewReader(string(out))))
	for {
		doc, err := r.Read()
		if err != nil {
			break
		}
		var obj struct {
			Kind     string `json:"kind"`
			Webhooks []struct {
				Name            string                                   `json:"name"`
				MatchConditions []admissionregistrationv1.MatchCondition `json:"matchConditions"`
			} `json:"webhooks"`
		}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			tb.Fatal(err)
		}
		for _, w := range obj.Webhooks {
			conds[w.Name] = w.MatchConditions
		}
	}
	return conds
}

// matcher compiles conditions as kube-apiserver compiles a webhook's.
func matcher(conditions []admissionregistrationv1.MatchCondition) matchconditions.Matcher {
	compiler := cel.NewConditionCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	exprs := make([]cel.ExpressionAccessor, len(conditions))
	for i, c := range conditions {
		exprs[i] = &matchconditions.MatchCondition{Name: c.Name, Expression: c.Expression}
	}
	fail := admissionregistrationv1.Fail
	return matchconditions.NewMatcher(compiler.CompileCondition(exprs, cel.OptionalVariableDeclarations{HasAuthorizer: true},
		environment.StoredExpressions), &fail, "webhook", "validating", "bench")
}

// plainPod is an ordinary Linux pod shaped like the bench's: an init
// container and two containers with security contexts, env, probes.
func plainPod() *corev1.Pod {
	c := func(name string) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example/app:1.2.3",
			Env:             []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "C", Value: "3"}},
			SecurityContext: &corev1.SecurityContext{RunAsNonRoot: new(true), AllowPrivilegeEscalation: new(false)},
			ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}}}
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "app", Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{
			NodeSelector:   map[string]string{"kubernetes.io/os": "linux"},
			InitContainers: []corev1.Container{c("init")},
			Containers:     []corev1.Container{c("a"), c("b")},
		},
	}
}

func attributes(pod *corev1.Pod) *admission.VersionedAttributes {
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	attr := admission.NewAttributesRecord(pod, nil, gvk, pod.Namespace, pod.Name, corev1.SchemeGroupVersion.WithResource("pods"),
		"", admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{Name: "system:serviceaccount:kube-system:replicaset-controller"})
	va := &admission.VersionedAttributes{Attributes: attr, VersionedKind: gvk}
	va.VersionedObject.Set(pod)
	return va
}

// BenchmarkPlainPod evaluates each pod webhook's conditions for a plain pod,
// as kube-apiserver does before it decides not to call the webhook: a fresh
// VersionedAttributes per request (the API server's lazy CEL value is made
// once per request), then Match. "never" is the floor: one condition 'false'.
func BenchmarkPlainPod(b *testing.B) {
	conds := chartConditions(b)
	never := []admissionregistrationv1.MatchCondition{{Name: "never", Expression: "false"}}
	for _, tc := range []struct {
		name  string
		conds []admissionregistrationv1.MatchCondition
	}{
		{"validate.hostprocess.dev", conds["validate.hostprocess.dev"]},
		{"mutate.hostprocess.dev", conds["mutate.hostprocess.dev"]},
		{"never", never},
	} {
		if len(tc.conds) == 0 {
			b.Fatalf("the chart renders no matchConditions for %s", tc.name)
		}
		m := matcher(tc.conds)
		pod := plainPod()
		if r := m.Match(context.Background(), attributes(pod), nil, nil); r.Error != nil || r.Matches {
			b.Fatalf("%s: plain pod: matches %t, error %v; want no match", tc.name, r.Matches, r.Error)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := m.Match(context.Background(), attributes(pod), nil, nil); r.Matches {
					b.Fatal("matched")
				}
			}
		})
	}
}
