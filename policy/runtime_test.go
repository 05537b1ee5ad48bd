package policy

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// These tests cover the spec's "Runtime fidelity" section: what hcsshim runs.

const (
	inheritField = "{meta}.annotations[microsoft.com/hostprocess-inherit-user]"
	startFailure = ` will fail to start on the node: the runtime logs NT AUTHORITY accounts on as services only when the domain is written "NT AUTHORITY" in capitals, and this account cannot log on otherwise`
)

func onlyUsers(users ...string) func(*config.AdmissionConfiguration) {
	return func(c *config.AdmissionConfiguration) { c.AllowedUsers = users }
}

func inherit(value string) map[string]string {
	return map[string]string{InheritUserAnnotation: value}
}

// inheritCase sets runAsUserName to user on a pod annotated with
// microsoft.com/hostprocess-inherit-user: value. With denied, the pod is
// denied by inheritUser (allowed lists the scope's names); otherwise it is
// admitted with the warning that runAsUserName has no effect.
func inheritCase(name, value, user string, cfg func(*config.AdmissionConfiguration), denied bool, allowed string) placedCase {
	tc := userCase(name, user, cfg, false, "")
	tc.annotations = inherit(value)
	tc.checkWarnings = true
	if denied {
		v := []want{{RuleInheritUser, "pod", inheritField,
			"pod: " + inheritField + " " + quote(value) + ` makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: ` + allowed + ")"}}
		tc.atPod, tc.atContainer = v, v
		return tc
	}
	w := []string{"pod: " + inheritField + " " + quote(value) + ` makes every container run as NT AUTHORITY\SYSTEM; runAsUserName has no effect`}
	tc.warnAtPod, tc.warnAtContainer = w, w
	return tc
}

func TestInheritUserPlaced(t *testing.T) {
	runPlaced(t, []placedCase{
		inheritCase("inherit-user is denied, naming the annotation, when SYSTEM is not allowed",
			"true", localService, onlyUsers(localService), true, localService),
		inheritCase("inherit-user True is taken as true", "True", localService, onlyUsers(localService), true, localService),
		inheritCase("inherit-user 1 is taken as true", "1", localService, onlyUsers(localService), true, localService),
		inheritCase("inherit-user TRUE is taken as true", "TRUE", `NT AUTHORITY\NetworkService`,
			onlyUsers(`NT AUTHORITY\NetworkService`, localService), true, `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService`),
		inheritCase("inherit-user is admitted with a warning when SYSTEM is allowed", "true", localService, nil, false, ""),
		inheritCase("inherit-user admits a runAsUserName that is not allowed, which has no effect", "true", "Administrator", nil, false, ""),
		inheritCase("inherit-user is admitted when SYSTEM is allowed in another spelling", "t", localService,
			onlyUsers(`nt authority\system`, localService), false, ""),
	})
}

func TestInheritUserOtherValuesAreIgnored(t *testing.T) {
	for _, value := range []string{"false", "", "yes", "on", " true", "true "} {
		for _, user := range []struct {
			name   string
			denied bool
		}{{localService, false}, {`NT AUTHORITY\NetworkService`, true}} {
			tc := userCase("inherit-user "+quote(value)+" changes nothing for "+user.name, user.name, onlyUsers(localService), user.denied, localService)
			tc.annotations = inherit(value)
			runPlaced(t, []placedCase{tc})
		}
	}
}

func TestInheritUserWithoutRunAsUserName(t *testing.T) {
	// With the annotation, a pod without runAsUserName runs as SYSTEM and is
	// judged as such: no "is not set" violation.
	p := mustPolicy(t, nil)
	pod := validPod()
	pod.Spec.SecurityContext.WindowsOptions.RunAsUserName = nil
	pod.Annotations = inherit("true")
	for _, w := range wrappers {
		t.Run(w.kind, func(t *testing.T) {
			res := evaluateIn(t, p, pod, w)
			assertViolations(t, res.Violations, nil)
		})
	}
}

