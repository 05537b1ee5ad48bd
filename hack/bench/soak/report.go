//go:build linux

package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/hack/bench/internal/host"
)

// report is what soak.json holds.
type report struct {
	Command   string            `json:"command"`
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished"`
	Seconds   float64           `json:"load_seconds"`
	Machine   host.Machine      `json:"machine"`
	LoadStart string            `json:"loadavg_start"`
	LoadEnd   string            `json:"loadavg_end"`
	Options   map[string]string `json:"options"`
	// WorkTree is the commit serve was built from and the modified files.
	WorkTree string `json:"work_tree"`
	// Requests counts every request by kind.
	Requests        map[string]*counter `json:"requests"`
	Server5xx       int64               `json:"server_5xx"`
	AdmittedDenials int64               `json:"admitted_denials"`
	// Latency of the valid reviews by kind.
	Latency map[string]latencySummary `json:"latency_ms"`
	// Samples: "idle" before the load, "load" every -sample, "after" once the
	// load is over and every client connection is closed.
	Samples []sample `json:"samples"`
	// Growth compares the window after warm-up with the last window, and
	// idle with after.
	Growth   []growth `json:"growth"`
	Failures []string `json:"failures"`

	mu        sync.Mutex
	latencies map[string][]time.Duration
}

// counter counts the requests of one kind.
type counter struct {
	Sent   int64 `json:"sent"`
	OK     int64 `json:"ok"`
	Wrong  int64 `json:"wrong"`
	Errors int64 `json:"errors"` // no answer (transport errors)
	// Status counts the HTTP status codes of the answers ("0": none, e.g. a
	// slow client or a connection closed early).
	Status map[string]int64 `json:"status"`
	// Examples are the first wrong answers and errors.
	Examples []string `json:"examples,omitempty"`
	// MaxCutoffS is, for slow clients, the longest time until serve closed
	// the connection.
	MaxCutoffS float64 `json:"max_cutoff_s,omitempty"`
}

type sample struct {
	Phase      string  `json:"phase"`
	T          float64 `json:"t_s"` // seconds since the load started
	RSSMiB     float64 `json:"rss_mib"`
	Goroutines int     `json:"goroutines"`
	FDs        int     `json:"fds"`
	// Conns are the webhook port's connections with a file descriptor in
	// serve (ESTABLISHED or CLOSE_WAIT in /proc/PID/net/tcp): each has its
	// fd and goroutine. How many there are depends on the clients (vegeta
	// opens more when latency spikes), so under load goroutines and fds are
	// compared without them.
	Conns int `json:"webhook_conns"`
	// HeapLiveMiB is the heap marked live by the last garbage collection
	// (go_gc_heap_live_bytes), which leaks grow and garbage does not.
	HeapLiveMiB float64 `json:"heap_live_mib"`
}

type growth struct {
	Figure    string  `json:"figure"`
	From      string  `json:"from"`
	To        string  `json:"to"`
	Before    float64 `json:"before"`
	After     float64 `json:"after"`
	Allowed   float64 `json:"allowed"` // the largest After that passes
	Tolerance string  `json:"tolerance"`
	OK        bool    `json:"ok"`
}

type latencySummary struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (r *report) record(kind string, code int, problem string, transportErr, admitted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.Requests[kind]
	if c == nil {
		c = &counter{Status: map[string]int64{}}
		r.Requests[kind] = c
	}
	c.Sent++
	c.Status[strconv.Itoa(code)]++
	if code >= 500 {
		r.Server5xx++
	}
	if admitted {
		r.AdmittedDenials++
	}
	switch {
	case transportErr:
		c.Errors++
	case problem != "":
		c.Wrong++
	default:
		c.OK++
		return
	}
	if len(c.Examples) < 5 {
		c.Examples = append(c.Examples, problem)
	}
}

func (r *report) latency(kind string, d time.Duration) {
	r.mu.Lock()
	if r.latencies == nil {
		r.latencies = map[string][]time.Duration{}
	}
	r.latencies[kind] = append(r.latencies[kind], d)
	r.mu.Unlock()
}

func (r *report) cutoff(kind string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.Requests[kind]; c != nil {
		c.MaxCutoffS = max(c.MaxCutoffS, d.Seconds())
	} else {
		r.Requests[kind] = &counter{Status: map[string]int64{}, MaxCutoffS: d.Seconds()}
	}
}

func (r *report) resetCounters() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Requests, r.Server5xx, r.AdmittedDenials, r.latencies = map[string]*counter{}, 0, 0, nil
}

func (r *report) addSample(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Samples = append(r.Samples, s)
}

