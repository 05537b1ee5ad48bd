package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// userCase builds a placed case that sets runAsUserName to user.
func userCase(name, user string, cfg func(*config.AdmissionConfiguration), denied bool, allowed string) placedCase {
	tc := placedCase{
		name:         name,
		config:       cfg,
		setPod:       func(sc *corev1.PodSecurityContext) { sc.WindowsOptions.RunAsUserName = ptr.To(user) },
		setContainer: func(sc *corev1.SecurityContext) { sc.WindowsOptions.RunAsUserName = ptr.To(user) },
	}
	if denied {
		q := quote(user)
		tc.atPod = []want{{RuleRunAsUserName, "pod", "{spec}.securityContext.windowsOptions.runAsUserName",
			"pod: {spec}.securityContext.windowsOptions.runAsUserName " + q + " is not allowed (allowed: " + allowed + ")"}}
		tc.atContainer = []want{{RuleRunAsUserName, "{name}", "{c}.securityContext.windowsOptions.runAsUserName",
			`container "{name}": securityContext.windowsOptions.runAsUserName ` + q + " is not allowed (allowed: " + allowed + ")"}}
	}
	return tc
}

func withGroups(groups ...string) func(*config.AdmissionConfiguration) {
	return func(c *config.AdmissionConfiguration) { c.AllowedLocalGroups = groups }
}

func TestRunAsUserNamePlaced(t *testing.T) {
	runPlaced(t, []placedCase{
		userCase("an allowed built-in user is admitted", `NT AUTHORITY\NetworkService`, nil, false, ""),
		userCase("an allowed user in another ASCII letter case is admitted", `nt authority\system`, nil, false, ""),
		userCase("an account that is not allowed is denied with the spec's message", `NT AUTHORITY\ANONYMOUS LOGON`, nil, true, defaultAllowed),
		userCase("a local administrator is denied", `Administrator`, nil, true, defaultAllowed),
		userCase("a Kelvin sign that Unicode folds to k is denied", "NT AUTHORITY\\Networ\u212aService", nil, true, defaultAllowed),
		userCase("a long s that Unicode folds to s is denied", "NT AUTHORITY\\\u017fYSTEM", nil, true, defaultAllowed),
		userCase("full-width letters are denied", "NT AUTHORITY\\\uff33\uff39\uff33\uff34\uff25\uff2d", nil, true, defaultAllowed),
		userCase("a Cyrillic look-alike is denied", "NT AUTHORITY\\\u0405YSTEM", nil, true, defaultAllowed),
		userCase("a trailing space is denied", `NT AUTHORITY\SYSTEM `, nil, true, defaultAllowed),
		userCase("a leading space is denied", ` NT AUTHORITY\SYSTEM`, nil, true, defaultAllowed),
		userCase("a trailing dot is denied", `NT AUTHORITY\SYSTEM.`, nil, true, defaultAllowed),
		userCase("a missing domain is denied", `SYSTEM`, nil, true, defaultAllowed),
		userCase("an empty domain is denied", `\SYSTEM`, nil, true, defaultAllowed),
		userCase("a forward slash is denied", `NT AUTHORITY/SYSTEM`, nil, true, defaultAllowed),
		userCase("a control character is denied and escaped in the message", "NT AUTHORITY\\SYSTEM\x00", nil, true, defaultAllowed),
		userCase("an empty name is denied", "", nil, true, defaultAllowed),
		userCase("an allowed local group is admitted", "hpc-agents", withGroups("hpc-agents"), false, ""),
		userCase("an allowed local group in another case is admitted", "HPC-Agents", withGroups("hpc-agents"), false, ""),
		userCase("a local group that is not allowed is denied, listing users and groups", "other-group", withGroups("hpc-agents"), true,
			`NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM, hpc-agents`),
	})
}

func TestRunAsUserName(t *testing.T) {
	const unsetMsg = `: securityContext.windowsOptions.runAsUserName is not set (allowed: ` + defaultAllowed + ")"
	runPods(t, []podCase{{
		name:   "with no users or groups allowed, every name is denied",
		config: func(c *config.AdmissionConfiguration) { c.AllowedUsers = []string{} },
		pod:    func(*corev1.Pod) {},
		want: []want{{RuleRunAsUserName, "pod", "{spec}.securityContext.windowsOptions.runAsUserName",
			`pod: {spec}.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\Local service" is not allowed (allowed: none)`}},
	}, {
		name: "containers without a runAsUserName anywhere are each denied",
		pod:  func(p *corev1.Pod) { p.Spec.SecurityContext.WindowsOptions.RunAsUserName = nil },
		want: []want{
			{RuleRunAsUserName, "init", "{spec}.initContainers[0].securityContext.windowsOptions.runAsUserName", `container "init"` + unsetMsg},
			{RuleRunAsUserName, "app", "{spec}.containers[0].securityContext.windowsOptions.runAsUserName", `container "app"` + unsetMsg},
			{RuleRunAsUserName, "debug", "{spec}.ephemeralContainers[0].securityContext.windowsOptions.runAsUserName", `container "debug"` + unsetMsg},
		},
	}, {
		name: "a bad pod-level user overridden by every container is admitted",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
			setUser(&p.Spec.InitContainers[0], system)
			setUser(&p.Spec.Containers[0], system)
			setUser((*corev1.Container)(&p.Spec.EphemeralContainers[0].EphemeralContainerCommon), system)
		},
	}, {
		name: "a bad pod-level user inherited by an ephemeral container is denied once, against the pod",
		pod: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
			setUser(&p.Spec.InitContainers[0], system)
			setUser(&p.Spec.Containers[0], system)
		},
		want: []want{{RuleRunAsUserName, "pod", "{spec}.securityContext.windowsOptions.runAsUserName",
			`pod: {spec}.securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: ` + defaultAllowed + ")"}},
	}})
}

func TestEqualFoldASCIIIsUsedForUsers(t *testing.T) {
	s := newScope([]string{system}, []string{"hpc-agents"}, nil)
	for name, want := range map[string]bool{
		`NT AUTHORITY\SYSTEM`:   true,
		`nt authority\system`:   true,
		"NT AUTHORITY\\SYSTEM ": false,
		"HPC-AGENTS":            true,
		"hpc\u2010agents":       false, // Unicode hyphen
	} {
		if got := s.allowsUser(name); got != want {
			t.Errorf("allowsUser(%q) = %v, want %v", name, got, want)
		}
	}
}
