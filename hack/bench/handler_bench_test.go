//go:build linux

package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
	"github.com/hostprocess-admission/hostprocess-admission/webhook"
)

// benchHandler is the handler as serve builds it with the built-in defaults:
// metrics recorded, logs discarded, no namespace lookups (no rule has a
// selector).
func benchHandler(b *testing.B) *webhook.Handler {
	b.Helper()
	p, err := policy.New(config.Default())
	if err != nil {
		b.Fatal(err)
	}
	return &webhook.Handler{
		Policy:  webhook.StaticPolicy(p).Policy,
		Metrics: webhook.NewMetrics(prometheus.NewRegistry()),
		Log:     logr.Discard(),
	}
}

// discardWriter is a ResponseWriter that keeps only the status and whether
// the body was an allowed review, so that the benchmark measures the
// handler rather than a recorder.
type discardWriter struct {
	header http.Header
	code   int
	ok     bool
}

func (w *discardWriter) Header() http.Header  { return w.header }
func (w *discardWriter) WriteHeader(code int) { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.ok = reviewOK(w.code, b)
	return len(b), nil
}

// benchmarkHandler drives h with the 7 KiB HostProcess DaemonSet review:
// read the body, decode the review and the pod, evaluate, encode the
// response, record the metrics.
func benchmarkHandler(b *testing.B, h http.Handler, path string) {
	body, err := reviewBody(hostProcessPod(benchNamespace))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("Content-Type", "application/json")
	w := &discardWriter{header: http.Header{}}
	rd := bytes.NewReader(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		clear(w.header)
		w.code, w.ok = http.StatusOK, false
		h.ServeHTTP(w, req)
		if !w.ok {
			b.Fatalf("%s: the review was not allowed (status %d)", path, w.code)
		}
	}
}

// BenchmarkValidateHandler measures the validating webhook's full path for
// one admitted HostProcess pod review.
func BenchmarkValidateHandler(b *testing.B) {
	benchmarkHandler(b, benchHandler(b).Validate(), webhook.ValidatePath)
}

// BenchmarkMutateHandler is the same for the mutating webhook.
func BenchmarkMutateHandler(b *testing.B) {
	benchmarkHandler(b, benchHandler(b).Mutate(), webhook.MutatePath)
}

// TestReviewBody keeps the benchmark's review realistic and decodable.
func TestReviewBody(t *testing.T) {
	body, err := reviewBody(hostProcessPod(benchNamespace))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkReviewSize(body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, uidJSON) {
		t.Fatalf("the review has no request uid %s", reviewUID)
	}
}