func TestInheritUserInANamespaceRuleScope(t *testing.T) {
	p := mustPolicy(t, func(c *config.AdmissionConfiguration) {
		c.NamespaceRules = []config.NamespaceRule{
			{Namespaces: []string{"kube-system"}, AllowedUsers: []string{localService}},
			{Namespaces: []string{"node-debug"}, AllowedUsers: []string{system}},
		}
	})
	for _, tc := range []struct {
		namespace string
		want      []want
	}{
		{"kube-system", []want{{RuleInheritUser, "pod", inheritField,
			"pod: " + inheritField + ` "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)`}}},
		{"node-debug", nil},
	} {
		for _, w := range wrappers {
			t.Run(tc.namespace+"/"+w.kind, func(t *testing.T) {
				pod := validPod()
				pod.Namespace = tc.namespace
				pod.Annotations = inherit("true")
				var expected []Violation
				for _, wt := range tc.want {
					expected = append(expected, wt.expand(w.specPath, ""))
				}
				assertViolations(t, evaluateIn(t, p, pod, w).Violations, expected)
			})
		}
	}
}

func TestInheritUserOnANonHostProcessPodIsOutsideThePolicy(t *testing.T) {
	// hcsshim clears the annotation on containers that are not HostProcess
	// (cmd/containerd-shim-runhcs-v1/pod.go).
	p := mustPolicy(t, onlyUsers(localService))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: inherit("true")},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	for _, w := range wrappers {
		res := evaluateIn(t, p, pod, w)
		if res.HostProcess || len(res.Violations) != 0 || len(res.Warnings) != 0 {
			t.Errorf("%s: got %+v, want an empty result", w.kind, res)
		}
	}
}

func TestInheritUserGetsNoLocalGroupAffinity(t *testing.T) {
	p := mustPolicy(t, func(c *config.AdmissionConfiguration) {
		c.AllowedLocalGroups = []string{"hpc-agents"}
		c.Defaults.LocalGroupNodeAffinity = true
	})
	pod := validPod()
	pod.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("hpc-agents")
	in := Input{Namespace: Namespace{Name: "kube-system"}, Spec: &pod.Spec}
	if ops := p.Default(in); len(ops) != 2 {
		t.Fatalf("without the annotation: %v, want the nodeSelector and the local-group affinity", ops)
	}
	in.Annotations = inherit("true")
	ops := p.Default(in)
	if len(ops) != 1 || ops[0].Path != "/spec/nodeSelector" {
		t.Fatalf("with inherit-user: %v, want only the nodeSelector: the pod runs as SYSTEM, not as the group", ops)
	}
}

func TestServiceAccountSpellingsPlaced(t *testing.T) {
	runPlaced(t, []placedCase{
		userCase("LocalService matches an allowed Local service", `NT AUTHORITY\LocalService`, onlyUsers(localService), false, ""),
		userCase("LOCAL SERVICE matches an allowed Local service", `NT AUTHORITY\LOCAL SERVICE`, onlyUsers(localService), false, ""),
		userCase("localservice matches an allowed Local service", `NT AUTHORITY\localservice`, onlyUsers(localService), false, ""),
		userCase("Network Service matches an allowed NetworkService", `NT AUTHORITY\Network Service`, onlyUsers(`NT AUTHORITY\NetworkService`, localService), false, ""),
		userCase("Local service matches an allowed LocalService", localService, onlyUsers(`NT AUTHORITY\LocalService`), false, ""),
		userCase("another service account is denied, listing what the operator wrote", `NT AUTHORITY\NetworkService`,
			onlyUsers(`NT AUTHORITY\LocalService`), true, `NT AUTHORITY\LocalService`),
		userCase("SYSTEM is not Local service", system, onlyUsers(localService), true, localService),
		userCase("LocalSystem is not a spelling the runtime logs on", `NT AUTHORITY\LocalSystem`, nil, true, defaultAllowed),
		userCase("a name without the domain is denied", "LocalService", onlyUsers(localService), true, localService),
		userCase("two spaces are denied", `NT AUTHORITY\Local  service`, onlyUsers(localService), true, localService),
		userCase("a Cyrillic dze look-alike of LocalService is denied", "NT AUTHORITY\\Local\u0455ervice", onlyUsers(localService), true, localService),
		userCase("a Kelvin sign in NETWORK SERVICE is denied", "NT AUTHORITY\\NETWOR\u212a SERVICE", nil, true, defaultAllowed),
	})
}

