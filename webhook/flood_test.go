//go:build linux

package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hostprocess-admission/hostprocess-admission/internal/oversize"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// These tests run the real serve binary (as TestServeAgainstTheAPIServer
// does) and attack its webhook port directly: 50 clients sending oversized
// bodies at once, and a flood of valid reviews against a small
// --max-in-flight. They assert every answer exactly and bound the server's
// peak memory, read from /proc/PID/status (VmHWM, reset through
// /proc/PID/clear_refs before each attack, and VmRSS sampled every 10 ms).
// There are no timing assertions; the timeouts only stop a hung test.

const (
	floodBodyLimit = 1 << 20  // --max-body-bytes of the server under attack
	floodBodySize  = 16 << 20 // what each oversized client sends
	floodClients   = 50       // oversized clients at once
	// The memory bound for one review in flight: io.ReadAll's buffer grows
	// to about 1.25 × the limit and the smaller buffers it outgrew (about
	// one limit more) are garbage until the next collection, so about 2.25 ×
	// the limit is allocated per review; 3 × the limit leaves the garbage
	// collector some headroom, plus 256 KiB for the connection (TLS records,
	// bufio buffers, goroutine). That is the limit plus a slack of 2 × the
	// limit and 256 KiB; the measured growth is about 1.1 × the limit.
	perReviewSlack = 3*floodBodyLimit + 256<<10
	// perConnSlack is the bound for one open connection whose review waits
	// for a slot.
	perConnSlack = 256 << 10
	floodTimeout = 3 * time.Minute
)

func TestHostileClientsAgainstServe(t *testing.T) {
	env := testenv.Start(t, testenv.WithWebhookInstallOptions(webhookConfigurations()))
	ctx := context.Background()
	// hp-system is allowed by the test configuration's namespace rules; the
	// namespace must exist for the label lookup of its selector rule.
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hp-system"}}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(env.Environment.WebhookInstallOptions.LocalServingCAData) {
		t.Fatal("no CA in the envtest webhook install options")
	}
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}

	t.Run("50 concurrent oversized bodies are each denied with 413 and memory stays bounded", func(t *testing.T) {
		port := freePortNumber(t)
		serve := startServe(t, env, "--port", strconv.Itoa(port),
			"--max-body-bytes", strconv.Itoa(floodBodyLimit), "--max-in-flight", "64")
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c := floodClient(tlsCfg, 4)
		checkVerdicts(t, c, addr, "warmup")
		pid := serve.cmd.Process.Pid
		mem := watchMemory(t, pid)

		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]oversizedResult, floodClients)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				path := []string{"/validate", "/mutate"}[i%2]
				results[i] = sendOversized(addr, tlsCfg, path, fmt.Sprintf("oversized-%d", i), i%4 >= 2)
			}()
		}
		close(start)
		waitGroup(t, &wg, "the oversized clients")
		baseline, peak := mem.stop()

		var written int64
		for i, r := range results {
			written += r.written
			if r.err != nil {
				t.Errorf("client %d (%s): %v", i, r.describe(), r.err)
				continue
			}
			if r.code != http.StatusRequestEntityTooLarge || r.resp.Allowed || r.resp.Result == nil ||
				r.resp.Result.Code != http.StatusRequestEntityTooLarge || r.resp.UID != "" ||
				!strings.Contains(r.resp.Result.Message, fmt.Sprintf("request body exceeds %d bytes", floodBodyLimit)) {
				t.Errorf("client %d (%s): HTTP %d, response %+v; want 413 and a denial with code 413", i, r.describe(), r.code, r.resp)
			}
		}
		checkVerdicts(t, c, addr, "after")
		bound := baseline + floodClients*perReviewSlack
		t.Logf("%d clients sent %d MiB each (limit %d MiB), %.1f MiB written in all before the server closed; "+
			"serve RSS before %.1f MiB, peak %.1f MiB, bound %.1f MiB (%d × 16 MiB = %d MiB)",
			floodClients, floodBodySize>>20, floodBodyLimit>>20, mibOf(uint64(written)), mibOf(baseline), mibOf(peak), mibOf(bound),
			floodClients, floodClients*floodBodySize>>20)
		if peak > bound {
			t.Errorf("serve's peak RSS %.1f MiB exceeds the bound %.1f MiB (RSS before + %d × %.2f MiB)",
				mibOf(peak), mibOf(bound), floodClients, mibOf(perReviewSlack))
		}
	})

	t.Run("a flood of valid reviews with --max-in-flight 4 gets every verdict exactly and memory stays bounded", func(t *testing.T) {
		const (
			inFlight = 4
			clients  = 200
			rounds   = 5 // each round is the four reviews of checkVerdicts
		)
		port := freePortNumber(t)
		serve := startServe(t, env, "--port", strconv.Itoa(port),
			"--max-body-bytes", strconv.Itoa(floodBodyLimit), "--max-in-flight", strconv.Itoa(inFlight))
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c := floodClient(tlsCfg, clients)
		checkVerdicts(t, c, addr, "warmup")
		mem := watchMemory(t, serve.cmd.Process.Pid)

		var wg sync.WaitGroup
		var answered atomic.Int64
		start := make(chan struct{})
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for r := range rounds {
					answered.Add(int64(checkVerdicts(t, c, addr, fmt.Sprintf("flood-%d-%d", i, r))))
				}
			}()
		}
		close(start)
		waitGroup(t, &wg, "the flood")
		baseline, peak := mem.stop()
		if want := int64(clients * rounds * 4); answered.Load() != want {
			t.Errorf("%d reviews answered exactly, want %d", answered.Load(), want)
		}
		checkVerdicts(t, c, addr, "after")
		bound := baseline + inFlight*perReviewSlack + clients*perConnSlack
		t.Logf("%d clients × %d reviews through %d slots: %d answered exactly; serve RSS before %.1f MiB, peak %.1f MiB, bound %.1f MiB",
			clients, rounds*4, inFlight, answered.Load(), mibOf(baseline), mibOf(peak), mibOf(bound))
		if peak > bound {
			t.Errorf("serve's peak RSS %.1f MiB exceeds the bound %.1f MiB (RSS before + %d × %.2f MiB + %d connections × %.2f MiB)",
				mibOf(peak), mibOf(bound), inFlight, mibOf(perReviewSlack), clients, mibOf(perConnSlack))
		}
	})
}

