//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// Binary is the webhook's binary in bin/, built by make build.
const Binary = "hostprocess-admission"

// EndpointSliceManager is the endpointslice.kubernetes.io/managed-by value of
// the slice the harness writes (the EndpointSlice controller, which would
// manage slices for the Service's selector, does not run here).
const EndpointSliceManager = "e2e.hostprocess.dev"

// TokenLifetime is how long the ServiceAccount token of the webhook is valid.
const TokenLifetime = 24 * time.Hour

// Webhook is the chart's webhook container run as a local process.
type Webhook struct {
	Release *Release
	// Container is the Deployment's webhook container as rendered.
	Container corev1.Container
	// ServiceAccount is the Deployment's service account, whose token the
	// process uses.
	ServiceAccount string
	// Args are the arguments the process runs with: the container's args,
	// with in-pod paths replaced by local directories and --kubeconfig added.
	Args []string
	// Dir holds the volumes, the kubeconfig, the token and the log.
	Dir string
	// LogFile collects the output of every start.
	LogFile string
	// ReadyURL is the container's readiness probe, at the network's address.
	ReadyURL string
	// Port is the container port the Service's webhook port targets: the
	// port the process serves admission reviews on.
	Port int32
	// EndpointSlice is the name of the EndpointSlice (in the Service's
	// namespace) that holds this process's endpoint.
	EndpointSlice string
	// Volumes keeps the ConfigMap and Secret volumes in sync.
	Volumes *VolumeSync
	// Process is the current process (nil before Start).
	Process *Process
	// Starts counts the processes started.
	Starts int
}

// PrepareWebhook sets up everything the release's webhook container needs,
// from the rendered Deployment, and points the webhook Service at the
// network's address; Start then starts it. Nothing of the chart is changed:
//
//   - the container's args, with each volume's mountPath replaced by a local
//     directory: ConfigMap and Secret volumes are kept in sync (VolumeSync),
//     an emptyDir is an empty directory;
//   - --kubeconfig with a TokenRequest token of the Deployment's
//     ServiceAccount and the API server's CA, in place of the in-cluster
//     configuration;
//   - an EndpointSlice labelled kubernetes.io/service-name for the Service
//     that the webhook configurations call, with the network's address and
//     the container ports that the Service's targetPorts name.
//
// PrepareReplica prepares more replicas next to it.
func (r *Release) PrepareWebhook(ctx context.Context) (*Webhook, error) {
	return r.prepareWebhook(ctx, "", 0)
}

// prepareWebhook is PrepareWebhook for the replica named suffix ("" for the
// first one), with every container port shifted by shift (see
// PrepareReplica).
func (r *Release) prepareWebhook(ctx context.Context, suffix string, shift int32) (*Webhook, error) {
	dep, err := r.Deployment()
	if err != nil {
		return nil, err
	}
	spec := dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return nil, fmt.Errorf("Deployment %s has %d containers, the harness runs exactly one", dep.Name, len(spec.Containers))
	}
	c := *spec.Containers[0].DeepCopy()
	args := c.Args
	if shift != 0 {
		c, args = shiftPorts(c, shift)
	}
	if len(c.Command) > 0 {
		return nil, fmt.Errorf("container %s sets command %v; the harness runs bin/%s with the container's args", c.Name, c.Command, Binary)
	}
	if _, err := testenv.Bin(Binary); err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}
	w := &Webhook{Release: r, Container: c, ServiceAccount: spec.ServiceAccountName}
	if w.ServiceAccount == "" {
		w.ServiceAccount = "default"
	}
	w.Dir = filepath.Join(r.Cluster.Dir, "webhook-"+r.Name)
	if suffix != "" {
		w.Dir += "-" + suffix
	}
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return nil, err
	}
	w.LogFile = filepath.Join(w.Dir, "webhook.log")

	// Volumes, and the mount paths to replace in the args.
	w.Volumes = &VolumeSync{Client: r.Cluster.Clientset, Interval: 500 * time.Millisecond}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{} // mountPath -> local dir
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s names no volume", m.Name)
		}
		if m.SubPath != "" || m.SubPathExpr != "" {
			return nil, fmt.Errorf("volumeMount %s uses subPath, which the harness does not support", m.Name)
		}
		dir := filepath.Join(w.Dir, "volumes", v.Name)
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
		case v.ConfigMap != nil, v.Secret != nil:
			if err := w.Volumes.Add(r.Namespace, v, dir); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("volume %s: only emptyDir, configMap and secret volumes are supported", v.Name)
		}
		mounts[m.MountPath] = dir
	}
	for _, a := range args {
		w.Args = append(w.Args, replaceMountPaths(a, mounts))
	}
	for _, a := range w.Args {
		if strings.HasPrefix(a, "--kubeconfig") {
			return nil, fmt.Errorf("container args already set --kubeconfig: %s", a)
		}
	}
	kubeconfig, err := w.writeKubeconfig(ctx)
	if err != nil {
		return nil, err
	}
	w.Args = append(w.Args, "--kubeconfig="+kubeconfig)

	// Readiness, as the kubelet would probe it at the pod's IP.
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
		port, err := containerPort(c, p.HTTPGet.Port)
		if err != nil {
			return nil, fmt.Errorf("readinessProbe: %w", err)
		}
		scheme := strings.ToLower(string(p.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		w.ReadyURL = fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(r.Cluster.Network.Address, strconv.Itoa(int(port))), p.HTTPGet.Path)
	}
	svc, err := r.WebhookService()
	if err != nil {
		return nil, err
	}
	w.EndpointSlice = svc.Name + "-e2e"
	if suffix != "" {
		w.EndpointSlice += "-" + suffix
	}
	if w.Port, err = r.pointService(ctx, c, w.EndpointSlice); err != nil {
		return nil, err
	}
	r.Cluster.webhooks = append(r.Cluster.webhooks, w)
	return w, nil
}