// startCase sets runAsUserName to user and expects the start-failure warning.
func startCase(name, user, reason string, cfg func(*config.AdmissionConfiguration), denied bool, allowed string) placedCase {
	tc := userCase(name, user, cfg, denied, allowed)
	tc.checkWarnings = true
	if reason != "" {
		q := quote(user)
		tc.warnAtPod = []string{"pod: {spec}.securityContext.windowsOptions.runAsUserName " + q + reason}
		tc.warnAtContainer = []string{`container "{name}": securityContext.windowsOptions.runAsUserName ` + q + reason}
	}
	return tc
}

func TestStartFailureWarningsPlaced(t *testing.T) {
	runPlaced(t, []placedCase{
		startCase("nt authority in lower case is admitted with a warning that it will fail", `nt authority\system`,
			startFailure+`; write "NT AUTHORITY\system"`, nil, false, ""),
		startCase("a mixed-case domain is admitted with a warning naming the spelling to use", `Nt Authority\NetworkService`,
			startFailure+`; write "NT AUTHORITY\NetworkService"`, nil, false, ""),
		startCase("a lower-case account in NT AUTHORITY starts", `NT AUTHORITY\system`, "", nil, false, ""),
		startCase("the canonical spelling has no warning", system, "", nil, false, ""),
		startCase("two backslashes are denied, with the warning that they fail", `NT AUTHORITY\\SYSTEM`,
			" will fail to start on the node: the runtime refuses a name with more than one backslash", nil, true, defaultAllowed),
		startCase("an allowed local group has no warning", "hpc-agents", "", withGroups("hpc-agents"), false, ""),
	})
}

func TestStartFailureIsNotWarnedWhenInheritUserReplacesTheName(t *testing.T) {
	p := mustPolicy(t, nil)
	pod := validPod()
	pod.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To(`nt authority\system`)
	pod.Annotations = inherit("true")
	res := evaluateIn(t, p, pod, wrappers[0])
	want := []string{`pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM; runAsUserName has no effect`}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings = %q, want %q", res.Warnings, want)
	}
}

func TestRootfsLocationIsWarned(t *testing.T) {
	p := mustPolicy(t, nil)
	for _, w := range wrappers {
		pod := validPod()
		pod.Annotations = map[string]string{RootfsLocationAnnotation: `C:\hpc-agent`}
		res := evaluateIn(t, p, pod, w)
		assertViolations(t, res.Violations, nil)
		want := []string{"pod: " + metaPath(w.specPath) + `.annotations[microsoft.com/hostprocess-rootfs-location] "C:\hpc-agent" makes the runtime put the containers' files at that path on the node`}
		if !slices.Equal(res.Warnings, want) {
			t.Errorf("%s: warnings = %q, want %q", w.kind, res.Warnings, want)
		}
	}
}

// kubectlDebugNodePod is the pod that `kubectl debug node/win-node-1 -it
// --profile sysadmin --image ...` creates on a Windows node (kubectl's
// generateNodeDebugPod with the OS-aware sysadmin profile, kubernetes PR 138182).
func kubectlDebugNodePod(namespace string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "node-debugger-win-node-1-x7k2p", Namespace: namespace},
		Spec: corev1.PodSpec{
			NodeName:      "win-node-1",
			RestartPolicy: corev1.RestartPolicyNever,
			HostNetwork:   true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess: ptr.To(true),
			}},
			Containers: []corev1.Container{{
				Name:  "debugger",
				Image: "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0",
				Stdin: true, TTY: true,
				SecurityContext: &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
					RunAsUserName: ptr.To(system),
				}},
			}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
}