func freePortNumber(t *testing.T) int {
	t.Helper()
	_, p, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func mibOf(b uint64) float64 { return float64(b) / (1 << 20) }

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(floodTimeout):
		t.Fatalf("%s did not finish within %s", what, floodTimeout)
	}
}

// floodClient is an HTTP/1.1 keep-alive client with up to conns connections.
// It makes at most floodHandshakes TLS handshakes at once: serve gives a
// handshake 5 s (its ReadHeaderTimeout, the smallest of its timeouts), and
// 200 at once on a loaded 2-core machine took longer, so that serve closed
// connections mid-handshake and the client saw EOF. The floods are about
// reviews in flight, not handshakes.
func floodClient(tlsCfg *tls.Config, conns int) *http.Client {
	handshakes := make(chan struct{}, floodHandshakes)
	dialer := &tls.Dialer{Config: tlsCfg}
	return &http.Client{Timeout: floodTimeout, Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case handshakes <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			defer func() { <-handshakes }()
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}}
}

const floodHandshakes = 8

// floodReview is an admission.k8s.io/v1 AdmissionReview of pod, created in
// namespace hp-system, with the given uid.
func floodReview(t *testing.T, uid string, pod *corev1.Pod) []byte {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Error(err) // not Fatal: called from the flood's goroutines
		return nil
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(uid),
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:      pod.Name,
			Namespace: "hp-system",
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		},
	})
	if err != nil {
		t.Error(err)
	}
	return body
}