func (r *report) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// progress is a one-line summary of the requests so far.
func (r *report) progress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sent, ok, bad int64
	for _, c := range r.Requests {
		sent, ok, bad = sent+c.Sent, ok+c.OK, bad+c.Wrong+c.Errors
	}
	return fmt.Sprintf("%d requests, %d right, %d wrong or unanswered", sent, ok, bad)
}

// evaluate fills Growth, ValidLatency and Failures.
func (r *report) evaluate(o options) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, kind := range sortedKeys(r.Requests) {
		c := r.Requests[kind]
		if c.Wrong > 0 || c.Errors > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %d wrong, %d unanswered of %d; first: %s", kind, c.Wrong, c.Errors, c.Sent, strings.Join(c.Examples, " | ")))
		}
	}
	if r.Server5xx > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d answers were 5xx", r.Server5xx))
	}
	if r.AdmittedDenials > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d reviews that must be denied were admitted", r.AdmittedDenials))
	}
	r.Latency = map[string]latencySummary{}
	for kind, l := range r.latencies {
		slices.Sort(l)
		n := len(l)
		q := func(p float64) float64 { return ms(l[min(n-1, int(p*float64(n)))]) }
		r.Latency[kind] = latencySummary{P50: q(0.50), P99: q(0.99), Max: ms(l[n-1])}
	}

	var warm, last []sample
	var idle, after *sample
	end := r.Seconds
	for i, s := range r.Samples {
		switch {
		case s.Phase == "idle":
			idle = &r.Samples[i]
		case s.Phase == "after":
			after = &r.Samples[i]
		case s.T >= o.warmup.Seconds() && s.T < (o.warmup+o.window).Seconds():
			warm = append(warm, s)
		case s.T >= end-o.window.Seconds():
			last = append(last, s)
		}
	}
	if len(warm) == 0 || len(last) == 0 || idle == nil || after == nil {
		r.Failures = append(r.Failures, fmt.Sprintf("not enough samples: %d after warm-up, %d in the last window", len(warm), len(last)))
		return
	}
	fromWarm, toLast := fmt.Sprintf("%s..%s", o.warmup, o.warmup+o.window), fmt.Sprintf("last %s", o.window)
	rss := func(s sample) float64 { return s.RSSMiB }
	gor := func(s sample) float64 { return float64(s.Goroutines) }
	fds := func(s sample) float64 { return float64(s.FDs) }
	check := func(g growth) {
		g.OK = g.After <= g.Allowed
		r.Growth = append(r.Growth, g)
		if !g.OK {
			r.Failures = append(r.Failures, fmt.Sprintf("%s grew from %.1f (%s) to %.1f (%s), more than allowed (%.1f: %s)", g.Figure, g.Before, g.From, g.After, g.To, g.Allowed, g.Tolerance))
		}
	}
	wr := maxOf(warm, rss)
	check(growth{Figure: "RSS MiB (highest sample)", From: fromWarm, To: toLast, Before: wr, After: maxOf(last, rss),
		Allowed: wr + max(rssGrowthMiB, rssGrowthShare*wr), Tolerance: fmt.Sprintf("+max(%d MiB, %.0f%%)", rssGrowthMiB, 100*rssGrowthShare)})
	heap := func(s sample) float64 { return s.HeapLiveMiB }
	wh := medianOf(warm, heap)
	check(growth{Figure: "live heap MiB (median)", From: fromWarm, To: toLast, Before: wh, After: medianOf(last, heap),
		Allowed: wh + max(heapGrowthMiB, rssGrowthShare*wh), Tolerance: fmt.Sprintf("+max(%d MiB, %.0f%%)", heapGrowthMiB, 100*rssGrowthShare)})
	for _, f := range []struct {
		name string
		get  func(sample) float64
		q    int
	}{{"goroutines", gor, quiescedGoroutine}, {"open fds", fds, quiescedFDs}} {
		less := func(s sample) float64 { return f.get(s) - float64(s.Conns) }
		w := medianOf(warm, less)
		check(growth{Figure: f.name + " less webhook connections (median)", From: fromWarm, To: toLast, Before: w, After: medianOf(last, less),
			Allowed: w + max(countGrowth, countGrowthShare*w), Tolerance: fmt.Sprintf("+max(%d, %.0f%%)", countGrowth, 100*countGrowthShare)})
		check(growth{Figure: f.name, From: "idle before the load", To: "after the load", Before: f.get(*idle), After: f.get(*after),
			Allowed: f.get(*idle) + float64(f.q), Tolerance: fmt.Sprintf("+%d", f.q)})
	}
	// For the record, not checked: the raw figures under load.
	for _, f := range []struct {
		name string
		get  func(sample) float64
	}{{"goroutines (median)", gor}, {"open fds (median)", fds}, {"webhook connections (median)", func(s sample) float64 { return float64(s.Conns) }}} {
		r.Growth = append(r.Growth, growth{Figure: f.name, From: fromWarm, To: toLast, Before: medianOf(warm, f.get), After: medianOf(last, f.get),
			Tolerance: "not checked (depends on the clients' connections)", OK: true})
	}
}

