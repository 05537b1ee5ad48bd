//go:build !windows

package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ChartWebhooks renders the chart with the real helm (helm template, as
// `helm install hostprocess-admission charts/hostprocess-admission -n
// hostprocess-system` would install it, with the extra helm arguments args)
// and returns its webhook configurations, for WithWebhookInstallOptions: the
// API server then calls the webhook under test with the chart's own rules
// and matchConditions.
func ChartWebhooks(ctx context.Context, args ...string) (envtest.WebhookInstallOptions, error) {
	var o envtest.WebhookInstallOptions
	helm, err := Bin(Helm)
	if err != nil {
		return o, err
	}
	root, err := RepoRoot()
	if err != nil {
		return o, err
	}
	cmd := exec.CommandContext(ctx, helm, append([]string{"template", "hostprocess-admission",
		filepath.Join(root, "charts", "hostprocess-admission"), "-n", "hostprocess-system"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return o, fmt.Errorf("helm template: %w: %s", err, stderr.String())
	}
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var doc struct {
			Kind string `json:"kind"`
		}
		var raw runtime.RawExtension
		if err := d.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return o, fmt.Errorf("helm template output: %w", err)
		}
		if len(raw.Raw) == 0 {
			continue
		}
		if err := utilyaml.Unmarshal(raw.Raw, &doc); err != nil {
			return o, err
		}
		switch doc.Kind {
		case "ValidatingWebhookConfiguration":
			c := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := utilyaml.Unmarshal(raw.Raw, c); err != nil {
				return o, err
			}
			o.ValidatingWebhooks = append(o.ValidatingWebhooks, c)
		case "MutatingWebhookConfiguration":
			c := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := utilyaml.Unmarshal(raw.Raw, c); err != nil {
				return o, err
			}
			o.MutatingWebhooks = append(o.MutatingWebhooks, c)
		}
	}
	if len(o.ValidatingWebhooks) == 0 || len(o.MutatingWebhooks) == 0 {
		return o, errors.New("helm template rendered no webhook configurations")
	}
	return o, nil
}