// checkVerdicts sends the four reviews whose verdicts the test configuration
// fixes, with uids prefixed by id, and checks each answer exactly. It
// returns how many were answered as expected.
func checkVerdicts(t *testing.T, c *http.Client, addr, id string) int {
	t.Helper()
	plain := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}}
	const nodeSelectorPatch = `[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"windows"}}]`
	ok := 0
	for _, tc := range []struct {
		name, path string
		pod        *corev1.Pod
		message    string // empty: allowed
		patch      string
	}{
		{name: "allowed", path: "/validate", pod: hpPod("agent", `NT AUTHORITY\SYSTEM`)},
		{name: "denied", path: "/validate", pod: hpPod("agent", "Administrator"),
			message: `pods "agent" is forbidden: violates the HostProcess policy: pod: spec.securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: ` + allowedNames + `)`},
		{name: "defaulted", path: "/mutate", pod: hpPod("agent", `NT AUTHORITY\SYSTEM`), patch: nodeSelectorPatch},
		{name: "plain", path: "/mutate", pod: plain},
	} {
		tc.pod.APIVersion, tc.pod.Kind = "v1", "Pod"
		uid := id + "-" + tc.name
		resp, err := c.Post("https://"+addr+tc.path, "application/json", bytes.NewReader(floodReview(t, uid, tc.pod)))
		if err != nil {
			t.Errorf("%s: %v", uid, err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out admissionv1.AdmissionReview
		if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Response == nil {
			t.Errorf("%s: HTTP %d %v %.300s", uid, resp.StatusCode, err, body)
			continue
		}
		r := out.Response
		switch {
		case string(r.UID) != uid:
			t.Errorf("%s: answered with uid %q", uid, r.UID)
		case r.Allowed != (tc.message == ""):
			t.Errorf("%s: allowed %v, result %+v", uid, r.Allowed, r.Result)
		case tc.message != "" && (r.Result == nil || r.Result.Code != http.StatusForbidden || r.Result.Message != tc.message):
			t.Errorf("%s: result %+v, want 403 %q", uid, r.Result, tc.message)
		case string(r.Patch) != tc.patch:
			t.Errorf("%s: patch %s, want %s", uid, r.Patch, tc.patch)
		default:
			ok++
		}
	}
	return ok
}

type oversizedResult struct {
	path    string
	chunked bool
	code    int
	resp    *admissionv1.AdmissionResponse
	written int64
	err     error
}

func (r oversizedResult) describe() string {
	enc := "Content-Length"
	if r.chunked {
		enc = "chunked"
	}
	return r.path + ", " + enc
}

// sendOversized sends an AdmissionReview of floodBodySize bytes, streamed
// so that the client holds none of it (internal/oversize).
func sendOversized(addr string, tlsCfg *tls.Config, path, uid string, chunked bool) oversizedResult {
	res := oversizedResult{path: path, chunked: chunked}
	r, err := oversize.Send(addr, tlsCfg, path, uid, "hp-system", floodBodySize, chunked, floodTimeout)
	res.code, res.written = r.Code, r.Written
	var out admissionv1.AdmissionReview
	switch {
	case err != nil:
		res.err = err
	case json.Unmarshal(r.Body, &out) != nil || out.Response == nil:
		res.err = fmt.Errorf("HTTP %d, not an AdmissionReview: %.300s", r.Code, r.Body)
	default:
		res.resp = out.Response
	}
	return res
}

// memoryWatch records a process's resident memory during an attack.
type memoryWatch struct {
	t        *testing.T
	pid      int
	baseline uint64
	sampled  atomic.Uint64
	hwmReset bool
	stopc    chan struct{}
	done     chan struct{}
}

// watchMemory reads VmRSS as the baseline, resets VmHWM (writing 5 to
// /proc/PID/clear_refs, Linux 4.0 and later) and samples VmRSS every 10 ms
// until stop.
func watchMemory(t *testing.T, pid int) *memoryWatch {
	t.Helper()
	m := &memoryWatch{t: t, pid: pid, stopc: make(chan struct{}), done: make(chan struct{})}
	rss, _ := procMemory(t, pid)
	m.baseline = rss
	m.hwmReset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	if !m.hwmReset {
		t.Logf("VmHWM could not be reset; the peak is the highest VmRSS sampled every 10 ms")
	}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _, err := readProcMemory(pid); err == nil && rss > m.sampled.Load() {
				m.sampled.Store(rss)
			}
			select {
			case <-m.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

// stop returns the baseline and the peak: VmHWM since the reset, or the
// highest sample.
func (m *memoryWatch) stop() (baseline, peak uint64) {
	m.t.Helper()
	close(m.stopc)
	<-m.done
	_, hwm := procMemory(m.t, m.pid)
	peak = m.sampled.Load()
	if m.hwmReset && hwm > peak {
		peak = hwm
	}
	m.t.Logf("memory: VmRSS before %.1f MiB; highest VmRSS sampled %.1f MiB; VmHWM %.1f MiB (reset before: %v)",
		mibOf(m.baseline), mibOf(m.sampled.Load()), mibOf(hwm), m.hwmReset)
	return m.baseline, peak
}

func procMemory(t *testing.T, pid int) (rss, hwm uint64) {
	t.Helper()
	rss, hwm, err := readProcMemory(pid)
	if err != nil {
		t.Fatalf("reading the memory of serve (pid %d): %v", pid, err)
	}
	return rss, hwm
}

// readProcMemory returns VmRSS and VmHWM of pid in bytes.
func readProcMemory(pid int) (rss, hwm uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}
