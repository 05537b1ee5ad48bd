//go:build linux

package harness

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// pinnedVersion returns the version of mod required in hack/tools/dir/go.mod.
func pinnedVersion(t *testing.T, dir, mod string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "hack", "tools", dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == mod {
			return fields[1]
		}
	}
	t.Fatalf("%s not required in hack/tools/%s/go.mod", mod, dir)
	return ""
}

// TestNodeBinariesArePinned checks that make tools built what StartNodes
// runs at the pinned versions, and kwok's stages of that version.
func TestNodeBinariesArePinned(t *testing.T) {
	k8s := pinnedVersion(t, "controlplane", "k8s.io/kubernetes")
	kwok := pinnedVersion(t, "kwok", "sigs.k8s.io/kwok")
	for _, tc := range []struct{ bin, want string }{
		{KubeScheduler, "Kubernetes " + k8s + "\n"},
		{KubeControllerManager, "Kubernetes " + k8s + "\n"},
		{Kwok, "kwok version " + kwok + " "},
	} {
		out, err := exec.Command(testenv.RequireBin(t, tc.bin), "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), tc.want) {
			t.Errorf("%s --version = %q, %v; want %q...", tc.bin, out, err, tc.want)
		}
	}
	dir, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	stages, err := os.ReadFile(filepath.Join(dir, KwokStages))
	if err != nil {
		t.Fatalf("%v (run make tools)", err)
	}
	objs, err := DecodeObjects(string(stages))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if o.GetKind() != "Stage" || o.GetAPIVersion() != "kwok.x-k8s.io/v1alpha1" {
			t.Errorf("%s: %s %s, want kwok.x-k8s.io/v1alpha1 Stage", KwokStages, o.GetAPIVersion(), o.GetKind())
		}
		names = append(names, o.GetName())
	}
	want := "node-initialize node-heartbeat-with-lease pod-ready pod-complete pod-delete"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("%s has the stages %q, want %q", KwokStages, got, want)
	}
	if !strings.HasPrefix(string(stages), "# kwok "+kwok+" kustomize/stage/") {
		t.Errorf("%s does not start with its origin, kwok %s: %q", KwokStages, kwok, stages[:min(len(stages), 80)])
	}
}
