package executor

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestJSONReporterWritesOneLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONReporter(&buf)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j.now = func() time.Time { return at }
	code := 3
	total := uint32(2)
	cpu := 1500 * time.Millisecond
	ctx := context.Background()
	_ = j.Started(ctx, Startup{Node: "n1", TasksDir: "/tasks", Capabilities: Capabilities{Backend: "linux", KillTree: "process group",
		Missing: []LimitProblem{{Limit: "limits.processMemory", Reason: "Linux has no per-process limit on committed memory"}}}})
	_ = j.TasksLoaded(ctx, LoadReport{Node: "n1", Tasks: []string{"a"}, Errors: []string{`b.yaml: document 1: unknown field "x"`}})
	_ = j.RunFinished(ctx, RunReport{Node: "n1", Task: "a", Hash: "h", Source: "a.yaml", Trigger: TriggerOnce, Outcome: OutcomeFailed,
		Reason: ReasonExitCode, Message: "exit code 3", ExitCode: &code, Started: at, Finished: at.Add(time.Second), DurationSeconds: 1,
		Output: Output{Text: "<x>", TotalBytes: 3}, Accounting: Accounting{CPUTime: &cpu, TotalProcesses: &total},
		LimitProblems: []LimitProblem{{Limit: "cpuRate", Reason: "the OS refused it"}}})
	_ = j.Flush(ctx)
	want := `{"time":"2026-01-02T03:04:05Z","event":"started","startup":{"node":"n1","tasksDir":"/tasks","capabilities":{"backend":"linux","killTree":"process group","missing":[{"limit":"limits.processMemory","reason":"Linux has no per-process limit on committed memory"}]}}}
{"time":"2026-01-02T03:04:05Z","event":"tasksLoaded","load":{"node":"n1","tasks":["a"],"errors":["b.yaml: document 1: unknown field \"x\""]}}
{"time":"2026-01-02T03:04:05Z","event":"runFinished","run":{"node":"n1","task":"a","hash":"h","source":"a.yaml","trigger":"once","outcome":"Failed","reason":"ExitCode","message":"exit code 3","exitCode":3,"started":"2026-01-02T03:04:05Z","finished":"2026-01-02T03:04:06Z","durationSeconds":1,"output":{"text":"<x>","totalBytes":3,"truncated":false},"accounting":{"cpuSeconds":1.5,"totalProcesses":2},"limitProblems":[{"limit":"cpuRate","reason":"the OS refused it"}]}}
{"time":"2026-01-02T03:04:05Z","event":"stopped"}
`
	if buf.String() != want {
		t.Errorf("JSON lines:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestOutcomeEventReasons(t *testing.T) {
	for outcome, want := range map[Outcome]string{OutcomeSucceeded: "TaskSucceeded", OutcomeFailed: "TaskFailed", OutcomeTimedOut: "TaskTimedOut"} {
		if got := outcome.EventReason(); got != want {
			t.Errorf("%s.EventReason() = %q, want %q", outcome, got, want)
		}
	}
}
