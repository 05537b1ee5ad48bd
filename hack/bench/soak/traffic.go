//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/internal/oversize"
)

const (
	allowedNamespace = "soak-hp"
	missingNamespace = "soak-missing"
	defaultAllowed   = `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM`
	// slowDeadline bounds how long a slow client waits to be cut off; serve
	// cuts it off after its 5s header (and TLS handshake) timeout.
	slowDeadline = 90 * time.Second
)

// expectation is a valid review and its exact answer under soakConfig.
type expectation struct {
	kind, path string
	body       []byte
	allowed    bool
	message    string // the denial's message (code 403)
	patch      string
}

// traffic sends the soak's requests and records every answer in rep.
type traffic struct {
	addr   string
	tlsCfg *tls.Config
	o      options
	rep    *report
	kinds  []*expectation
	byKind map[string]*expectation
	// validC is vegeta's client, checkC the one of checkEveryKind, hostileC
	// the one of malformed and truncated.
	validC, checkC, hostileC *http.Client
}

func newTraffic(addr string, pool *x509.CertPool, o options, rep *report) *traffic {
	t := &traffic{addr: addr, o: o, rep: rep, byKind: map[string]*expectation{},
		tlsCfg: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.validC, t.checkC, t.hostileC = t.client(), t.client(), t.client()
	plain := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}}
	forbidden := func(msg string) string {
		return `pods "agent" is forbidden: violates the HostProcess policy: ` + msg
	}
	t.kinds = []*expectation{
		{kind: "validate-allowed", path: "/validate", body: review("validate-allowed", allowedNamespace, hostProcessPod(`NT AUTHORITY\SYSTEM`)), allowed: true},
		{kind: "validate-denied", path: "/validate", body: review("validate-denied", allowedNamespace, hostProcessPod("Administrator")),
			message: forbidden(`pod: spec.securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: ` + defaultAllowed + `)`)},
		{kind: "mutate-defaulted", path: "/mutate", body: review("mutate-defaulted", allowedNamespace, hostProcessPod(`NT AUTHORITY\SYSTEM`)), allowed: true,
			patch: `[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}}]`},
		{kind: "mutate-plain", path: "/mutate", body: review("mutate-plain", allowedNamespace, plain), allowed: true},
		{kind: "mutate-denied", path: "/mutate", body: review("mutate-denied", missingNamespace, hostProcessPod(`NT AUTHORITY\SYSTEM`)),
			message: forbidden(`namespace "` + missingNamespace + `" could not be read to apply the HostProcess defaults, so the pod is denied: namespaces "` + missingNamespace + `" not found`)},
	}
	for _, k := range t.kinds {
		t.byKind[k.kind] = k
	}
	return t
}

func (t *traffic) client() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     t.tlsCfg,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}}
}

func (t *traffic) closeIdle() {
	for _, c := range []*http.Client{t.validC, t.checkC, t.hostileC} {
		c.CloseIdleConnections()
	}
}

func hostProcessPod(user string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Labels: map[string]string{"app": "agent"}},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{
				HostProcess: ptr.To(true), RunAsUserName: ptr.To(user)}},
			Containers: []corev1.Container{{Name: "agent", Image: "mcr.microsoft.com/windows/nanoserver:ltsc2022",
				Command: []string{"cmd.exe", "/c", "ping", "-t", "localhost"}}},
		},
	}
}

// review is the AdmissionReview of creating pod in namespace, with uid
// "soak-" + kind.
func review(kind, namespace string, pod *corev1.Pod) []byte {
	raw, err := json.Marshal(pod)
	if err != nil {
		panic(err)
	}
	req := &admissionv1.AdmissionRequest{
		UID:       types.UID("soak-" + kind),
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Name:      pod.Name,
		Namespace: namespace,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
	req.UserInfo.Username = "system:serviceaccount:kube-system:daemon-set-controller"
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		panic(err)
	}
	return body
}

// checkValid returns what is wrong with an answer to a valid review of e, and
// whether it admitted a review that must be denied.
func (e *expectation) checkValid(code int, body []byte) (problem string, admitted bool) {
	if code != http.StatusOK {
		return fmt.Sprintf("HTTP %d: %.200s", code, body), false
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &out); err != nil || out.Response == nil {
		return fmt.Sprintf("not an AdmissionReview: %.200s", body), false
	}
	r := out.Response
	switch {
	case string(r.UID) != "soak-"+e.kind:
		return fmt.Sprintf("uid %q", r.UID), false
	case r.Allowed != e.allowed:
		return fmt.Sprintf("allowed %v, want %v: %.200s", r.Allowed, e.allowed, body), r.Allowed
	case !e.allowed && (r.Result == nil || r.Result.Code != http.StatusForbidden || r.Result.Message != e.message):
		return fmt.Sprintf("result %+v, want 403 %q", r.Result, e.message), false
	case string(r.Patch) != e.patch:
		return fmt.Sprintf("patch %s, want %s", r.Patch, e.patch), false
	}
	return "", false
}

