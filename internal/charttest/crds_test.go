//go:build !windows

package charttest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// The chart's OpenReports CRDs are the generated ones, byte for byte
// (hack/generate.sh writes both).
func TestChartShipsTheGeneratedCRDs(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"openreports.io_reports.yaml", "openreports.io_clusterreports.yaml"} {
		generated, err := os.ReadFile(filepath.Join(root, "audit", "crds", name))
		if err != nil {
			t.Fatal(err)
		}
		shipped, err := os.ReadFile(filepath.Join(root, "charts", "hostprocess-admission", "files", "crds", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(generated, shipped) {
			t.Errorf("charts/hostprocess-admission/files/crds/%s differs from audit/crds/%s: run make generate", name, name)
		}
	}
}