// table is the short summary printed at the end.
func (r *report) table() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: %.0f s of load, load average %s at the start, %s at the end\n\n", r.Seconds, r.LoadStart, r.LoadEnd)
	fmt.Fprintf(&b, "| requests | sent | right | wrong | unanswered | HTTP status | latency p50 / p99 / max (ms) |\n|---|---:|---:|---:|---:|---|---|\n")
	var tot counter
	for _, kind := range sortedKeys(r.Requests) {
		c := r.Requests[kind]
		tot.Sent, tot.OK, tot.Wrong, tot.Errors = tot.Sent+c.Sent, tot.OK+c.OK, tot.Wrong+c.Wrong, tot.Errors+c.Errors
		var st []string
		for _, code := range sortedKeys(c.Status) {
			st = append(st, fmt.Sprintf("%s×%d", code, c.Status[code]))
		}
		extra := ""
		if c.MaxCutoffS > 0 {
			extra = fmt.Sprintf(" (cut off after at most %.1f s)", c.MaxCutoffS)
		}
		lat := ""
		if l, ok := r.Latency[kind]; ok {
			lat = fmt.Sprintf("%.2f / %.2f / %.1f", l.P50, l.P99, l.Max)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s%s | %s |\n", kind, c.Sent, c.OK, c.Wrong, c.Errors, strings.Join(st, " "), extra, lat)
	}
	fmt.Fprintf(&b, "| **all** | %d | %d | %d | %d | 5xx: %d, admitted denials: %d | |\n\n", tot.Sent, tot.OK, tot.Wrong, tot.Errors, r.Server5xx, r.AdmittedDenials)
	fmt.Fprintf(&b, "| serve | before | after | allowed | tolerance | ok |\n|---|---:|---:|---:|---|---|\n")
	for _, g := range r.Growth {
		allowed, ok := fmt.Sprintf("%.1f", g.Allowed), fmt.Sprint(g.OK)
		if g.Allowed == 0 {
			allowed, ok = "–", "–"
		}
		fmt.Fprintf(&b, "| %s, %s → %s | %.1f | %.1f | %s | %s | %s |\n", g.Figure, g.From, g.To, g.Before, g.After, allowed, g.Tolerance, ok)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func maxOf(s []sample, f func(sample) float64) float64 {
	m := 0.0
	for _, x := range s {
		m = max(m, f(x))
	}
	return m
}

func medianOf(s []sample, f func(sample) float64) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// meter reads serve's RSS, goroutines, open fds, webhook connections and
// live heap.
type meter struct {
	pid        int
	port       int // the webhook port
	metricsURL string
	client     *http.Client
}

func (m *meter) sample(phase string, t float64) (sample, error) {
	s := sample{Phase: phase, T: t}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if fl := strings.Fields(line); len(fl) == 3 && fl[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(fl[1], 64)
			s.RSSMiB = kb / 1024
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", m.pid))
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	if s.Conns, err = m.conns(); err != nil {
		return s, err
	}
	resp, err := m.client.Get(m.metricsURL)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := 0
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != "go_goroutines" && name != "go_gc_heap_live_bytes") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return s, fmt.Errorf("%s %q: %w", name, v, err)
		}
		found++
		if name == "go_goroutines" {
			s.Goroutines = int(n)
		} else {
			s.HeapLiveMiB = n / (1 << 20)
		}
	}
	if found != 2 {
		return s, fmt.Errorf("no go_goroutines or go_gc_heap_live_bytes in %s (%v)", m.metricsURL, sc.Err())
	}
	return s, nil
}

// conns counts the sockets of the webhook port that hold a file descriptor
// in serve: ESTABLISHED (01) or CLOSE_WAIT (08), local port m.port.
func (m *meter) conns() (int, error) {
	n := 0
	for _, f := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", m.pid, f))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fl := strings.Fields(line)
			if len(fl) < 4 || (fl[3] != "01" && fl[3] != "08") {
				continue
			}
			if _, port, ok := strings.Cut(fl[1], ":"); ok {
				if p, err := strconv.ParseUint(port, 16, 16); err == nil && int(p) == m.port {
					n++
				}
			}
		}
	}
	return n, nil
}

// servingCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// into DIR/certs and returns that directory and a pool trusting it.
func servingCert(dir string) (string, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hostprocess-admission soak"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	certDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certDir, pool, nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