// checkEveryKind sends each valid review once and checks the answer.
func (t *traffic) checkEveryKind(ctx context.Context) error {
	for _, e := range t.kinds {
		code, body, err := post(ctx, t.checkC, "https://"+t.addr+e.path, e.body)
		if err != nil {
			return fmt.Errorf("%s: %w", e.kind, err)
		}
		if problem, _ := e.checkValid(code, body); problem != "" {
			return fmt.Errorf("%s: %s", e.kind, problem)
		}
	}
	return nil
}

func post(ctx context.Context, c *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// valid sends the valid reviews with vegeta at constant rates until ctx is
// done: the kinds that serve answers from memory cycle at -rate, the review
// in a namespace that does not exist (a lookup of the API server each time)
// at -missing-namespace-rate. The kind is in the URL's query, which the
// server ignores, so that each result can be checked.
func (t *traffic) valid(ctx context.Context) {
	var wg sync.WaitGroup
	for _, a := range []struct {
		rate  int
		kinds []*expectation
	}{{t.o.rate, t.kinds[:len(t.kinds)-1]}, {t.o.missingNSRate, t.kinds[len(t.kinds)-1:]}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.attack(ctx, a.rate, a.kinds)
		}()
	}
	wg.Wait()
}

func (t *traffic) attack(ctx context.Context, rate int, kinds []*expectation) {
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	var targets []vegeta.Target
	for _, e := range kinds {
		targets = append(targets, vegeta.Target{Method: http.MethodPost, URL: "https://" + t.addr + e.path + "?kind=" + e.kind, Body: e.body, Header: hdr})
	}
	atk := vegeta.NewAttacker(vegeta.Client(t.validC), vegeta.Workers(8), vegeta.MaxWorkers(512))
	go func() {
		<-ctx.Done()
		atk.Stop()
	}()
	for r := range atk.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: rate, Per: time.Second}, 0, "soak") {
		kind := "valid"
		if i := strings.Index(r.URL, "?kind="); i >= 0 {
			kind = r.URL[i+len("?kind="):]
		}
		e := t.byKind[kind]
		t.rep.latency(kind, r.Latency)
		switch {
		case e == nil:
			t.rep.record("valid", int(r.Code), "a result without a known kind: "+r.URL, false, false)
		case r.Error != "" && r.Code == 0:
			t.rep.record(kind, 0, r.Error, true, false)
		default:
			problem, admitted := e.checkValid(int(r.Code), r.Body)
			t.rep.record(kind, int(r.Code), problem, false, admitted)
		}
	}
}

// hostile starts the hostile clients, each kind at its rate, until ctx is
// done. The returned group is done when every one has finished.
func (t *traffic) hostile(ctx context.Context) *sync.WaitGroup {
	wg := &sync.WaitGroup{}
	loop := func(rate float64, fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					fn(i)
				}()
			}
		}()
	}
	loop(t.o.hostileRate, t.malformed)
	loop(t.o.hostileRate, t.truncated)
	loop(t.o.hostileRate, t.slow)
	loop(t.o.hostileRate, t.closedEarly)
	loop(t.o.oversizedRate, t.oversized)
	return wg
}

// denialProblem returns what is wrong with the answer to a hostile request:
// anything but a denial with one of the wanted status codes.
func denialProblem(code int, body []byte, want ...int) (problem string, admitted bool) {
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &out); err != nil || out.Response == nil {
		return fmt.Sprintf("HTTP %d, not an AdmissionReview: %.200s", code, body), false
	}
	if out.Response.Allowed {
		return fmt.Sprintf("HTTP %d, ADMITTED: %.200s", code, body), true
	}
	for _, w := range want {
		if code == w {
			return "", false
		}
	}
	return fmt.Sprintf("HTTP %d, want %v: %.200s", code, want, body), false
}

