package executor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// sandbox writes a HostProcess container's ServiceAccount files under a new
// $CONTAINER_SANDBOX_MOUNT_POINT and returns the token directory.
func sandbox(t *testing.T, files map[string]string) string {
	t.Helper()
	root := tempDir(t)
	dir := filepath.Join(root, filepath.FromSlash(ServiceAccountDir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(SandboxMountPointEnv, root)
	return dir
}

func TestInClusterConfigReadsTheHostProcessSandbox(t *testing.T) {
	dir := sandbox(t, map[string]string{"token": "abc\n", "ca.crt": "pem", "namespace": "hostprocess-system\n"})
	t.Setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	cfg, ns, err := InClusterConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := rest.Config{Host: "https://[fd00::1]:443", BearerToken: "abc", BearerTokenFile: filepath.Join(dir, "token"),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(dir, "ca.crt")}}
	if cfg.Host != want.Host || cfg.BearerToken != want.BearerToken || cfg.BearerTokenFile != want.BearerTokenFile ||
		cfg.TLSClientConfig.CAFile != want.TLSClientConfig.CAFile || ns != "hostprocess-system" {
		t.Errorf("config = host %q token %q file %q ca %q namespace %q\nwant host %q token %q file %q ca %q namespace hostprocess-system",
			cfg.Host, cfg.BearerToken, cfg.BearerTokenFile, cfg.CAFile, ns, want.Host, want.BearerToken, want.BearerTokenFile, want.CAFile)
	}
}

func TestInClusterConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		host    string
		wantErr string
	}{
		{"needs the service address", map[string]string{"token": "abc", "ca.crt": "pem", "namespace": "ns"}, "",
			"unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"},
		{"needs the namespace", map[string]string{"token": "abc", "ca.crt": "pem", "namespace": " "}, "10.0.0.1",
			"the pod's namespace file DIR/namespace is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := sandbox(t, tc.files)
			t.Setenv("KUBERNETES_SERVICE_HOST", tc.host)
			t.Setenv("KUBERNETES_SERVICE_PORT", "443")
			_, _, err := InClusterConfig()
			want := strings.Replace(tc.wantErr, "DIR/namespace", filepath.Join(dir, "namespace"), 1)
			if err == nil || err.Error() != want {
				t.Errorf("error = %v\nwant %s", err, want)
			}
		})
	}
}

func TestInClusterConfigWithoutASandboxTokenUsesTheStandardPath(t *testing.T) {
	sandbox(t, nil)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, _, err := InClusterConfig(); !errors.Is(err, rest.ErrNotInCluster) {
		t.Errorf("error = %v, want rest.ErrNotInCluster from rest.InClusterConfig", err)
	}
}