// replaceMountPaths replaces a mount path at the start of an argument or of
// the value of a --flag=value argument.
func replaceMountPaths(arg string, mounts map[string]string) string {
	prefix, value := "", arg
	if strings.HasPrefix(arg, "-") {
		if i := strings.Index(arg, "="); i >= 0 {
			prefix, value = arg[:i+1], arg[i+1:]
		}
	}
	for mp, dir := range mounts {
		mp = strings.TrimSuffix(mp, "/")
		if value == mp || strings.HasPrefix(value, mp+"/") {
			return prefix + dir + strings.TrimPrefix(value, mp)
		}
	}
	return arg
}

func containerPort(c corev1.Container, p intstr.IntOrString) (int32, error) {
	if p.Type == intstr.Int {
		return p.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}

// writeKubeconfig requests a token for the ServiceAccount (TokenRequest) and
// writes it, like a projected service account token, next to a kubeconfig
// that reads it (tokenFile, which client-go re-reads) with the API server's
// CA.
func (w *Webhook) writeKubeconfig(ctx context.Context) (string, error) {
	r := w.Release
	tr, err := r.Cluster.Clientset.CoreV1().ServiceAccounts(r.Namespace).CreateToken(ctx, w.ServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(TokenLifetime.Seconds()))}},
		metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s: %w", r.Namespace, w.ServiceAccount, err)
	}
	return writeTokenKubeconfig(w.Dir, r.Namespace, r.Cluster.Config.Host, r.Cluster.Config.CAData, tr.Status.Token)
}