var malformedBodies = []struct{ method, body string }{
	{http.MethodPost, ""},
	{http.MethodPost, "{"},
	{http.MethodPost, "not json"},
	{http.MethodPost, "null"},
	{http.MethodPost, "[]"},
	{http.MethodPost, "\xff\xfe{\"apiVersion\":1}"},
	{http.MethodPost, strings.Repeat("[", 100000)},
	{http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`},
	{http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`},
	{http.MethodPost, `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"soak-malformed"}}`},
	{http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"soak-malformed","kind":{"version":"v1","kind":"Pod"},` +
		`"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"containers":"nope"}}}}`},
	{http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"soak-malformed","kind":{"version":"v1","kind":"Pod"},` +
		`"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"hostNetwork":"yes"}}}} trailing`},
	{http.MethodGet, ""},
}

// malformed sends a body that is not a valid AdmissionReview: it must be
// denied with 400 (200 when the uid could be read, so the API server can
// match the denial; 405 for a GET), never admitted, never a 5xx.
func (t *traffic) malformed(i int) {
	m := malformedBodies[i%len(malformedBodies)]
	path := []string{"/validate", "/mutate"}[(i/len(malformedBodies))%2]
	req, _ := http.NewRequest(m.method, "https://"+t.addr+path, strings.NewReader(m.body))
	resp, err := t.hostileC.Do(req)
	if err != nil {
		t.rep.record("malformed", 0, err.Error(), true, false)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.rep.record("malformed", resp.StatusCode, err.Error(), true, false)
		return
	}
	problem, admitted := denialProblem(resp.StatusCode, body, http.StatusBadRequest, http.StatusOK, http.StatusMethodNotAllowed)
	t.rep.record("malformed", resp.StatusCode, problem, false, admitted)
}

// truncated sends an admissible review cut short at a random byte, with a
// Content-Length that matches: it must be denied, never admitted.
func (t *traffic) truncated(i int) {
	e := t.byKind[[]string{"validate-allowed", "mutate-defaulted"}[i%2]]
	cut := 1 + rand.IntN(len(e.body)-1)
	code, body, err := post(context.Background(), t.hostileC, "https://"+t.addr+e.path, e.body[:cut])
	if err != nil {
		t.rep.record("truncated", code, err.Error(), true, false)
		return
	}
	problem, admitted := denialProblem(code, body, http.StatusBadRequest, http.StatusOK)
	t.rep.record("truncated", code, problem, false, admitted)
}

// oversized streams a review 1 MiB over the limit (with a Content-Length or
// chunked) from a fixed chunk and reads the answer while still writing: it
// must be a 413 denial.
func (t *traffic) oversized(i int) {
	path := []string{"/validate", "/mutate"}[i%2]
	r, err := oversize.Send(t.addr, t.tlsCfg, path, "soak-oversized", allowedNamespace, t.o.maxBody+1<<20, i%4 >= 2, 2*time.Minute)
	if err != nil {
		t.rep.record("oversized", r.Code, err.Error(), true, false)
		return
	}
	problem, admitted := denialProblem(r.Code, r.Body, http.StatusRequestEntityTooLarge)
	t.rep.record("oversized", r.Code, problem, false, admitted)
}

// slow stalls mid-header (after part of the request line and headers over
// TLS) or before the TLS handshake (a TCP connection that sends nothing),
// and waits until the server closes the connection.
func (t *traffic) slow(i int) {
	kind := []string{"slow-header", "slow-handshake"}[i%2]
	start := time.Now()
	var conn net.Conn
	var err error
	if kind == "slow-header" {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", t.addr, t.tlsCfg)
		if err == nil {
			_, err = io.WriteString(conn, "POST /validate HTTP/1.1\r\nHost: "+t.addr+"\r\nContent-Type: appl")
		}
	} else {
		conn, err = net.DialTimeout("tcp", t.addr, 10*time.Second)
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		t.rep.record(kind, 0, err.Error(), true, false)
		return
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(slowDeadline))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.rep.record(kind, 0, fmt.Sprintf("%v after %s", errNotCutOff, slowDeadline), false, false)
		return
	}
	t.rep.cutoff(kind, time.Since(start))
	t.rep.record(kind, 0, "", false, false)
}

// closedEarly opens a connection and closes it early: right after the TCP
// connect, after the TLS handshake, after half the body, or after the whole
// request without reading the answer.
func (t *traffic) closedEarly(i int) {
	e := t.byKind["validate-allowed"]
	var err error
	switch i % 4 {
	case 0:
		var c net.Conn
		if c, err = net.DialTimeout("tcp", t.addr, 10*time.Second); err == nil {
			c.Close()
		}
	default:
		var c *tls.Conn
		if c, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", t.addr, t.tlsCfg); err != nil {
			break
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		hdr := "POST /validate HTTP/1.1\r\nHost: " + t.addr + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(e.body)) + "\r\n\r\n"
		switch i % 4 {
		case 2:
			_, err = c.Write(append([]byte(hdr), e.body[:len(e.body)/2]...))
		case 3:
			_, err = c.Write(append([]byte(hdr), e.body...))
		}
		c.Close()
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.rep.record("closed-early", 0, err.Error(), true, false)
		return
	}
	t.rep.record("closed-early", 0, "", false, false)
}
