//go:build !windows

package audit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

var auditTime = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func fixturePolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.New(audittest.Config())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collectFixtures audits the fixture cluster as the audit command does.
func collectFixtures(t *testing.T, namespace string) (*audit.Result, *audittest.Fixtures) {
	t.Helper()
	env, fx := fixtureCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := audit.Collect(ctx, clientset(t, env), fixturePolicy(t), audit.CollectOptions{
		Namespace: namespace,
		ChunkSize: 2, // several pages of every kind
		Now:       func() time.Time { return auditTime },
	})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return res, fx
}

const (
	notAllowedUser = `container "c0": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed ` +
		`(allowed: NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM)`
	notAllowedNamespace = `pod: namespace "hp-other" is not allowed to run HostProcess pods ` +
		`(allowed: hp-system, namespaces with labels hostprocess.dev/allowed=true)`
	powershell = audittest.PowerShellImage
)

// expectedResult is the audit of every fixture namespace.
func expectedResult(fx *audittest.Fixtures) *audit.Result {
	objects := []audit.Object{
		{Namespace: "hp-apps", APIVersion: "batch/v1", Kind: "CronJob", Name: "log-cleanup", UID: fx.UIDs["hp-apps/CronJob/log-cleanup"],
			Status: "compliant", Mode: "warn", PodSecurityEnforce: "baseline", RunAsUserNames: []string{audittest.LocalService},
			Images: []string{powershell}, Nodes: []string{"win-node-2"}, Pods: []audit.PodRef{{Name: "log-cleanup-29000000-q7x2p", Node: "win-node-2"}}},
		{Namespace: "hp-apps", APIVersion: "v1", Kind: "Pod", Name: "debug", UID: fx.UIDs["hp-apps/Pod/debug"],
			Status: "violating", Mode: "warn", PodSecurityEnforce: "baseline", RunAsUserNames: []string{audittest.NetworkService},
			Images: []string{powershell}, Nodes: []string{"win-node-2"},
			Violations: []policy.Violation{
				{Rule: "runAsNonRoot", Container: "c0", Field: "spec.containers[0].securityContext.runAsNonRoot",
					Message: `container "c0": securityContext.runAsNonRoot is true (allowed: unset or false)`},
				{Rule: "windowsOS", Container: "pod", Field: "spec.nodeSelector[kubernetes.io/os]",
					Message: `pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`},
			}},
		{Namespace: "hp-apps", APIVersion: "v1", Kind: "Pod", Name: "gone-6d5f-k2m4n", UID: fx.UIDs["hp-apps/Pod/gone-6d5f-k2m4n"],
			Owner: "ReplicaSet/gone-6d5f", Status: "compliant", Mode: "warn", PodSecurityEnforce: "baseline",
			RunAsUserNames: []string{audittest.System}, Images: []string{powershell}, Nodes: []string{"win-node-1"}},
		{Namespace: "hp-exempt", APIVersion: "v1", Kind: "Pod", Name: "tool", UID: fx.UIDs["hp-exempt/Pod/tool"],
			Status: "exempt", Mode: "warn", PodSecurityEnforce: "unset", RunAsUserNames: []string{audittest.Anonymous},
			Images: []string{powershell}, Nodes: []string{"win-node-3"}},
		{Namespace: "hp-other", APIVersion: "v1", Kind: "Pod", Name: "node-agent-win-node-3", UID: fx.UIDs["hp-other/Pod/node-agent-win-node-3"],
			Owner: "Node/win-node-3", Status: "violating", Mode: "warn", PodSecurityEnforce: "unset",
			RunAsUserNames: []string{audittest.System}, Images: []string{powershell}, Nodes: []string{"win-node-3"},
			Violations: []policy.Violation{{Rule: "namespace", Container: "pod", Field: "metadata.namespace", Message: notAllowedNamespace}}},
		{Namespace: "hp-other", APIVersion: "apps/v1", Kind: "StatefulSet", Name: "stray", UID: fx.UIDs["hp-other/StatefulSet/stray"],
			Status: "violating", Mode: "warn", PodSecurityEnforce: "unset", RunAsUserNames: []string{audittest.System}, Images: []string{powershell},
			Violations: []policy.Violation{{Rule: "namespace", Container: "pod", Field: "metadata.namespace", Message: notAllowedNamespace}}},
		{Namespace: "hp-system", APIVersion: "apps/v1", Kind: "DaemonSet", Name: "csi-proxy", UID: fx.UIDs["hp-system/DaemonSet/csi-proxy"],
			Status: "compliant", Mode: "warn", PodSecurityEnforce: "privileged", RunAsUserNames: []string{audittest.System},
			Images: []string{audittest.CSIProxyImage}, Nodes: []string{"win-node-1", "win-node-2"},
			Pods: []audit.PodRef{{Name: "csi-proxy-a", Node: "win-node-1"}, {Name: "csi-proxy-b", Node: "win-node-2"}}},
		{Namespace: "hp-system", APIVersion: "apps/v1", Kind: "Deployment", Name: "agent", UID: fx.UIDs["hp-system/Deployment/agent"],
			Status: "violating", Mode: "warn", PodSecurityEnforce: "privileged", RunAsUserNames: []string{audittest.Anonymous},
			Images: []string{audittest.AgentImage}, Nodes: []string{"win-node-1"}, Pods: []audit.PodRef{{Name: "agent-7f9c-x1", Node: "win-node-1"}},
			Violations: []policy.Violation{
				{Rule: "runAsUserName", Container: "c0", Field: "spec.template.spec.containers[0].securityContext.windowsOptions.runAsUserName", Message: notAllowedUser},
				{Rule: "image", Container: "c0", Field: "spec.template.spec.containers[0].image",
					Message: `container "c0": image "docker.io/example/agent:1.0" is not allowed (allowed: mcr.microsoft.com/*)`},
			}},
	}
	return &audit.Result{
		APIVersion:  "hostprocess.dev/v1alpha1",
		Kind:        "AuditResult",
		GeneratedAt: auditTime,
		Objects:     objects,
		Summary: audit.Summary{
			// default, kube-system, kube-public, kube-node-lease and the five of the fixtures.
			Scanned:   audit.Scanned{Namespaces: 9, Pods: 10, Workloads: 8},
			Objects:   8,
			Violating: 4, Compliant: 3, Exempt: 1,
			HostProcessPods: 8,
			Violations:      6,
			ByUser: []audit.UserCount{
				{User: audittest.System, Objects: 4, Pods: 4},
				{User: audittest.Anonymous, Objects: 2, Pods: 2},
				{User: audittest.LocalService, Objects: 1, Pods: 1},
				{User: audittest.NetworkService, Objects: 1, Pods: 1},
			},
			ByNamespace: []audit.NamespaceCount{
				{Namespace: "hp-apps", Objects: 3, Violating: 1, Violations: 2},
				{Namespace: "hp-exempt", Objects: 1, Exempt: true},
				{Namespace: "hp-other", Objects: 2, Violating: 2, Violations: 2},
				{Namespace: "hp-system", Objects: 2, Violating: 1, Violations: 2},
			},
			ByRule: []audit.RuleCount{
				{Rule: "runAsUserName", Objects: 1, Violations: 1},
				{Rule: "runAsNonRoot", Objects: 1, Violations: 1},
				{Rule: "windowsOS", Objects: 1, Violations: 1},
				{Rule: "namespace", Objects: 2, Violations: 2},
				{Rule: "image", Objects: 1, Violations: 1},
			},
		},
	}
}

