package executor

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// MetricsReporter keeps Prometheus metrics of the runs:
//
//	hostprocess_executor_runs_total{task,outcome}
//	hostprocess_executor_last_run_success{task}             1 or 0
//	hostprocess_executor_last_run_duration_seconds{task}
//	hostprocess_executor_last_run_timestamp_seconds{task}   when it finished
//	hostprocess_executor_limit_problems_total{task,limit}   limits not in force
//	hostprocess_executor_tasks                               tasks in force
//	hostprocess_executor_task_load_errors                    errors of the last load
//
// A task that is no longer in force loses its last_run series.
type MetricsReporter struct {
	registry      *prometheus.Registry
	runs          *prometheus.CounterVec
	lastSuccess   *prometheus.GaugeVec
	lastDuration  *prometheus.GaugeVec
	lastTimestamp *prometheus.GaugeVec
	limitProblems *prometheus.CounterVec
	tasks         prometheus.Gauge
	loadErrors    prometheus.Gauge
}

// NewMetricsReporter registers the metrics in a registry of their own.
func NewMetricsReporter() *MetricsReporter {
	m := &MetricsReporter{
		registry: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostprocess_executor_runs_total", Help: "Runs of each task by outcome (Succeeded, Failed, TimedOut).",
		}, []string{"task", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hostprocess_executor_last_run_success", Help: "1 when the last run of the task succeeded, else 0.",
		}, []string{"task"}),
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hostprocess_executor_last_run_duration_seconds", Help: "How long the last run of the task took.",
		}, []string{"task"}),
		lastTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hostprocess_executor_last_run_timestamp_seconds", Help: "When the last run of the task finished, in Unix seconds.",
		}, []string{"task"}),
		limitProblems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostprocess_executor_limit_problems_total", Help: "Runs in which a limit the task asked for was not in force.",
		}, []string{"task", "limit"}),
		tasks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostprocess_executor_tasks", Help: "Tasks in force.",
		}),
		loadErrors: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostprocess_executor_task_load_errors", Help: "Errors of the last load of the tasks directory.",
		}),
	}
	m.registry.MustRegister(m.runs, m.lastSuccess, m.lastDuration, m.lastTimestamp, m.limitProblems, m.tasks, m.loadErrors)
	return m
}

// Handler serves the metrics.
func (m *MetricsReporter) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry is where the metrics are registered.
func (m *MetricsReporter) Registry() *prometheus.Registry { return m.registry }

func (m *MetricsReporter) Started(context.Context, Startup) error { return nil }

func (m *MetricsReporter) TasksLoaded(_ context.Context, l LoadReport) error {
	m.tasks.Set(float64(len(l.Tasks)))
	m.loadErrors.Set(float64(len(l.Errors)))
	inForce := map[string]bool{}
	for _, t := range l.Tasks {
		inForce[t] = true
	}
	for _, vec := range []*prometheus.GaugeVec{m.lastSuccess, m.lastDuration, m.lastTimestamp} {
		for _, task := range seriesTasks(vec) {
			if !inForce[task] {
				vec.DeletePartialMatch(prometheus.Labels{"task": task})
			}
		}
	}
	return nil
}

// seriesTasks lists the task label values a vector has series for.
func seriesTasks(vec *prometheus.GaugeVec) []string {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		vec.Collect(ch)
		close(ch)
	}()
	var tasks []string
	for metric := range ch {
		var pb dto.Metric
		if metric.Write(&pb) == nil {
			for _, l := range pb.Label {
				if l.GetName() == "task" {
					tasks = append(tasks, l.GetValue())
				}
			}
		}
	}
	return tasks
}

func (m *MetricsReporter) RunFinished(_ context.Context, r RunReport) error {
	m.runs.WithLabelValues(r.Task, string(r.Outcome)).Inc()
	success := 0.0
	if r.Outcome == OutcomeSucceeded {
		success = 1
	}
	m.lastSuccess.WithLabelValues(r.Task).Set(success)
	m.lastDuration.WithLabelValues(r.Task).Set(r.DurationSeconds)
	m.lastTimestamp.WithLabelValues(r.Task).Set(float64(r.Finished.UnixNano()) / 1e9)
	for _, p := range r.LimitProblems {
		m.limitProblems.WithLabelValues(r.Task, p.Limit).Inc()
	}
	return nil
}

func (m *MetricsReporter) Flush(context.Context) error { return nil }
