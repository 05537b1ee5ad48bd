// Package kubeclient builds the typed clients of the few API groups the
// commands use (core, apps, batch, events), sharing one HTTP client as
// kubernetes.NewForConfig does for all groups. kubernetes.NewForConfig would
// link every group's typed client, apply configurations and the discovery
// client's OpenAPI models into the one binary: about 8 MB more, and more of
// serve's idle memory (docs/performance.md).
package kubeclient

import (
	"net/http"

	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	batchv1client "k8s.io/client-go/kubernetes/typed/batch/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
)

// Clients has the methods of kubernetes.Interface for its four groups, so
// that it satisfies the same narrow interfaces a Clientset does.
type Clients struct {
	core   *corev1client.CoreV1Client
	apps   *appsv1client.AppsV1Client
	batch  *batchv1client.BatchV1Client
	events *eventsv1client.EventsV1Client
}

func (c *Clients) CoreV1() corev1client.CoreV1Interface       { return c.core }
func (c *Clients) AppsV1() appsv1client.AppsV1Interface       { return c.apps }
func (c *Clients) BatchV1() batchv1client.BatchV1Interface    { return c.batch }
func (c *Clients) EventsV1() eventsv1client.EventsV1Interface { return c.events }

// ForConfig builds the clients for cfg with an HTTP client of their own.
func ForConfig(cfg *rest.Config) (*Clients, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return New(cfg, hc)
}

// New builds the clients for cfg over hc.
func New(cfg *rest.Config, hc *http.Client) (*Clients, error) {
	var c Clients
	var err error
	if c.core, err = corev1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, err
	}
	if c.apps, err = appsv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, err
	}
	if c.batch, err = batchv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, err
	}
	if c.events, err = eventsv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, err
	}
	return &c, nil
}
