package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// TestAdversarial collects what an attacker would try against the
// runAsUserName allowlist and the HostProcess detection. Each case states the
// exact verdict; the placed and per-rule tables hold the rest.
func TestAdversarial(t *testing.T) {
	const userField = "{spec}.securityContext.windowsOptions.runAsUserName"
	denyPodUser := func(q string) []want {
		return []want{{RuleRunAsUserName, "pod", userField,
			"pod: " + userField + " " + q + " is not allowed (allowed: " + defaultAllowed + ")"}}
	}
	podUser := func(u string) func(p *corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.SecurityContext.WindowsOptions.RunAsUserName = &u }
	}
	runPods(t, []podCase{
		// Names that only match under Unicode rules or look alike.
		{name: "Kelvin sign K for k in NetworkService", pod: podUser("NT AUTHORITY\\Networ\u212aService"), want: denyPodUser("\"NT AUTHORITY\\Networ\u212aService\"")},
		{name: "long s for S in SYSTEM", pod: podUser("NT AUTHORITY\\\u017fYSTEM"), want: denyPodUser("\"NT AUTHORITY\\\u017fYSTEM\"")},
		{name: "dotless i in Local service", pod: podUser("NT AUTHORITY\\Local serv\u0131ce"), want: denyPodUser("\"NT AUTHORITY\\Local serv\u0131ce\"")},
		{name: "full-width backslash", pod: podUser("NT AUTHORITY\uff3cSYSTEM"), want: denyPodUser("\"NT AUTHORITY\uff3cSYSTEM\"")},
		{name: "Greek capital omicron for O", pod: podUser("NT AUTH\u039fRITY\\SYSTEM"), want: denyPodUser("\"NT AUTH\u039fRITY\\SYSTEM\"")},
		// Invisible and control characters are escaped in the message, so nothing hides.
		{name: "zero-width space inside the name", pod: podUser("NT AUTHORITY\\SYS\u200bTEM"), want: denyPodUser(`"NT AUTHORITY\\SYS\u200bTEM"`)},
		{name: "right-to-left override", pod: podUser("NT AUTHORITY\\\u202eMETSYS"), want: denyPodUser(`"NT AUTHORITY\\\u202eMETSYS"`)},
		{name: "a NUL byte that could truncate in C", pod: podUser("NT AUTHORITY\\SYSTEM\x00x"), want: denyPodUser(`"NT AUTHORITY\\SYSTEM\x00x"`)},
		{name: "a newline that could forge a log line", pod: podUser("NT AUTHORITY\\SYSTEM\nadmitted"), want: denyPodUser(`"NT AUTHORITY\\SYSTEM\nadmitted"`)},
		{name: "a tab instead of the space", pod: podUser("NT\tAUTHORITY\\SYSTEM"), want: denyPodUser(`"NT\tAUTHORITY\\SYSTEM"`)},
		{name: "invalid UTF-8", pod: podUser("NT AUTHORITY\\SYSTEM\xff"), want: denyPodUser(`"NT AUTHORITY\\SYSTEM\xff"`)},
		// Whitespace, dots and domains.
		{name: "surrounding spaces", pod: podUser(" NT AUTHORITY\\SYSTEM "), want: denyPodUser(`" NT AUTHORITY\SYSTEM "`)},
		{name: "a double space", pod: podUser("NT  AUTHORITY\\SYSTEM"), want: denyPodUser(`"NT  AUTHORITY\SYSTEM"`)},
		{name: "a trailing dot", pod: podUser("NT AUTHORITY\\SYSTEM."), want: denyPodUser(`"NT AUTHORITY\SYSTEM."`)},
		{name: "an empty domain", pod: podUser("\\SYSTEM"), want: denyPodUser(`"\SYSTEM"`)},
		{name: "a dot domain", pod: podUser(".\\SYSTEM"), want: denyPodUser(`".\SYSTEM"`)},
		{name: "a UPN form", pod: podUser("SYSTEM@NT AUTHORITY"), want: denyPodUser(`"SYSTEM@NT AUTHORITY"`)},
		{name: "the well-known SID of SYSTEM", pod: podUser("S-1-5-18"), want: denyPodUser(`"S-1-5-18"`)},
		{name: "a doubled backslash", pod: podUser("NT AUTHORITY\\\\SYSTEM"), want: denyPodUser(`"NT AUTHORITY\\SYSTEM"`)},
		{name: "ASCII case folding still matches", pod: podUser("nT aUtHoRiTy\\sYsTeM")},
		// Settings split between levels.
		{name: "a bad pod-level user inherited by the init container only", pod: func(p *corev1.Pod) {
			podUser("Administrator")(p)
			setUser(&p.Spec.Containers[0], system)
			setUser((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), system)
		}, want: denyPodUser(`"Administrator"`)},
		{name: "a bad pod-level user inherited by the ephemeral container only", pod: func(p *corev1.Pod) {
			podUser("Administrator")(p)
			setUser(&p.Spec.InitContainers[0], system)
			setUser(&p.Spec.Containers[0], system)
		}, want: denyPodUser(`"Administrator"`)},
		{name: "hostProcess only on the init container still makes a HostProcess pod", pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.HostProcess = nil
			setHostProcess(&p.Spec.InitContainers[0], ptr.To(true))
		}, want: []want{
			{RuleHostProcessMixed, "app", "{spec}.containers[0].securityContext.windowsOptions.hostProcess",
				`container "app": securityContext.windowsOptions.hostProcess is not set (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)`},
			{RuleHostProcessMixed, "debug", "{spec}.ephemeralContainers[0].securityContext.windowsOptions.hostProcess",
				`container "debug": securityContext.windowsOptions.hostProcess is not set (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)`},
		}},
		{name: "runAsNonRoot false on the pod does not excuse a container's true", pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsNonRoot = ptr.To(false)
			p.Spec.EphemeralContainers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}
		}, want: []want{{RuleRunAsNonRoot, "debug", "{spec}.ephemeralContainers[0].securityContext.runAsNonRoot",
			`container "debug": securityContext.runAsNonRoot is true (allowed: unset or false)`}}},
		// Scheduling tricks.
		{name: "an os nodeSelector with a trailing space", pod: func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{OSLabel: "windows "}
		}, want: []want{{RuleWindowsOS, "pod", "{spec}.nodeSelector[kubernetes.io/os]",
			`pod: {spec}.nodeSelector["kubernetes.io/os"] "windows " is not allowed (allowed: windows)`}}},
	})
}

// TestAdversarialGroups covers local-group names: a group only matches
// exactly (ASCII case aside), and a look-alike of an allowed group does not.
func TestAdversarialGroups(t *testing.T) {
	p := mustPolicy(t, func(c *config.AdmissionConfiguration) { c.AllowedLocalGroups = []string{"hpc-agents"} })
	for name, allowed := range map[string]bool{
		"hpc-agents":          true,
		"HPC-AGENTS":          true,
		"hpc-agents ":         false,
		".\\hpc-agents":       false,
		"BUILTIN\\hpc-agents": false,
		"hpc\u2011agents":     false, // non-breaking hyphen
		"hpc-agent\u0455":     false, // Cyrillic dze
	} {
		pod := validPod()
		pod.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(name)
		res := p.Evaluate(Input{Namespace: Namespace{Name: "kube-system"}, Spec: &pod.Spec})
		if got := len(res.Violations) == 0; got != allowed {
			t.Errorf("%q admitted = %v, want %v", name, got, allowed)
		}
	}
}
