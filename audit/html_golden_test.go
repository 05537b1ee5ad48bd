package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// nasty holds every character html/template escaped in text and quoted attributes (" & ' + < >),
// a NUL, a backslash, non-ASCII text and a byte that is not UTF-8.
const nasty = "a<b>&c\"d'e+f\x00g\\h é漢字🙂 \xff!"

// htmlCases are Results that cover every branch of the HTML report. Their golden files under
// testdata/html were rendered by the html/template version of the report, so the hand-written
// renderer is held to the same bytes; UPDATE_AUDIT_GOLDEN=true rewrites them.
func htmlCases() []struct {
	name string
	res  *audit.Result
} {
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	powershell := audittest.PowerShellImage
	notAllowedNs := `pod: namespace "hp-other" is not allowed to run HostProcess pods ` +
		`(allowed: hp-system, namespaces with labels hostprocess.dev/allowed=true)`

	// fixtures is the audit of the fixture cluster (collect_test.go's expectedResult, without UIDs).
	fixtures := &audit.Result{
		APIVersion: audit.ResultAPIVersion, Kind: audit.ResultKind, GeneratedAt: at,
		Objects: []audit.Object{
			{Namespace: "hp-apps", APIVersion: "batch/v1", Kind: "CronJob", Name: "log-cleanup",
				Status: "compliant", Mode: "warn", PodSecurityEnforce: "baseline", RunAsUserNames: []string{audittest.LocalService},
				Images: []string{powershell}, Nodes: []string{"win-node-2"}, Pods: []audit.PodRef{{Name: "log-cleanup-29000000-q7x2p", Node: "win-node-2"}}},
			{Namespace: "hp-apps", APIVersion: "v1", Kind: "Pod", Name: "debug",
				Status: "violating", Mode: "warn", PodSecurityEnforce: "baseline", RunAsUserNames: []string{audittest.NetworkService},
				Images: []string{powershell}, Nodes: []string{"win-node-2"},
				Violations: []policy.Violation{
					{Rule: "runAsNonRoot", Container: "c0", Field: "spec.containers[0].securityContext.runAsNonRoot",
						Message: `container "c0": securityContext.runAsNonRoot is true (allowed: unset or false)`},
					{Rule: "windowsOS", Container: "pod", Field: "spec.nodeSelector[kubernetes.io/os]",
						Message: `pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`},
				}},
			{Namespace: "hp-apps", APIVersion: "v1", Kind: "Pod", Name: "gone-6d5f-k2m4n",
				Owner: "ReplicaSet/gone-6d5f", Status: "compliant", Mode: "warn", PodSecurityEnforce: "baseline",
				RunAsUserNames: []string{audittest.System}, Images: []string{powershell}, Nodes: []string{"win-node-1"}},
			{Namespace: "hp-exempt", APIVersion: "v1", Kind: "Pod", Name: "tool",
				Status: "exempt", Mode: "warn", PodSecurityEnforce: "unset", RunAsUserNames: []string{audittest.Anonymous},
				Images: []string{powershell}, Nodes: []string{"win-node-3"}},
			{Namespace: "hp-other", APIVersion: "v1", Kind: "Pod", Name: "node-agent-win-node-3",
				Owner: "Node/win-node-3", Status: "violating", Mode: "warn", PodSecurityEnforce: "unset",
				RunAsUserNames: []string{audittest.System}, Images: []string{powershell}, Nodes: []string{"win-node-3"},
				Violations: []policy.Violation{{Rule: "namespace", Container: "pod", Field: "metadata.namespace", Message: notAllowedNs}}},
			{Namespace: "hp-other", APIVersion: "apps/v1", Kind: "StatefulSet", Name: "stray",
				Status: "violating", Mode: "warn", PodSecurityEnforce: "unset", RunAsUserNames: []string{audittest.System}, Images: []string{powershell},
				Violations: []policy.Violation{{Rule: "namespace", Container: "pod", Field: "metadata.namespace", Message: notAllowedNs}}},
			{Namespace: "hp-system", APIVersion: "apps/v1", Kind: "DaemonSet", Name: "csi-proxy",
				Status: "compliant", Mode: "warn", PodSecurityEnforce: "privileged", RunAsUserNames: []string{audittest.System},
				Images: []string{audittest.CSIProxyImage}, Nodes: []string{"win-node-1", "win-node-2"},
				Pods: []audit.PodRef{{Name: "csi-proxy-a", Node: "win-node-1"}, {Name: "csi-proxy-b", Node: "win-node-2"}}},
			{Namespace: "hp-system", APIVersion: "apps/v1", Kind: "Deployment", Name: "agent",
				Status: "violating", Mode: "warn", PodSecurityEnforce: "privileged", RunAsUserNames: []string{audittest.Anonymous},
				Images: []string{audittest.AgentImage}, Nodes: []string{"win-node-1"}, Pods: []audit.PodRef{{Name: "agent-7f9c-x1", Node: "win-node-1"}},
				Violations: []policy.Violation{
					{Rule: "runAsUserName", Container: "c0", Message: `container "c0": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM)`},
					{Rule: "image", Container: "c0", Message: `container "c0": image "docker.io/example/agent:1.0" is not allowed (allowed: mcr.microsoft.com/*)`},
				}},
		},
		Summary: audit.Summary{
			Scanned: audit.Scanned{Namespaces: 9, Pods: 10, Workloads: 8},
			Objects: 8, Violating: 4, Compliant: 3, Exempt: 1, HostProcessPods: 8, Violations: 6,
			ByUser: []audit.UserCount{
				{User: audittest.System, Objects: 4, Pods: 4}, {User: audittest.Anonymous, Objects: 2, Pods: 2},
				{User: audittest.LocalService, Objects: 1, Pods: 1}, {User: audittest.NetworkService, Objects: 1, Pods: 1},
			},
			ByNamespace: []audit.NamespaceCount{
				{Namespace: "hp-apps", Objects: 3, Violating: 1, Violations: 2}, {Namespace: "hp-exempt", Objects: 1, Exempt: true},
				{Namespace: "hp-other", Objects: 2, Violating: 2, Violations: 2}, {Namespace: "hp-system", Objects: 2, Violating: 1, Violations: 2},
			},
			ByRule: []audit.RuleCount{
				{Rule: "runAsUserName", Objects: 1, Violations: 1}, {Rule: "runAsNonRoot", Objects: 1, Violations: 1},
				{Rule: "windowsOS", Objects: 1, Violations: 1}, {Rule: "namespace", Objects: 2, Violations: 2},
				{Rule: "image", Objects: 1, Violations: 1},
			},
		},
	}

	// escaping puts the awkward characters in every value the report prints, in text, in
	// attributes and in the charts' SVG, with labels of 31, 32, 33 and more runes (multi-byte too).
	long32 := strings.Repeat("é", 32)
	escaping := &audit.Result{
		APIVersion: audit.ResultAPIVersion, Kind: audit.ResultKind,
		GeneratedAt: time.Date(2026, 5, 4, 12, 30, 15, 0, time.FixedZone("CEST", 2*3600)),
		Namespace:   "ns-" + nasty,
		Objects: []audit.Object{
			{Namespace: "ns-" + nasty, Kind: "Pod", Name: "pod-" + nasty, Owner: "Node/" + nasty,
				Status: "violating", Mode: "mode-" + nasty, PodSecurityEnforce: "psa-" + nasty,
				RunAsUserNames: []string{"user-" + nasty, `NT AUTHORITY\SYSTEM`}, Images: []string{"image-" + nasty, "b+c:1"},
				Nodes: []string{"node-" + nasty, "n2", "n3", "n4"},
				Violations: []policy.Violation{
					{Rule: "rule-" + nasty, Message: "message-" + nasty},
					{Rule: "image", Message: `container "c0": image "x<y>" is not allowed`},
				},
				Warnings: []string{"warning-" + nasty}},
			{Namespace: "ns-" + nasty, Kind: "Kind-" + nasty, Name: "wl", Status: "status-" + nasty, Mode: "enforce",
				PodSecurityEnforce: "restricted", Pods: []audit.PodRef{{Name: "a"}, {Name: "b"}, {Name: "c"}}},
		},
		Summary: audit.Summary{
			Scanned: audit.Scanned{Namespaces: 1, Pods: 1, Workloads: 1},
			Objects: 2, Violating: 1, HostProcessPods: 4, Violations: 2,
			ByUser: []audit.UserCount{
				{User: "user-" + nasty, Objects: 1000}, {User: strings.Repeat("u", 31), Objects: 3},
				{User: strings.Repeat("v", 32), Objects: 1}, {User: strings.Repeat("w", 33), Objects: 0},
				{User: long32, Objects: 2}, {User: long32 + "&<>\"'+", Objects: 7},
				{User: strings.Repeat("x<", 30), Objects: 999},
			},
			ByNamespace: []audit.NamespaceCount{
				{Namespace: "ns-" + nasty, Objects: 2, Violating: 1, Violations: 2, Exempt: true},
				{Namespace: "", Objects: 0},
			},
			ByRule: []audit.RuleCount{
				{Rule: "rule-" + nasty, Objects: 1, Violations: 1}, {Rule: "image", Objects: 1, Violations: 1},
			},
		},
	}

	return []struct {
		name string
		res  *audit.Result
	}{
		// No objects: the counts without "bad" cards and the empty paragraph instead of the tables.
		{"empty", &audit.Result{APIVersion: audit.ResultAPIVersion, Kind: audit.ResultKind, GeneratedAt: at,
			Summary: audit.Summary{Scanned: audit.Scanned{Namespaces: 4}}}},
		// An empty namespace audit: the scope names the namespace.
		{"empty-namespace", &audit.Result{APIVersion: audit.ResultAPIVersion, Kind: audit.ResultKind, GeneratedAt: at,
			Namespace: "hp-system", Summary: audit.Summary{Scanned: audit.Scanned{Namespaces: 1, Pods: 1, Workloads: 1}}}},
		{"fixtures", fixtures},
		{"escaping", escaping},
		// Objects but no bars in either chart; exempt, compliant and unknown statuses; no users,
		// images or nodes; the violating card bad without violations, all chart values zero.
		{"no-bars", &audit.Result{APIVersion: audit.ResultAPIVersion, Kind: audit.ResultKind, GeneratedAt: at,
			Objects: []audit.Object{
				{Namespace: "a", Kind: "Pod", Name: "p", Status: "exempt", Mode: "warn", PodSecurityEnforce: "unset",
					Warnings: []string{"spec.securityContext.windowsOptions.hostProcess has no effect"}},
				{Namespace: "b", Kind: "DaemonSet", Name: "d", Status: "compliant", Mode: "enforce", PodSecurityEnforce: "invalid"},
				{Namespace: "c", Kind: "Job", Name: "j", Status: "unknown", Mode: "audit", PodSecurityEnforce: "privileged",
					Pods: []audit.PodRef{{Name: "j-1"}}},
			},
			Summary: audit.Summary{Scanned: audit.Scanned{Namespaces: 1, Pods: 1, Workloads: 2}, Objects: 3, Violating: 1, Exempt: 1, Compliant: 1}}},
		// Violations counted without violating objects, and chart values all zero.
		{"zero-bars", &audit.Result{APIVersion: audit.ResultAPIVersion, Kind: audit.ResultKind, GeneratedAt: at,
			Objects: []audit.Object{{Namespace: "a", Kind: "Pod", Name: "p", Status: "compliant", Mode: "warn", PodSecurityEnforce: "baseline",
				RunAsUserNames: []string{audit.UnsetUser}, Images: []string{"img"}, Nodes: []string{"n"}}},
			Summary: audit.Summary{Objects: 1, Compliant: 1, HostProcessPods: 1, Violations: 3,
				ByUser: []audit.UserCount{{User: audit.UnsetUser}, {User: "x"}},
				ByRule: []audit.RuleCount{{Rule: "image"}},
			}}},
	}
}

func TestHTMLMatchesGoldenFiles(t *testing.T) {
	update := os.Getenv("UPDATE_AUDIT_GOLDEN") == "true"
	for _, tc := range htmlCases() {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := audit.Write(&buf, tc.res, audit.FormatHTML); err != nil {
				t.Fatalf("Write html: %v", err)
			}
			file := filepath.Join("testdata", "html", tc.name+".html")
			if update {
				if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (UPDATE_AUDIT_GOLDEN=true writes it)", err)
			}
			if !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("%s differs (-want +got):\n%s", file, cmp.Diff(string(want), buf.String()))
			}
		})
	}
}

// A failing writer's error comes back from Write.
func TestHTMLReturnsWriteErrors(t *testing.T) {
	for _, tc := range htmlCases() {
		if err := audit.Write(failingWriter{}, tc.res, audit.FormatHTML); err == nil {
			t.Errorf("%s: Write to a failing writer returned nil", tc.name)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }
