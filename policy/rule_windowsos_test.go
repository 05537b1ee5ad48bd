package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func requireTerms(terms ...corev1.NodeSelectorTerm) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

func osTerm(op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: OSLabel, Operator: op, Values: values}}}
}

func TestWindowsOS(t *testing.T) {
	const termField = "{spec}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
	termWant := func(i string) want {
		return want{RuleWindowsOS, "pod", termField + "[" + i + "]",
			"pod: " + termField + "[" + i + "] can only match kubernetes.io/os values other than windows (allowed: terms that can match kubernetes.io/os=windows)"}
	}
	runPods(t, []podCase{{
		name: "spec.os.name linux is denied",
		pod:  func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Linux} },
		want: []want{{RuleWindowsOS, "pod", "{spec}.os.name", `pod: {spec}.os.name "linux" is not allowed (allowed: windows)`}},
	}, {
		name: "spec.os.name windows is admitted",
		pod:  func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} },
	}, {
		name: "a nodeSelector for linux is denied",
		pod:  func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{OSLabel: "linux"} },
		want: []want{{RuleWindowsOS, "pod", "{spec}.nodeSelector[kubernetes.io/os]", `pod: {spec}.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`}},
	}, {
		name: "a nodeSelector for Windows in another case is denied, as the label value is case-sensitive",
		pod:  func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{OSLabel: "Windows"} },
		want: []want{{RuleWindowsOS, "pod", "{spec}.nodeSelector[kubernetes.io/os]", `pod: {spec}.nodeSelector["kubernetes.io/os"] "Windows" is not allowed (allowed: windows)`}},
	}, {
		name: "a nodeSelector for windows is admitted",
		pod:  func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{OSLabel: "windows", "agentpool": "win"} },
	}, {
		name: "a required term In linux is denied",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpIn, "linux")),
		want: []want{termWant("0")},
	}, {
		name: "a required term In linux or windows is admitted",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpIn, "linux", "windows")),
	}, {
		name: "a required term NotIn windows is denied",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpNotIn, "windows")),
		want: []want{termWant("0")},
	}, {
		name: "a required term NotIn linux is admitted",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpNotIn, "linux")),
	}, {
		name: "a required term DoesNotExist is denied",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpDoesNotExist)),
		want: []want{termWant("0")},
	}, {
		name: "a required term Exists is admitted",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpExists)),
	}, {
		name: "a required term Gt on the os label is denied",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpGt, "1")),
		want: []want{termWant("0")},
	}, {
		name: "a second term that only matches linux is denied, naming that term",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpIn, "windows"), osTerm(corev1.NodeSelectorOpIn, "linux")),
		want: []want{termWant("1")},
	}, {
		name: "a term on another key is admitted",
		pod: requireTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "agentpool", Operator: corev1.NodeSelectorOpIn, Values: []string{"linux"}}}}),
	}, {
		name: "every way of targeting linux at once is reported together",
		pod: func(p *corev1.Pod) {
			requireTerms(osTerm(corev1.NodeSelectorOpIn, "linux"))(p)
			p.Spec.OS = &corev1.PodOS{Name: corev1.Linux}
			p.Spec.NodeSelector = map[string]string{OSLabel: "linux"}
		},
		want: []want{
			{RuleWindowsOS, "pod", "{spec}.os.name", `pod: {spec}.os.name "linux" is not allowed (allowed: windows)`},
			{RuleWindowsOS, "pod", "{spec}.nodeSelector[kubernetes.io/os]", `pod: {spec}.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`},
			termWant("0"),
		},
	}})
}
