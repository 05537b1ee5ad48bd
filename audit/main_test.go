//go:build !windows

package audit_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// The control plane with the fixtures is shared by the tests that only read it; it starts on
// first use, so that unit tests run without it.
var (
	sharedOnce     sync.Once
	sharedEnv      *testenv.Env
	sharedFixtures *audittest.Fixtures
	sharedErr      error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEnv != nil {
		if err := sharedEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping control plane:", err)
		}
	}
	os.Exit(code)
}

// fixtureCluster returns the shared control plane holding the fixtures.
func fixtureCluster(t *testing.T) (*testenv.Env, *audittest.Fixtures) {
	t.Helper()
	sharedOnce.Do(func() {
		sharedEnv, sharedErr = testenv.New()
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedFixtures, sharedErr = audittest.Create(ctx, sharedEnv.Client)
	})
	if sharedErr != nil {
		t.Fatalf("fixture cluster: %v", sharedErr)
	}
	return sharedEnv, sharedFixtures
}

// clientset returns the audit's protobuf clients for env, as the audit command builds them.
func clientset(t *testing.T, env *testenv.Env) audit.Clients {
	t.Helper()
	cs, err := audit.NewClients(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// A clientset serves as the audit's Clients.
var _ audit.Clients = kubernetes.Interface(nil)
