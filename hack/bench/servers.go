//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/hack/bench/internal/host"
)

// pki is a CA and a serving certificate for 127.0.0.1 signed by it, shared
// by the three servers.
type pki struct {
	caPEM   []byte
	certDir string // tls.crt, tls.key
	pool    *x509.CertPool
}

func newPKI(dir string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hostprocess-admission bench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	p := &pki{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certDir: filepath.Join(dir, "certs"),
		pool:    x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	if err := os.MkdirAll(p.certDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(p.certDir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(p.certDir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// client returns an HTTP/1.1 keep-alive client trusting the bench CA.
func (p *pki) client() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// server is one webhook server process under test.
type server struct {
	name  string // A, B or C
	label string
	cmd   *exec.Cmd
	port  int
	paths []string // paths the load alternates between
	ready func(ctx context.Context) error
	log   string
	done  chan struct{}
	err   error
}

func (s *server) urls() []string {
	out := make([]string, len(s.paths))
	for i, p := range s.paths {
		out[i] = fmt.Sprintf("https://127.0.0.1:%d%s", s.port, p)
	}
	return out
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// start starts the process with its output in s.log and waits until it is
// ready, or fails with the end of its log.
func (s *server) start(ctx context.Context, timeout time.Duration) error {
	f, err := os.Create(s.log)
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", s.label, err)
	}
	s.done = make(chan struct{})
	go func() {
		s.err = s.cmd.Wait()
		f.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", s.label, s.err, tail(s.log, 20))
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.ready(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (%v):\n%s", s.label, timeout, err, tail(s.log, 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 10s).
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil || s.done == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) alive() error {
	select {
	case <-s.done:
		return fmt.Errorf("%s exited (%v):\n%s", s.label, s.err, tail(s.log, 20))
	default:
		return nil
	}
}

// httpReady returns a readiness check: GET url answers 200.
func httpReady(c *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error { return host.Ready(ctx, c, url) }
}

// reviewReady returns a readiness check: POST body to url is answered with
// an allowed review that contains each of want.
func reviewReady(c *http.Client, url string, body []byte, want ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		if !reviewOK(resp.StatusCode, buf.Bytes()) {
			return fmt.Errorf("POST %s: %s %.300s", url, resp.Status, buf.String())
		}
		for _, w := range want {
			if !strings.Contains(buf.String(), w) {
				return fmt.Errorf("POST %s: the response has no %s: %.300s", url, w, buf.String())
			}
		}
		return nil
	}
}

var (
	allowedTrue = []byte(`"allowed":true`)
	uidJSON     = []byte(`"uid":"` + reviewUID + `"`)
)

// reviewOK reports whether a response is an allowed AdmissionReview for the
// benchmark's request.
func reviewOK(code int, body []byte) bool {
	return code == http.StatusOK && bytes.Contains(body, allowedTrue) && bytes.Contains(body, uidJSON)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; 100
// on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the user+system CPU time the process has used.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after ")" are fixed.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(s[i+1:])
	// After ")": state is field 3, so utime (14) and stime (15) are f[11], f[12].
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unparsable utime/stime in /proc/PID/stat")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// memory returns VmRSS and VmHWM (peak RSS) in bytes.
func memory(pid int) (rss, hwm uint64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *uint64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			kb, _ := strconv.ParseUint(fields[1], 10, 64)
			*dst = kb * 1024
		}
	}
	return rss, hwm, sc.Err()
}

// memoryDetail returns the Vm* and Rss* lines of /proc/PID/status in bytes.
func memoryDetail(pid int) (map[string]uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" && (strings.HasPrefix(f[0], "Vm") || strings.HasPrefix(f[0], "Rss")) {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			out[strings.TrimSuffix(f[0], ":")] = kb * 1024
		}
	}
	return out, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
