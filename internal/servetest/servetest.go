//go:build !windows

// Package servetest runs the real `hostprocess-admission serve` binary in
// integration tests: it builds the binary once per test process, starts it
// against a test API server's webhook certificates and port, waits until it is
// ready, and stops it when the test ends, printing its logs if the test failed.
package servetest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the hostprocess-admission binary built from the work tree,
// building it on the first call of the test process. Main removes it.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "hostprocess-admission-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hostprocess-admission")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Main runs the package's tests and removes the binary Binary built. Call it
// from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// Options says how to start serve.
type Options struct {
	// Kubeconfig of the API server serve reads namespaces from.
	Kubeconfig string
	// CertDir and Port are where the API server expects the webhook
	// (envtest's LocalServingCertDir and LocalServingPort).
	CertDir string
	Port    int
	// Config is the AdmissionConfiguration, written to Process.ConfigPath.
	Config []byte
	// Args are added after the default flags and override them.
	Args []string
	// ReadyTimeout bounds the wait for /readyz; default 60s.
	ReadyTimeout time.Duration
}

// Process is a running serve.
type Process struct {
	Cmd        *exec.Cmd
	ConfigPath string
	ProbeAddr  string
	MetricsURL string
	logs       Logs
}

// Logs returns what serve has written so far.
func (p *Process) Logs() string { return p.logs.String() }

// Start runs serve with o and waits until it is ready. The configuration is
// re-read every 200ms, so WriteFile on ConfigPath changes it.
func Start(t testing.TB, o Options) *Process {
	t.Helper()
	p := &Process{ConfigPath: filepath.Join(t.TempDir(), "config.yaml"), ProbeAddr: FreeAddr(t)}
	metricsAddr := FreeAddr(t)
	p.MetricsURL = "http://" + metricsAddr + "/metrics"
	WriteFile(t, p.ConfigPath, o.Config)
	p.Cmd = exec.Command(Binary(t), "serve",
		"--config", p.ConfigPath,
		"--kubeconfig", o.Kubeconfig,
		"--cert-dir", o.CertDir,
		"--port", strconv.Itoa(o.Port),
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", p.ProbeAddr,
		"--config-reload-interval", "200ms",
	)
	p.Cmd.Args = append(p.Cmd.Args, o.Args...)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.logs, &p.logs
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Cmd.Process.Signal(os.Interrupt)
		_ = p.Cmd.Wait()
		if t.Failed() {
			out := p.Logs()
			if len(out) > 8000 {
				out = "..." + out[len(out)-8000:]
			}
			t.Logf("serve logs:\n%s", out)
		}
	})
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	Eventually(t, timeout, "serve to become ready", func() error {
		resp, err := http.Get("http://" + p.ProbeAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return p
}

// Logs collects a process's output; it is safe for concurrent use.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FreeAddr returns a loopback address with a port free at the time of the call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WriteFile replaces path with data atomically, so that a reader (serve's
// configuration reload) never sees half a file.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Eventually calls f until it returns nil, failing the test after timeout with
// f's last error.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