func render(t *testing.T, res *audit.Result, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := audit.Write(&buf, res, format); err != nil {
		t.Fatalf("Write %s: %v", format, err)
	}
	return buf.Bytes()
}

func TestCollectReportsEveryHostProcessObjectUnderItsTopLevelOwnerAsJSON(t *testing.T) {
	res, fx := collectFixtures(t, "")
	got := render(t, res, audit.FormatJSON)
	want := render(t, expectedResult(fx), audit.FormatJSON)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if !res.HasViolations() {
		t.Error("HasViolations = false, want true")
	}
}

func TestCollectOneNamespaceReadsOnlyThatNamespace(t *testing.T) {
	res, fx := collectFixtures(t, "hp-system")
	want := expectedResult(fx)
	if res.Namespace != "hp-system" {
		t.Errorf("Namespace = %q", res.Namespace)
	}
	if diff := cmp.Diff(want.Objects[6:], res.Objects); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if got, want := res.Summary.Scanned, (audit.Scanned{Namespaces: 1, Pods: 3, Workloads: 3}); got != want {
		t.Errorf("Scanned = %+v, want %+v", got, want)
	}
}

// The golden files are the table and Markdown of the fixture cluster; UPDATE_AUDIT_GOLDEN=true
// rewrites them.
func TestCollectTableAndMarkdownMatchGoldenFiles(t *testing.T) {
	res, _ := collectFixtures(t, "")
	for _, tc := range []struct{ format, file string }{
		{audit.FormatTable, "audit.table.golden"},
		{audit.FormatMarkdown, "audit.md.golden"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			got := render(t, res, tc.format)
			path := filepath.Join("testdata", tc.file)
			if os.Getenv("UPDATE_AUDIT_GOLDEN") == "true" {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (UPDATE_AUDIT_GOLDEN=true writes it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs from %s (-want +got; UPDATE_AUDIT_GOLDEN=true rewrites it):\n%s", tc.format, path, diff)
			}
		})
	}
}

func TestCollectShowsProgressWhileReadingPageByPage(t *testing.T) {
	env, _ := fixtureCluster(t)
	var progress bytes.Buffer
	_, err := audit.Collect(context.Background(), clientset(t, env), fixturePolicy(t), audit.CollectOptions{
		ChunkSize: 1, Progress: &progress, ProgressAfter: -1, ProgressEvery: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "audit: read 9 namespaces, 8 workloads, 10 pods (") {
		t.Errorf("last progress line = %q; all:\n%s", last, progress.String())
	}
	// One line per page: 9 namespaces, 8 workloads and 10 pods, one per page.
	if len(lines) != 27 {
		t.Errorf("%d progress lines, want 27:\n%s", len(lines), progress.String())
	}
}

func TestCollectNamesTheMissingPermissionWhenListingNamespacesIsForbidden(t *testing.T) {
	env, _ := fixtureCluster(t)
	ctx := context.Background()
	// auditor may read pods in hp-system only: no namespace list, no workloads.
	user, err := env.Environment.AddUser(envtest.User{Name: "auditor"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "hp-system", Name: "auditor"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "auditor"}}}
	if err := env.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(user.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, namespace, want string
	}{
		{"all namespaces", "", `listing namespaces: namespaces is forbidden: User "auditor" cannot list resource "namespaces" in API group "" at the cluster scope (` + audit.PermissionsHint + `)`},
		{"one namespace", "hp-system", `listing deployments in namespace hp-system: deployments.apps is forbidden: User "auditor" cannot list resource "deployments" in API group "apps" in the namespace "hp-system" (` + audit.PermissionsHint + `)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.Collect(ctx, cs, fixturePolicy(t), audit.CollectOptions{Namespace: tc.namespace})
			var access *audit.AccessError
			if !errors.As(err, &access) {
				t.Fatalf("error = %v (%T), want an *audit.AccessError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}
