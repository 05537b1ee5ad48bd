package audit

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the background audit's Prometheus metrics.
type metrics struct {
	violations *prometheus.GaugeVec
	pods       *prometheus.GaugeVec
	lastRun    prometheus.Gauge
	duration   prometheus.Histogram
	passErrors prometheus.Counter

	prevViolations map[[2]string]bool
	prevPods       map[[2]string]bool
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hostprocess_audit_violations",
			Help: "Objects (top-level workloads and standalone Pods) that break a rule, by namespace and rule, at the last background audit pass.",
		}, []string{"namespace", "rule"}),
		pods: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hostprocess_audit_hostprocess_pods",
			Help: "HostProcess Pods by namespace and effective runAsUserName (a Pod counts once for each of its users), at the last background audit pass.",
		}, []string{"namespace", "user"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostprocess_audit_last_run_timestamp_seconds",
			Help: "Unix time at which the last background audit pass finished.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hostprocess_audit_duration_seconds",
			Help:    "Duration of background audit passes, reading the cache and writing reports.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		passErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hostprocess_audit_pass_errors_total",
			Help: "Background audit passes that failed to list the objects or to write a report.",
		}),
		prevViolations: map[[2]string]bool{},
		prevPods:       map[[2]string]bool{},
	}
	for _, c := range []prometheus.Collector{m.violations, m.pods, m.lastRun, m.duration, m.passErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// record sets the gauges to a pass's counts, removing the series that are gone, so that a
// scrape never sees a half-updated set.
func (m *metrics) record(res *Result, podUsers map[namespaceUser]int, finished time.Time, took time.Duration) {
	violations := map[[2]string]int{}
	for i := range res.Objects {
		o := &res.Objects[i]
		seen := map[string]bool{}
		for _, v := range o.Violations {
			if !seen[v.Rule] {
				seen[v.Rule] = true
				violations[[2]string{o.Namespace, v.Rule}]++
			}
		}
	}
	m.prevViolations = setGauges(m.violations, violations, m.prevViolations)
	pods := map[[2]string]int{}
	for nu, n := range podUsers {
		pods[[2]string{nu.namespace, nu.user}] = n
	}
	m.prevPods = setGauges(m.pods, pods, m.prevPods)
	m.lastRun.Set(float64(finished.UnixNano()) / 1e9)
	m.duration.Observe(took.Seconds())
}

// RegisterMetrics registers the background audit's metrics with reg, as
// NewBackground does, without a manager: for listing what serve exports.
func RegisterMetrics(reg prometheus.Registerer) error {
	_, err := newMetrics(reg)
	return err
}

func setGauges(g *prometheus.GaugeVec, values map[[2]string]int, prev map[[2]string]bool) map[[2]string]bool {
	next := make(map[[2]string]bool, len(values))
	for k, v := range values {
		g.WithLabelValues(k[0], k[1]).Set(float64(v))
		next[k] = true
	}
	for k := range prev {
		if !next[k] {
			g.DeleteLabelValues(k[0], k[1])
		}
	}
	return next
}
