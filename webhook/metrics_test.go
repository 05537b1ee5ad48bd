package webhook

import (
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a counter's or gauge's current value.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestServerRecordsTheServingCertificateExpiry(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	_, certDir, _ := startServer(t, ServerOptions{Metrics: m}, nil)
	expiry := func(der []byte) float64 {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return float64(cert.NotAfter.Unix())
	}
	if got := value(t, m.certExpiry); got == 0 {
		t.Fatal("hostprocess_admission_serving_certificate_expiry_timestamp_seconds is 0 after the server started")
	}
	time.Sleep(1100 * time.Millisecond) // certificates have whole seconds: make the next expiry differ
	want := expiry(writeServingCert(t, certDir, "second"))
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := value(t, m.certExpiry)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("expiry metric %s after rotation, want %s (the rotated certificate's notAfter)",
				time.Unix(int64(got), 0).UTC().Format(time.RFC3339), time.Unix(int64(want), 0).UTC().Format(time.RFC3339))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestViolationsAreCountedByNamespace(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.violation("runAsUserName", "enforce", "team-a")
	m.violation("runAsUserName", "enforce", "team-a")
	m.violation("runAsUserName", "warn", "team-b")
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"runAsUserName", "enforce", "team-a"}, 2},
		{[]string{"runAsUserName", "warn", "team-b"}, 1},
		{[]string{"runAsUserName", "enforce", "team-b"}, 0},
	} {
		if got := value(t, m.violations.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("violations%s = %v, want %v", fmt.Sprint(tc.labels), got, tc.want)
		}
	}
}
