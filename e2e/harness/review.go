//go:build linux

package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/ptr"
)

// Reviewer sends admission.k8s.io/v1 AdmissionReviews straight to one
// webhook process over HTTPS, as the API server does: it verifies the
// serving certificate against the caBundle of the release's live
// ValidatingWebhookConfiguration, for the name the API server uses
// (<service>.<namespace>.svc). Every request opens a new TLS connection, so
// each one sees the certificate the process serves at that moment.
type Reviewer struct {
	// Address is host:port of the process.
	Address string
	// ServerName is the TLS server name, <service>.<namespace>.svc.
	ServerName string
	// Roots holds the caBundle.
	Roots *x509.CertPool
	// Username is the requesting user the reviews name.
	Username string

	client *http.Client
}

// Reviewer returns a Reviewer for the webhook process, with the caBundle the
// API server has now.
func (w *Webhook) Reviewer(ctx context.Context) (*Reviewer, error) {
	r := w.Release
	svc, err := r.WebhookService()
	if err != nil {
		return nil, err
	}
	v, err := r.ValidatingWebhookConfiguration()
	if err != nil {
		return nil, err
	}
	live, err := r.Cluster.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, v.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if len(live.Webhooks) == 0 || len(live.Webhooks[0].ClientConfig.CABundle) == 0 {
		return nil, fmt.Errorf("ValidatingWebhookConfiguration %s has no caBundle yet", v.Name)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(live.Webhooks[0].ClientConfig.CABundle) {
		return nil, fmt.Errorf("ValidatingWebhookConfiguration %s: caBundle holds no PEM certificate", v.Name)
	}
	rv := &Reviewer{
		Address:    net.JoinHostPort(r.Cluster.Network.Address, strconv.Itoa(int(w.Port))),
		ServerName: svc.Name + "." + svc.Namespace + ".svc",
		Roots:      roots,
		Username:   "e2e-direct-reviewer",
	}
	rv.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   rv.tlsConfig(),
			DisableKeepAlives: true,
			ForceAttemptHTTP2: false,
		},
	}
	return rv, nil
}

func (rv *Reviewer) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: rv.Roots, ServerName: rv.ServerName, MinVersion: tls.VersionTLS12}
}

// PodCreate is the AdmissionRequest the API server sends for a server-side
// dry-run create of pod by user.
func PodCreate(pod *corev1.Pod, user string) (*admissionv1.AdmissionRequest, error) {
	p := pod.DeepCopy()
	p.APIVersion, p.Kind = "v1", "Pod"
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(&metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return nil, err
	}
	gvk := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvr := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	return &admissionv1.AdmissionRequest{
		UID:             uuid.NewUUID(),
		Kind:            gvk,
		Resource:        gvr,
		RequestKind:     &gvk,
		RequestResource: &gvr,
		Name:            p.Name,
		Namespace:       p.Namespace,
		Operation:       admissionv1.Create,
		UserInfo:        authenticationUser(user),
		Object:          runtime.RawExtension{Raw: raw},
		DryRun:          ptr.To(true),
		Options:         runtime.RawExtension{Raw: opts},
	}, nil
}

func authenticationUser(name string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: name, Groups: []string{"system:authenticated"}}
}

// Review posts req to path (/validate or /mutate) and returns the response,
// after checking that it is an AdmissionReview answering req (same uid).
func (rv *Reviewer) Review(ctx context.Context, path string, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	body, err := json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request:  req,
	})
	if err != nil {
		return nil, err
	}
	url := "https://" + rv.Address + path + "?timeout=10s"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := rv.client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("POST %s: reading the response: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s: %s", url, resp.Status, b)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("POST %s: %w: %s", url, err, b)
	}
	if out.APIVersion != admissionv1.SchemeGroupVersion.String() || out.Kind != "AdmissionReview" || out.Response == nil {
		return nil, fmt.Errorf("POST %s: not an admission.k8s.io/v1 AdmissionReview response: %s", url, b)
	}
	if out.Response.UID != req.UID {
		return nil, fmt.Errorf("POST %s: response uid %q, request uid %q", url, out.Response.UID, req.UID)
	}
	return out.Response, nil
}

// ServingCertificate connects to the process and returns the leaf
// certificate it serves, verified against the Reviewer's roots for
// ServerName.
func (rv *Reviewer) ServingCertificate(ctx context.Context) (*x509.Certificate, error) {
	d := &tls.Dialer{Config: rv.tlsConfig()}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", rv.Address)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.New("not a TLS connection")
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("the server sent no certificate")
	}
	return certs[0], nil
}
