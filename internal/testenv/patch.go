//go:build !windows

package testenv

import (
	"context"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// MergePatchPod sends body as a JSON merge patch of the pod name, or of its
// subresource sub when sub is not empty, and returns the API server's error.
func MergePatchPod(ctx context.Context, pods corev1client.PodInterface, name, sub string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var subs []string
	if sub != "" {
		subs = []string{sub}
	}
	_, err = pods.Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{}, subs...)
	return err
}
