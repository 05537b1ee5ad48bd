package policy

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

var windowsNoSchedule = corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}

func withTolerations(c *config.AdmissionConfiguration) {
	c.Defaults.Tolerations = []corev1.Toleration{windowsNoSchedule}
}

func withLocalGroupAffinity(c *config.AdmissionConfiguration) {
	c.AllowedLocalGroups = []string{"hpc-agents"}
	c.Defaults.LocalGroupNodeAffinity = true
}

func TestDefault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*config.AdmissionConfiguration)
		pod    func(*corev1.Pod)
		want   string // the JSON patch
	}{{
		name: "a HostProcess pod without a nodeSelector gets one",
		pod:  func(*corev1.Pod) {},
		want: `[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}}]`,
	}, {
		name: "existing nodeSelector entries are kept",
		pod:  func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"agentpool": "win"} },
		want: `[{"op":"add","path":"/spec/nodeSelector/kubernetes.io~1os","value":"windows"}]`,
	}, {
		name: "an empty nodeSelector, which serializes to nothing, gets the whole field",
		pod:  func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{} },
		want: `[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}}]`,
	}, {
		name:   "an empty toleration list gets the whole field",
		config: withTolerations,
		pod: func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{OSLabel: "windows"}
			p.Spec.Tolerations = []corev1.Toleration{}
		},
		want: `[{"op":"add","path":"/spec/tolerations","value":[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]}]`,
	}, {
		name: "a nodeSelector on kubernetes.io/os is never overwritten, even for linux",
		pod:  func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{OSLabel: "linux"} },
		want: `null`,
	}, {
		name: "a required node-affinity term on kubernetes.io/os stops the default",
		pod:  requireTerms(osTerm(corev1.NodeSelectorOpIn, "windows")),
		want: `null`,
	}, {
		name:   "the nodeSelector default can be turned off",
		config: func(c *config.AdmissionConfiguration) { c.Defaults.NodeSelector = ptr.To(false) },
		pod:    func(*corev1.Pod) {},
		want:   `null`,
	}, {
		name: "a pod that is not HostProcess is never touched",
		pod:  func(p *corev1.Pod) { p.Spec.SecurityContext = nil },
		want: `null`,
	}, {
		name:   "configured tolerations are added to a pod without tolerations",
		config: withTolerations,
		pod:    func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{OSLabel: "windows"} },
		want:   `[{"op":"add","path":"/spec/tolerations","value":[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}]}]`,
	}, {
		name:   "configured tolerations are appended to existing ones",
		config: withTolerations,
		pod: func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{OSLabel: "windows"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "other", Operator: corev1.TolerationOpExists}}
		},
		want: `[{"op":"add","path":"/spec/tolerations/-","value":{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"}}]`,
	}, {
		name:   "a toleration already present with an empty operator is not added twice",
		config: withTolerations,
		pod: func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{OSLabel: "windows"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
		},
		want: `null`,
	}, {
		name:   "a pod running as a local group gets the local-groups-ready affinity",
		config: withLocalGroupAffinity,
		pod:    func(p *corev1.Pod) { p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("HPC-agents") },
		want: `[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}},` +
			`{"op":"add","path":"/spec/affinity","value":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"hostprocess.dev/local-groups-ready","operator":"In","values":["8ca9446a663582f3"]}]}]}}}}]`,
	}, {
		name:   "the local-groups-ready requirement is added to every existing required term",
		config: withLocalGroupAffinity,
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("hpc-agents")
			requireTerms(osTerm(corev1.NodeSelectorOpIn, "windows"), corev1.NodeSelectorTerm{})(p)
		},
		want: `[{"op":"add","path":"/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/-","value":{"key":"hostprocess.dev/local-groups-ready","operator":"In","values":["8ca9446a663582f3"]}},` +
			`{"op":"add","path":"/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/1/matchExpressions","value":[{"key":"hostprocess.dev/local-groups-ready","operator":"In","values":["8ca9446a663582f3"]}]}]`,
	}, {
		name:   "a pod with an affinity but no node affinity gets one",
		config: withLocalGroupAffinity,
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("hpc-agents")
			p.Spec.NodeSelector = map[string]string{OSLabel: "windows"}
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{}}
		},
		want: `[{"op":"add","path":"/spec/affinity/nodeAffinity","value":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"hostprocess.dev/local-groups-ready","operator":"In","values":["8ca9446a663582f3"]}]}]}}}]`,
	}, {
		name:   "a term that requires the value of another list of groups also gets this list's, so nodes prepared for the old list do not match",
		config: withLocalGroupAffinity,
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("hpc-agents")
			p.Spec.NodeSelector = map[string]string{OSLabel: "windows"}
			requireTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: LocalGroupsReadyLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}}}})(p)
		},
		want: `[{"op":"add","path":"/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/-","value":{"key":"hostprocess.dev/local-groups-ready","operator":"In","values":["8ca9446a663582f3"]}}]`,
	}, {
		name:   "a pod running as a built-in user gets no local-group affinity",
		config: withLocalGroupAffinity,
		pod:    func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{OSLabel: "windows"} },
		want:   `null`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, tc.config)
			pod := validPod()
			tc.pod(pod)
			in := Input{Namespace: Namespace{Name: pod.Namespace}, Spec: &pod.Spec}
			ops := p.Default(in)
			got, err := json.Marshal(ops)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("patch:\ngot:  %s\nwant: %s", got, tc.want)
			}
			if ops == nil {
				return
			}
			// The patch applies to the pod as the API server serializes it,
			// and a second pass over the result produces no patch.
			raw, _ := json.Marshal(pod)
			patch, err := jsonpatch.DecodePatch(got)
			if err != nil {
				t.Fatal(err)
			}
			patched, err := patch.Apply(raw)
			if err != nil {
				t.Fatalf("patch does not apply: %v", err)
			}
			var again corev1.Pod
			if err := json.Unmarshal(patched, &again); err != nil {
				t.Fatal(err)
			}
			if second := p.Default(Input{Namespace: in.Namespace, Spec: &again.Spec}); second != nil {
				t.Fatalf("second pass is not idempotent: %v", second)
			}
			if res := p.Evaluate(Input{Namespace: in.Namespace, Spec: &again.Spec}); len(res.Violations) != 0 {
				t.Fatalf("defaulted pod has violations: %s", fmtViolations(res.Violations))
			}
		})
	}
}

func TestPatchOpString(t *testing.T) {
	op := add("/spec/nodeSelector", map[string]string{OSLabel: "windows"})
	if got, want := op.String(), `add /spec/nodeSelector {"kubernetes.io/os":"windows"}`; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
