package audit

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	batchv1client "k8s.io/client-go/kubernetes/typed/batch/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/hostprocess-admission/hostprocess-admission/internal/kubeclient"
)

// Clients are the API groups the audit reads: namespaces and Pods, the apps
// and batch workloads. A kubernetes.Clientset is one; NewClients builds one
// without the other groups (internal/kubeclient).
type Clients interface {
	CoreV1() corev1client.CoreV1Interface
	AppsV1() appsv1client.AppsV1Interface
	BatchV1() batchv1client.BatchV1Interface
}

// NewClients builds the audit's clients for cfg. Built-in kinds are read as
// protobuf, which the API server encodes and the client decodes faster than
// JSON.
func NewClients(cfg *rest.Config) (Clients, error) {
	cfg = protobuf(cfg)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return kubeclient.New(cfg, hc)
}

// newClients is NewClients over an HTTP client that already exists.
func newClients(cfg *rest.Config, hc *http.Client) (Clients, error) {
	return kubeclient.New(protobuf(cfg), hc)
}

func protobuf(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return cfg
}
