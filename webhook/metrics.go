package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus metrics. Label values are bounded:
// operations, resources and decisions come from fixed sets.
type Metrics struct {
	requests     *prometheus.CounterVec
	violations   *prometheus.CounterVec
	exceptions   *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	reloadErrors prometheus.Counter
	configValid  prometheus.Gauge
	certExpiry   prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostprocess_admission_requests_total",
			Help: "Admission reviews answered, by webhook, operation, resource and decision.",
		}, []string{"webhook", "operation", "resource", "decision"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostprocess_admission_violations_total",
			Help: "Policy violations found, by rule, by the mode they were handled under and by the namespace of the object.",
		}, []string{"rule", "mode", "namespace"}),
		exceptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostprocess_admission_exception_admissions_total",
			Help: "Objects evaluated under a HostProcessException that spared them a violation, by exception and by the namespace of the object.",
		}, []string{"exception", "namespace"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hostprocess_admission_duration_seconds",
			Help:    "Time to answer an admission review, from request to response.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}, []string{"webhook"}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hostprocess_admission_config_reload_errors_total",
			Help: "Configuration reloads that failed; the last good configuration stays in force.",
		}),
		configValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostprocess_admission_config_last_reload_successful",
			Help: "1 when the last configuration (re)load succeeded, 0 when the file on disk is invalid.",
		}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostprocess_admission_serving_certificate_expiry_timestamp_seconds",
			Help: "Unix time at which the serving certificate last loaded from --cert-dir expires; 0 until one is loaded.",
		}),
	}
	reg.MustRegister(m.requests, m.violations, m.exceptions, m.duration, m.reloadErrors, m.configValid, m.certExpiry)
	return m
}

func (m *Metrics) observe(webhook, operation, resource, decision string, start time.Time) {
	if m == nil {
		return
	}
	switch operation {
	case "CREATE", "UPDATE", "DELETE", "CONNECT":
	case "":
		operation = "unknown"
	default:
		operation = "other"
	}
	if resource == "" {
		resource = "unknown"
	}
	m.requests.WithLabelValues(webhook, operation, resource, decision).Inc()
	m.duration.WithLabelValues(webhook).Observe(time.Since(start).Seconds())
}

func (m *Metrics) violation(rule, mode, namespace string) {
	if m != nil {
		m.violations.WithLabelValues(rule, mode, namespace).Inc()
	}
}

func (m *Metrics) exceptionApplied(exception, namespace string) {
	if m != nil {
		m.exceptions.WithLabelValues(exception, namespace).Inc()
	}
}

// CertificateLoaded records the expiry of the serving certificate cert, the
// first of its chain. It is a certwatcher callback.
func (m *Metrics) CertificateLoaded(cert tls.Certificate) {
	if m == nil {
		return
	}
	leaf := cert.Leaf
	if leaf == nil && len(cert.Certificate) > 0 {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return
		}
	}
	if leaf != nil {
		m.certExpiry.Set(float64(leaf.NotAfter.Unix()))
	}
}

// ConfigReloaded records the outcome of a configuration (re)load.
func (m *Metrics) ConfigReloaded(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.reloadErrors.Inc()
		m.configValid.Set(0)
		return
	}
	m.configValid.Set(1)
}
