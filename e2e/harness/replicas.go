//go:build linux

package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// ReplicaPortShift is how far PrepareReplica(i) moves every container port
// of replica i: the webhook listens on all addresses, and the network has
// one, so replicas differ by port.
const ReplicaPortShift = 10

// PrepareReplica prepares replica number index (1, 2, ...) of the release's
// webhook next to the one PrepareWebhook prepared: the same container with
// every container port moved up by index*ReplicaPortShift (in the ports and
// in the args that name them: --port, --metrics-bind-address,
// --health-probe-bind-address), its own directory, volumes, token and log,
// and an EndpointSlice of its own for the same Service, whose port names the
// moved ports. The API server then picks one ready endpoint among all the
// Service's slices for every call, as it does among a Deployment's pods.
func (r *Release) PrepareReplica(ctx context.Context, index int) (*Webhook, error) {
	if index < 1 {
		return nil, fmt.Errorf("replica index %d: want 1 or more (0 is PrepareWebhook's)", index)
	}
	return r.prepareWebhook(ctx, "replica-"+strconv.Itoa(index), int32(index*ReplicaPortShift))
}

// shiftPorts returns the container with every port moved up by shift, and
// its args with each --flag=PORT or --flag=HOST:PORT value that names one of
// those ports moved the same way.
func shiftPorts(c corev1.Container, shift int32) (corev1.Container, []string) {
	moved := map[string]string{}
	c.Ports = slices.Clone(c.Ports)
	for i := range c.Ports {
		old := c.Ports[i].ContainerPort
		c.Ports[i].ContainerPort = old + shift
		moved[strconv.Itoa(int(old))] = strconv.Itoa(int(old + shift))
	}
	args := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		if name, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "--") {
			host, port, err := net.SplitHostPort(value)
			switch {
			case err == nil && moved[port] != "":
				a = name + "=" + net.JoinHostPort(host, moved[port])
			case err != nil && moved[value] != "":
				a = name + "=" + moved[value]
			}
		}
		args = append(args, a)
	}
	return c, args
}

// SetEndpoint sets the conditions of the webhook's endpoint in its
// EndpointSlice, as the EndpointSlice controller does from the pod's
// readiness and deletion. The API server only calls ready endpoints.
func (w *Webhook) SetEndpoint(ctx context.Context, ready, serving, terminating bool) error {
	svc, err := w.Release.WebhookService()
	if err != nil {
		return err
	}
	slices := w.Release.Cluster.Clientset.DiscoveryV1().EndpointSlices(svc.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := slices.Get(ctx, w.EndpointSlice, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Endpoints) != 1 {
			return fmt.Errorf("EndpointSlice %s has %d endpoints, want 1", s.Name, len(s.Endpoints))
		}
		s.Endpoints[0].Conditions.Ready = ptr.To(ready)
		s.Endpoints[0].Conditions.Serving = ptr.To(serving)
		s.Endpoints[0].Conditions.Terminating = ptr.To(terminating)
		_, err = slices.Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
}

// PublishEndpoint writes the webhook's EndpointSlice again, with a ready
// endpoint, as the EndpointSlice controller does for a new pod that became
// ready (after RemoveEndpoint).
func (w *Webhook) PublishEndpoint(ctx context.Context) error {
	_, err := w.Release.pointService(ctx, w.Container, w.EndpointSlice)
	return err
}

// RemoveEndpoint deletes the webhook's EndpointSlice, as the EndpointSlice
// controller drops the endpoint of a pod that is gone.
func (w *Webhook) RemoveEndpoint(ctx context.Context) error {
	svc, err := w.Release.WebhookService()
	if err != nil {
		return err
	}
	err = w.Release.Cluster.Clientset.DiscoveryV1().EndpointSlices(svc.Namespace).Delete(ctx, w.EndpointSlice, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Terminate does what Kubernetes does when the webhook's pod is deleted, at
// the same moment: the EndpointSlice controller marks the endpoint
// terminating and not ready (still serving), and the kubelet sends the
// container SIGTERM. It returns once both are done, without waiting for the
// process to exit (Process.Exited).
func (w *Webhook) Terminate(ctx context.Context) error {
	if w.Process == nil || !w.Process.Running() {
		return errors.New("webhook is not running")
	}
	var (
		wg       sync.WaitGroup
		sliceErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sliceErr = w.SetEndpoint(ctx, false, true, true)
	}()
	sigErr := w.Process.Signal(syscall.SIGTERM)
	wg.Wait()
	return errors.Join(sliceErr, sigErr)
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// MetricsURL is the webhook's Prometheus endpoint at the network's address
// (the container port named "metrics"), or "" when it has none.
func (w *Webhook) MetricsURL() string {
	for _, p := range w.Container.Ports {
		if p.Name == "metrics" {
			return fmt.Sprintf("http://%s/metrics", net.JoinHostPort(w.Release.Cluster.Network.Address, strconv.Itoa(int(p.ContainerPort))))
		}
	}
	return ""
}

// ReviewsAnswered returns the sum of the webhook's
// hostprocess_admission_requests_total counter over every label set: how
// many admission reviews this process answered.
func (w *Webhook) ReviewsAnswered(ctx context.Context) (float64, error) {
	url := w.MetricsURL()
	if url == "" {
		return 0, errors.New("the webhook container has no metrics port")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "hostprocess_admission_requests_total{") && !strings.HasPrefix(line, "hostprocess_admission_requests_total ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", url, line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