// pointService writes the EndpointSlice name that points the webhook
// Service at the network's address, with the container ports its targetPorts
// name, and returns the container port of the Service's webhook port (the
// one the webhook configurations call).
func (r *Release) pointService(ctx context.Context, c corev1.Container, name string) (int32, error) {
	svc, err := r.WebhookService()
	if err != nil {
		return 0, err
	}
	called, err := r.calledPort()
	if err != nil {
		return 0, err
	}
	var webhookPort int32
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   EndpointSliceManager,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{r.Cluster.Network.Address},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		}},
	}
	for _, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		port, err := containerPort(c, target)
		if err != nil {
			return 0, fmt.Errorf("Service %s port %s: %w", svc.Name, sp.Name, err)
		}
		if sp.Port == called {
			webhookPort = port
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(port), Protocol: ptr.To(proto)})
	}
	slices := r.Cluster.Clientset.DiscoveryV1().EndpointSlices(svc.Namespace)
	_, err = slices.Create(ctx, slice, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var old *discoveryv1.EndpointSlice
		if old, err = slices.Get(ctx, slice.Name, metav1.GetOptions{}); err == nil {
			slice.ResourceVersion = old.ResourceVersion
			_, err = slices.Update(ctx, slice, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return 0, fmt.Errorf("EndpointSlice for Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	if webhookPort == 0 {
		return 0, fmt.Errorf("Service %s/%s has no port %d, which the webhook configurations call", svc.Namespace, svc.Name, called)
	}
	return webhookPort, nil
}

// calledPort is the Service port that the validating webhooks call
// (clientConfig.service.port, 443 when unset).
func (r *Release) calledPort() (int32, error) {
	v, err := r.ValidatingWebhookConfiguration()
	if err != nil {
		return 0, err
	}
	port := int32(443)
	for _, wh := range v.Webhooks {
		if s := wh.ClientConfig.Service; s != nil && s.Port != nil {
			port = *s.Port
		}
	}
	return port, nil
}

// DeleteEndpointSlice removes the slice PrepareWebhook wrote (helm uninstall
// does not know it).
func (r *Release) DeleteEndpointSlice(ctx context.Context) error {
	svc, err := r.WebhookService()
	if err != nil {
		return err
	}
	err = r.Cluster.Clientset.DiscoveryV1().EndpointSlices(svc.Namespace).Delete(ctx, svc.Name+"-e2e", metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Start syncs the volumes (the first time) and starts the webhook process;
// it does not wait for readiness (WaitReady).
func (w *Webhook) Start(ctx context.Context) error {
	if w.Process != nil && w.Process.Running() {
		return fmt.Errorf("webhook already running (pid %d)", w.Process.Pid())
	}
	if w.Starts == 0 {
		if err := w.Volumes.Start(ctx); err != nil {
			return err
		}
	}
	bin, err := testenv.Bin(Binary)
	if err != nil {
		return err
	}
	w.Starts++
	fmt.Fprintf(w.Release.Cluster.Log, "starting webhook #%d: %s %s\n", w.Starts, bin, strings.Join(w.Args, " "))
	p, err := StartProcess("webhook", w.LogFile, bin, w.Args, nil)
	if err != nil {
		return err
	}
	w.Process = p
	return nil
}

// WaitReady polls the readiness probe until it answers 200, the process
// exits, or ctx ends.
func (w *Webhook) WaitReady(ctx context.Context) error {
	if w.ReadyURL == "" {
		return errors.New("the webhook container has no httpGet readinessProbe")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.ReadyURL, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", w.ReadyURL, resp.Status)
		}
		last = err
		select {
		case <-w.Process.Exited():
			return fmt.Errorf("webhook exited before it was ready: %v\n%s", w.Process.ExitErr(), w.Process.Logs())
		case <-ctx.Done():
			return fmt.Errorf("webhook not ready: %v (%w)\n%s", last, ctx.Err(), w.Process.Logs())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Kill kills the webhook process (SIGKILL), as a crash would.
func (w *Webhook) Kill() {
	if w.Process != nil {
		w.Process.Kill()
	}
}

// Stop stops the webhook process (SIGTERM, then SIGKILL after grace) and the
// volume sync.
func (w *Webhook) Stop(grace time.Duration) {
	if w.Process != nil {
		w.Process.Stop(grace)
	}
	w.Volumes.Stop()
}

// Logs returns the output of every start so far.
func (w *Webhook) Logs() string {
	b, err := os.ReadFile(w.LogFile)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// RefreshToken requests a new ServiceAccount token every interval and
// rewrites the token file, which client-go re-reads, as the kubelet renews a
// projected token, until ctx ends. Only long-running users (the demo) need
// it: a token is valid for TokenLifetime.
func (w *Webhook) RefreshToken(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := w.writeKubeconfig(ctx); err != nil {
				fmt.Fprintf(w.Release.Cluster.Log, "renewing the webhook's token: %v\n", err)
			}
		}
	}
}

// WaitCABundle waits until every webhook of the release's configurations
// has the CA of the certificate Secret named secretName as its caBundle.
func (r *Release) WaitCABundle(ctx context.Context, secretName string) error {
	var last error
	for {
		last = r.checkCABundle(ctx, secretName)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("caBundle not injected: %v (%w)", last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r *Release) checkCABundle(ctx context.Context, secretName string) error {
	c := r.Cluster.Clientset
	s, err := c.CoreV1().Secrets(r.Namespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ca := string(s.Data["ca.crt"])
	if ca == "" {
		return fmt.Errorf("Secret %s has no ca.crt", secretName)
	}
	v, err := r.ValidatingWebhookConfiguration()
	if err != nil {
		return err
	}
	m, err := r.MutatingWebhookConfiguration()
	if err != nil {
		return err
	}
	live, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, v.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, wh := range live.Webhooks {
		if string(wh.ClientConfig.CABundle) != ca {
			return fmt.Errorf("webhook %s: caBundle is not the CA of Secret %s", wh.Name, secretName)
		}
	}
	liveM, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, m.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, wh := range liveM.Webhooks {
		if string(wh.ClientConfig.CABundle) != ca {
			return fmt.Errorf("webhook %s: caBundle is not the CA of Secret %s", wh.Name, secretName)
		}
	}
	return nil
}

// writeTokenKubeconfig writes token to DIR/serviceaccount/token and a
// kubeconfig, DIR/kubeconfig, that reads it as a pod's projected token is
// read: the server and CA of the cluster, the namespace as its default.
func writeTokenKubeconfig(dir, namespace, server string, caData []byte, token string) (string, error) {
	tokenFile := filepath.Join(dir, "serviceaccount", "token")
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return "", err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	kc.AuthInfos["serviceaccount"] = &clientcmdapi.AuthInfo{TokenFile: tokenFile}
	kc.Contexts["serviceaccount"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "serviceaccount", Namespace: namespace}
	kc.CurrentContext = "serviceaccount"
	path := filepath.Join(dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*kc, path)
}
