package webhook

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CachedNamespaces reads namespace labels from the manager's cache of
// namespace metadata. A namespace the cache does not know yet (created a
// moment ago) is read once from the API server.
type CachedNamespaces struct {
	Cache client.Reader
	Live  client.Reader
	// Timeout bounds one lookup; the review fails closed when it expires.
	Timeout time.Duration
}

// NamespaceMetadata returns an empty metadata-only Namespace object, the
// form the cache holds.
func NamespaceMetadata() *metav1.PartialObjectMetadata {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return obj
}

// NamespaceLabels returns the labels of namespace name.
func (c CachedNamespaces) NamespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	obj := NamespaceMetadata()
	err := c.Cache.Get(ctx, client.ObjectKey{Name: name}, obj)
	if apierrors.IsNotFound(err) && c.Live != nil {
		obj = NamespaceMetadata()
		err = c.Live.Get(ctx, client.ObjectKey{Name: name}, obj)
	}
	if err != nil {
		return nil, err
	}
	return obj.Labels, nil
}
