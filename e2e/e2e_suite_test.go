//go:build linux

package e2e

import (
	"errors"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hostprocess-admission/hostprocess-admission/e2e/harness"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// TestE2E runs the suite. Outside the network namespace that hack/e2e.sh
// creates (plain go test ./...) it is skipped.
func TestE2E(t *testing.T) {
	if _, err := harness.NetworkFromEnv(); errors.Is(err, harness.ErrNoNetwork) {
		t.Skip(err.Error())
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "hostprocess-admission e2e")
}

var (
	// cluster is the control plane, started once for the suite.
	cluster *harness.Cluster
	// root is the repository root; kubectl and helm run there, so paths
	// such as examples/... and charts/... are relative to it.
	root string
)

var _ = BeforeSuite(func() {
	network, err := harness.NetworkFromEnv()
	Expect(err).NotTo(HaveOccurred())
	root, err = testenv.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	for _, name := range []string{testenv.KubeAPIServer, testenv.Etcd, testenv.Kubectl, testenv.Helm, harness.Binary} {
		_, err := testenv.Bin(name)
		Expect(err).NotTo(HaveOccurred(), "hack/e2e.sh builds bin/ before it enters the network namespace")
	}
	cluster, err = harness.StartCluster(network, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	// Stops the webhook and the control plane, also after a failure or an
	// interrupt; hack/e2e.sh then kills whatever is left in the namespace.
	DeferCleanup(func() {
		Expect(cluster.Stop()).To(Succeed())
	})
})
