package executor

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gathered renders every sample as "name{label=value,...} value", sorted.
func gathered(t *testing.T, m *MetricsReporter) string {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var lines []string
	for _, f := range families {
		for _, metric := range f.Metric {
			var labels []string
			for _, l := range metric.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := metric.GetGauge().GetValue() + metric.GetCounter().GetValue()
			lines = append(lines, f.GetName()+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestMetricsReporterCountsRuns(t *testing.T) {
	m := NewMetricsReporter()
	ctx := context.Background()
	finished := time.Unix(1700000000, 0)
	_ = m.TasksLoaded(ctx, LoadReport{Tasks: []string{"a", "b"}, Errors: []string{"x.yaml: ..."}})
	_ = m.RunFinished(ctx, RunReport{Task: "a", Outcome: OutcomeSucceeded, DurationSeconds: 1.5, Finished: finished})
	_ = m.RunFinished(ctx, RunReport{Task: "a", Outcome: OutcomeFailed, DurationSeconds: 2, Finished: finished,
		LimitProblems: []LimitProblem{{Limit: "cpuRate", Reason: "refused"}}})
	_ = m.RunFinished(ctx, RunReport{Task: "b", Outcome: OutcomeTimedOut, DurationSeconds: 3, Finished: finished})
	want := strings.Join([]string{
		"hostprocess_executor_last_run_duration_seconds{task=a} 2",
		"hostprocess_executor_last_run_duration_seconds{task=b} 3",
		"hostprocess_executor_last_run_success{task=a} 0",
		"hostprocess_executor_last_run_success{task=b} 0",
		"hostprocess_executor_last_run_timestamp_seconds{task=a} 1700000000",
		"hostprocess_executor_last_run_timestamp_seconds{task=b} 1700000000",
		"hostprocess_executor_limit_problems_total{limit=cpuRate,task=a} 1",
		"hostprocess_executor_runs_total{outcome=Failed,task=a} 1",
		"hostprocess_executor_runs_total{outcome=Succeeded,task=a} 1",
		"hostprocess_executor_runs_total{outcome=TimedOut,task=b} 1",
		"hostprocess_executor_task_load_errors{} 1",
		"hostprocess_executor_tasks{} 2",
	}, "\n")
	if got := gathered(t, m); got != want {
		t.Errorf("metrics:\n%s\nwant:\n%s", got, want)
	}

	// b is removed: its last_run series go, its counters stay.
	_ = m.TasksLoaded(ctx, LoadReport{Tasks: []string{"a"}})
	got := gathered(t, m)
	if strings.Contains(got, "last_run_success{task=b}") || !strings.Contains(got, "runs_total{outcome=TimedOut,task=b} 1") {
		t.Errorf("after b was removed:\n%s", got)
	}
}
