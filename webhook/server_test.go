package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs a Server with the validating handler on a loopback port
// until the test ends. extra registers more paths before start.
func startServer(t *testing.T, o ServerOptions, extra map[string]http.Handler) (addr string, certDir string, stop func()) {
	t.Helper()
	certDir = t.TempDir()
	writeServingCert(t, certDir, "first")
	o.Host, o.Port, o.CertDir, o.Log = "127.0.0.1", freePort(t), certDir, logr.Discard()
	s := NewServer(o)
	s.Register(ValidatePath, newHandler(t, nil, nil).Validate())
	for p, h := range extra {
		s.Register(p, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	addr = net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	deadline := time.Now().Add(10 * time.Second)
	for s.StartedChecker()(nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Start returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return addr, certDir, stop
}

func tlsClient(tlsCfg *tls.Config) *http.Client {
	if tlsCfg == nil {
		tlsCfg = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test against a self-signed loopback server
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}}
}

func TestServerRefusesOldTLSAndPlainHTTP(t *testing.T) {
	addr, _, _ := startServer(t, ServerOptions{}, nil)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v}) //nolint:gosec
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("%s handshake error = %v, want a protocol version alert", tls.VersionName(v), err)
		}
	}
	resp, err := http.Post("http://"+addr+ValidatePath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("plain HTTP: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP got %d %q", resp.StatusCode, body)
	}
}

func TestServerHTTP2IsOffUnlessEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		addr, _, _ := startServer(t, ServerOptions{EnableHTTP2: enabled}, nil)
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec
		if err != nil {
			t.Fatal(err)
		}
		got := conn.ConnectionState().NegotiatedProtocol
		conn.Close()
		want := "http/1.1"
		if enabled {
			want = "h2"
		}
		if got != want {
			t.Errorf("EnableHTTP2=%v negotiated %q, want %q", enabled, got, want)
		}
		resp, err := tlsClient(nil).Post("https://"+addr+ValidatePath, "application/json", bytes.NewReader(reviewBody(t, hostProcessPod(), reviewOpts{})))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if wantProto := map[bool]int{false: 1, true: 2}[enabled]; resp.ProtoMajor != wantProto {
			t.Errorf("EnableHTTP2=%v served HTTP/%d", enabled, resp.ProtoMajor)
		}
	}
}

func TestServerKeepsServingAfterBadRequests(t *testing.T) {
	addr, _, _ := startServer(t, ServerOptions{}, nil)
	c := tlsClient(nil)
	for _, body := range []string{"", "{", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, strings.Repeat("x", DefaultMaxBodyBytes+1)} {
		resp, err := c.Post("https://"+addr+ValidatePath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("bad body of %d bytes got HTTP %d, want 4xx", len(body), resp.StatusCode)
		}
	}
	resp, err := c.Post("https://"+addr+ValidatePath, "application/json", bytes.NewReader(reviewBody(t, hostProcessPod(), reviewOpts{})))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("good request after bad ones: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestServerReloadsRotatedCertificate(t *testing.T) {
	addr, certDir, _ := startServer(t, ServerOptions{}, nil)
	served := func() string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	writeServingCert(t, certDir, "second")
	deadline := time.Now().Add(15 * time.Second)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the rotated certificate was not served within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServerCutsOffSlowClients(t *testing.T) {
	addr, _, _ := startServer(t, ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond}, nil)
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Send part of a request line, then nothing.
	if _, err := conn.Write([]byte("POST /validate HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = bufio.NewReader(conn).ReadString('\n')
	if err == nil && time.Since(start) > 4*time.Second {
		t.Fatal("the server kept a slow client's connection open")
	}
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Fatalf("connection closed after %v, want about the 300ms header timeout", elapsed)
	}
}

func TestServerDrainsInFlightReviewsOnShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("done"))
	})
	s := ServerOptions{ShutdownDelay: 300 * time.Millisecond}
	addr, _, stop := startServer(t, s, map[string]http.Handler{"/slow": slow})
	result := make(chan string, 1)
	go func() {
		resp, err := tlsClient(nil).Post("https://"+addr+"/slow", "text/plain", nil)
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(500 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("the server stopped before its in-flight review finished")
	default:
	}
	close(release)
	if got := <-result; got != "done" {
		t.Fatalf("in-flight review got %q, want done", got)
	}
	<-stopped
}
