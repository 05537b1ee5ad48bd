package audit

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func win(hostProcess *bool, user *string) *corev1.WindowsSecurityContextOptions {
	return &corev1.WindowsSecurityContextOptions{HostProcess: hostProcess, RunAsUserName: user}
}

// effectiveUsers mirrors the policy's inheritance: each case runs with the setting at pod
// level and at container level, in every container list.
func TestEffectiveUsersInheritFromThePodLevel(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"takes the pod-level user for containers that set none",
			corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{WindowsOptions: win(nil, ptr.To("A"))},
				Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			[]string{"A"}},
		{"prefers a container's own user to the pod's",
			corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{WindowsOptions: win(nil, ptr.To("A"))},
				Containers: []corev1.Container{{Name: "a", SecurityContext: &corev1.SecurityContext{WindowsOptions: win(nil, ptr.To("B"))}}, {Name: "b"}}},
			[]string{"A", "B"}},
		{"reports a container without any user as unset",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b", SecurityContext: &corev1.SecurityContext{WindowsOptions: win(nil, ptr.To("B"))}}}},
			[]string{UnsetUser, "B"}},
		{"counts init and ephemeral containers",
			corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{WindowsOptions: win(nil, ptr.To("A"))},
				InitContainers: []corev1.Container{{Name: "i", SecurityContext: &corev1.SecurityContext{WindowsOptions: win(nil, ptr.To("I"))}}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e",
					SecurityContext: &corev1.SecurityContext{WindowsOptions: win(nil, ptr.To("E"))}}}}},
			[]string{"E", "I"}},
		{"keeps names as written, without folding case",
			corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", SecurityContext: &corev1.SecurityContext{WindowsOptions: win(nil, ptr.To(`NT AUTHORITY\SYSTEM`))}},
				{Name: "b", SecurityContext: &corev1.SecurityContext{WindowsOptions: win(nil, ptr.To(`nt authority\system`))}}}},
			[]string{`NT AUTHORITY\SYSTEM`, `nt authority\system`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, effectiveUsers(&tc.spec)); diff != "" {
				t.Errorf("effectiveUsers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListersFollowWorkloadKindsThenPods(t *testing.T) {
	ls := listers(fake.NewClientset(), "")
	var got []string
	for _, l := range ls {
		got = append(got, l.resource)
	}
	var want []string
	for _, gvk := range WorkloadKinds {
		want = append(want, strings.ToLower(gvk.Kind)+"s")
	}
	want = append(want, "pods")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listers (-want +got):\n%s", diff)
	}
}

// The CRDs in crds/ are generated from the reports-api version in go.mod; a version bump
// without `make generate` leaves them stale.
func TestCRDsWereGeneratedFromTheReportsAPIVersionInGoMod(t *testing.T) {
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/openreports/reports-api (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/openreports/reports-api")
	}
	for _, f := range []string{"crds/openreports.io_reports.yaml", "crds/openreports.io_clusterreports.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		if want := "# from github.com/openreports/reports-api " + string(m[1]) + ". DO NOT EDIT."; !strings.Contains(string(data), want) {
			t.Errorf("%s was not generated from reports-api %s: run make generate", f, m[1])
		}
	}
}

func TestObjectResultsJoinTheMessagesOfOneRule(t *testing.T) {
	o := &Object{Namespace: "ns", APIVersion: "v1", Kind: "Pod", Name: "p", Status: StatusViolating, Mode: "enforce",
		PodSecurityEnforce: "unset", RunAsUserNames: []string{"X", "Y"}, Images: []string{"img"}, Nodes: []string{"n1"},
		Violations: []policy.Violation{
			{Rule: policy.RuleRunAsUserName, Message: `container "a": bad X`},
			{Rule: policy.RuleRunAsUserName, Message: `container "b": bad Y`},
			{Rule: policy.RuleWindowsOS, Message: "pod: linux"},
		}}
	got := objectResults(o)
	if len(got) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(got), got)
	}
	want := openreports.ReportResult{
		Source: ReportSource, Policy: ReportPolicy, Rule: policy.RuleRunAsUserName, Category: ReportCategory,
		Severity: "high", Result: "fail", Scored: true,
		Subjects:    []corev1.ObjectReference{{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "p"}},
		Description: `container "a": bad X; container "b": bad Y`,
		Properties: map[string]string{"mode": "enforce", "runAsUserNames": "X, Y", "images": "img",
			"podSecurityEnforce": "unset", "hostProcessPods": "1", "nodes": "n1"},
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("first result (-want +got):\n%s", diff)
	}
	if got[1].Rule != policy.RuleWindowsOS || got[1].Severity != "low" || got[1].Description != "pod: linux" {
		t.Errorf("second result = %+v", got[1])
	}
}

func TestKeepTimestampsKeepsWhenAResultWasFirstFound(t *testing.T) {
	subject := []corev1.ObjectReference{{Kind: "Pod", Namespace: "ns", Name: "p", UID: "u"}}
	old := []openreports.ReportResult{{Policy: "hostprocess", Rule: "image", Result: "fail", Subjects: subject, Timestamp: metav1.Timestamp{Seconds: 100}}}
	desired := []openreports.ReportResult{
		{Policy: "hostprocess", Rule: "image", Result: "fail", Subjects: subject},
		{Policy: "hostprocess", Rule: "windowsOS", Result: "fail", Subjects: subject},
	}
	keepTimestamps(desired, old, metav1.Timestamp{Seconds: 200})
	if desired[0].Timestamp.Seconds != 100 || desired[1].Timestamp.Seconds != 200 {
		t.Errorf("timestamps = %d, %d; want 100 (kept), 200 (new)", desired[0].Timestamp.Seconds, desired[1].Timestamp.Seconds)
	}
}
