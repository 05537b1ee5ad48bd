//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Release is a Helm release of the chart in the cluster.
type Release struct {
	Cluster   *Cluster
	Name      string
	Namespace string
	// Chart is the chart's path (relative to the repository root, or absolute).
	Chart string
	// Objects are the objects of the release's manifest (helm get manifest),
	// as of the last install or upgrade.
	Objects []*unstructured.Unstructured
}

// HelmInstall runs helm install NAME CHART -n NAMESPACE --create-namespace
// with extra args (e.g. --set, -f) and reads the release's manifest. It does
// not wait for anything: there is no kubelet to run the webhook's pods.
func (c *Cluster) HelmInstall(ctx context.Context, chart, name, namespace string, args ...string) (*Release, Result) {
	r := &Release{Cluster: c, Name: name, Namespace: namespace, Chart: chart}
	res := c.Helm(ctx, append([]string{"install", name, chart, "--namespace", namespace, "--create-namespace"}, args...)...)
	if res.Failed() {
		return r, res
	}
	if err := r.ReadManifest(ctx); err != nil {
		res.Err = err
	}
	return r, res
}

// Upgrade runs helm upgrade with --reuse-values and extra args (e.g. --set
// config.mode=warn), and reads the manifest again.
func (r *Release) Upgrade(ctx context.Context, args ...string) Result {
	res := r.Cluster.Helm(ctx, append([]string{"upgrade", r.Name, r.Chart, "--namespace", r.Namespace, "--reuse-values"}, args...)...)
	if res.Failed() {
		return res
	}
	if err := r.ReadManifest(ctx); err != nil {
		res.Err = err
	}
	return res
}

// Uninstall runs helm uninstall.
func (r *Release) Uninstall(ctx context.Context) Result {
	return r.Cluster.Helm(ctx, "uninstall", r.Name, "--namespace", r.Namespace)
}

// ReadManifest reads the objects of helm get manifest into Objects.
func (r *Release) ReadManifest(ctx context.Context) error {
	res := r.Cluster.Helm(ctx, "get", "manifest", r.Name, "--namespace", r.Namespace)
	if res.Failed() {
		return fmt.Errorf("%s", res)
	}
	objs, err := DecodeObjects(res.Stdout)
	if err != nil {
		return fmt.Errorf("helm get manifest %s: %w", r.Name, err)
	}
	r.Objects = objs
	return nil
}

// DecodeObjects decodes a multi-document YAML (or JSON) stream, skipping
// empty documents.
func DecodeObjects(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find converts the only object of kind (and name, when not empty) into out.
func (r *Release) find(kind, name string, out any) error {
	var found []*unstructured.Unstructured
	for _, o := range r.Objects {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("release %s renders %d %s objects named %q, want 1", r.Name, len(found), kind, name)
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(found[0].Object, out)
}

// Deployment returns the release's Deployment (the webhook).
func (r *Release) Deployment() (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	return d, r.find("Deployment", "", d)
}

// ValidatingWebhookConfiguration returns the release's only
// ValidatingWebhookConfiguration.
func (r *Release) ValidatingWebhookConfiguration() (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	return v, r.find("ValidatingWebhookConfiguration", "", v)
}

// MutatingWebhookConfiguration returns the release's only
// MutatingWebhookConfiguration.
func (r *Release) MutatingWebhookConfiguration() (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	return m, r.find("MutatingWebhookConfiguration", "", m)
}

// WebhookService returns the Service that the release's validating webhooks
// call (clientConfig.service); all of them must name the same one.
func (r *Release) WebhookService() (*corev1.Service, error) {
	v, err := r.ValidatingWebhookConfiguration()
	if err != nil {
		return nil, err
	}
	var ref *admissionregistrationv1.ServiceReference
	for _, w := range v.Webhooks {
		s := w.ClientConfig.Service
		if s == nil {
			return nil, fmt.Errorf("webhook %s has no service reference", w.Name)
		}
		if ref != nil && (ref.Name != s.Name || ref.Namespace != s.Namespace) {
			return nil, fmt.Errorf("webhooks call different Services: %s/%s and %s/%s", ref.Namespace, ref.Name, s.Namespace, s.Name)
		}
		ref = s
	}
	if ref == nil {
		return nil, fmt.Errorf("ValidatingWebhookConfiguration %s has no webhooks", v.Name)
	}
	svc := &corev1.Service{}
	if err := r.find("Service", ref.Name, svc); err != nil {
		return nil, err
	}
	if svc.Namespace != "" && svc.Namespace != ref.Namespace {
		return nil, fmt.Errorf("Service %s is in namespace %s, the webhooks call it in %s", svc.Name, svc.Namespace, ref.Namespace)
	}
	svc.Namespace = ref.Namespace
	return svc, nil
}

// ChartValues returns the chart's default values (helm show values), e.g. to
// see whether an optional section ("executor") is in this version of the
// chart.
func (c *Cluster) ChartValues(ctx context.Context, chart string) (map[string]any, error) {
	res := c.Helm(ctx, "show", "values", chart)
	if res.Failed() {
		return nil, fmt.Errorf("%s", res)
	}
	objs, err := DecodeObjects(res.Stdout)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return map[string]any{}, nil
	}
	return objs[0].Object, nil
}
