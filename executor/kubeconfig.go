package executor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
)

// ServiceAccountDir is where the kubelet mounts a pod's ServiceAccount token,
// CA bundle and namespace, relative to the container's root.
const ServiceAccountDir = "var/run/secrets/kubernetes.io/serviceaccount"

// SandboxMountPointEnv names the variable that a HostProcess container's
// runtime sets to the host path of the container's volume, under which the
// volumes of the pod are mounted.
const SandboxMountPointEnv = "CONTAINER_SANDBOX_MOUNT_POINT"

// InClusterConfig returns the client configuration of the pod the executor
// runs in and the pod's namespace.
//
// rest.InClusterConfig reads the ServiceAccount token from the fixed path
// /var/run/secrets/kubernetes.io/serviceaccount. A HostProcess container runs
// on the host's filesystem, where the kubelet's mounts are under the
// container volume: $CONTAINER_SANDBOX_MOUNT_POINT/var/run/secrets/... (with
// containerd 1.6; 1.7 and later also bind the volume's paths in place). So
// when $CONTAINER_SANDBOX_MOUNT_POINT is set and holds a token, InClusterConfig
// reads the token, ca.crt and namespace from there and the API server's
// address from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, as
// rest.InClusterConfig does. Otherwise, as on Linux, it uses
// rest.InClusterConfig. The token file is read again as the kubelet rotates
// it.
func InClusterConfig() (*rest.Config, string, error) {
	if root := os.Getenv(SandboxMountPointEnv); root != "" {
		dir := filepath.Join(root, filepath.FromSlash(ServiceAccountDir))
		if _, err := os.Stat(filepath.Join(dir, "token")); err == nil {
			return serviceAccountConfig(dir)
		}
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, "", err
	}
	ns, err := readNamespace(filepath.Join(string(filepath.Separator), filepath.FromSlash(ServiceAccountDir)))
	if err != nil {
		return nil, "", err
	}
	return cfg, ns, nil
}

// serviceAccountConfig is rest.InClusterConfig for the token directory dir.
func serviceAccountConfig(dir string) (*rest.Config, string, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, "", fmt.Errorf("%w: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set", rest.ErrNotInCluster)
	}
	tokenFile := filepath.Join(dir, "token")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, "", fmt.Errorf("reading the ServiceAccount token: %w", err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if _, err := os.Stat(caFile); err != nil {
		return nil, "", fmt.Errorf("reading the cluster CA: %w", err)
	}
	ns, err := readNamespace(dir)
	if err != nil {
		return nil, "", err
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
		BearerToken:     strings.TrimSpace(string(token)),
		BearerTokenFile: tokenFile,
	}, ns, nil
}

// readNamespace reads the namespace file of a token directory.
func readNamespace(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return "", fmt.Errorf("reading the pod's namespace: %w", err)
	}
	ns := strings.TrimSpace(string(data))
	if ns == "" {
		return "", errors.New("the pod's namespace file " + filepath.Join(dir, "namespace") + " is empty")
	}
	return ns, nil
}