func TestKubectlDebugNodePod(t *testing.T) {
	debugRule := func(users ...string) func(*config.AdmissionConfiguration) {
		return func(c *config.AdmissionConfiguration) {
			c.NamespaceRules = []config.NamespaceRule{
				{Namespaces: []string{"kube-system"}, AllowedUsers: []string{localService}},
				{Namespaces: []string{"node-debug"}, AllowedUsers: users,
					AllowedImages: []string{"mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:*"}},
			}
		}
	}
	const userField = "spec.containers[0].securityContext.windowsOptions.runAsUserName"
	tests := []struct {
		name      string
		config    func(*config.AdmissionConfiguration)
		namespace string
		want      []Violation
	}{
		{"the defaults admit it", nil, "default", nil},
		{"a rule for the debug namespace that allows SYSTEM admits it", debugRule(system), "node-debug", nil},
		{"a debug namespace that allows only Local service denies it", debugRule(localService), "node-debug", []Violation{{
			RuleRunAsUserName, "debugger", userField,
			`container "debugger": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\Local service)`}}},
		{"a namespace without a rule denies it", debugRule(system), "default", []Violation{{
			RuleNamespace, "pod", "metadata.namespace",
			`pod: namespace "default" is not allowed to run HostProcess pods (allowed: kube-system, node-debug)`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, tc.config)
			pod := kubectlDebugNodePod(tc.namespace)
			res := p.Evaluate(Input{Namespace: Namespace{Name: tc.namespace}, Spec: &pod.Spec, SpecPath: "spec"})
			if !res.HostProcess {
				t.Fatal("HostProcess = false, want true")
			}
			assertViolations(t, res.Violations, tc.want)
		})
	}
}

// TestKubectlDebugPlaced: the debugger container as kubectl debug places it
// (a container of the node debug pod; an ephemeral container added to a
// HostProcess pod) and in the other places, with SYSTEM set on the container or
// at pod level, in every kind: judged like any account.
func TestKubectlDebugPlaced(t *testing.T) {
	debugRule := func(users ...string) func(*config.AdmissionConfiguration) {
		return func(c *config.AdmissionConfiguration) {
			c.NamespaceRules = []config.NamespaceRule{
				{Namespaces: []string{"node-debug"}, AllowedUsers: users},
				{Namespaces: []string{"kube-system"}, AllowedUsers: []string{localService}},
			}
		}
	}
	allowed := userCase("SYSTEM in the debug namespace is admitted", system, debugRule(system, localService), false, "")
	deniedElsewhere := userCase("SYSTEM outside the debug namespace is denied", system, debugRule(system, localService), true, localService)
	for _, tc := range []struct {
		namespace string
		c         placedCase
	}{{"node-debug", allowed}, {"kube-system", deniedElsewhere}} {
		tc.c.name = tc.namespace + ": " + tc.c.name
		p := mustPolicy(t, tc.c.config)
		for _, pl := range placements {
			for _, w := range wrappers {
				t.Run(tc.c.name+"/"+pl.name+"/"+w.kind, func(t *testing.T) {
					pod := validPod()
					pod.Namespace = tc.namespace
					pl.apply(&pod.Spec, tc.c.setPod, tc.c.setContainer)
					wants := tc.c.atPod
					if pl.container != "" {
						wants = tc.c.atContainer
					}
					var expected []Violation
					for _, wt := range wants {
						wt.container = strings.ReplaceAll(wt.container, "{name}", pl.container)
						wt.message = strings.ReplaceAll(wt.message, "{name}", pl.container)
						expected = append(expected, wt.expand(w.specPath, pl.path))
					}
					assertViolations(t, evaluateIn(t, p, pod, w).Violations, expected)
				})
			}
		}
	}
}
