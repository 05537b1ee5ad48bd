package executor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// swapConfigMap writes files the way the kubelet updates a ConfigMap volume:
// into a new timestamped directory, then by renaming the ..data symlink.
func swapConfigMap(t *testing.T, dir, version string, files map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, "..2026_"+version)
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func TestRunReloadsAConfigMapAndStopsCleanly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a ConfigMap volume's symbolic links are a Linux kubelet matter; creating them on Windows needs a privilege")
	}
	dir := tempDir(t)
	v1 := header + "name: a\ncommand: [x]\ntrigger: onChange\n"
	v2 := header + "name: a\ncommand: [x, two]\ntrigger: onChange\n"
	swapConfigMap(t, dir, "1", map[string]string{"tasks.yaml": v1})

	clock := newFakeClock()
	backend := &fakeBackend{clock: clock, fail: map[string]error{}, block: map[string]bool{}}
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{TasksDir: dir, Node: "n1", Backend: backend, Reporter: rec, ReloadInterval: 10 * time.Millisecond})
	}()

	load := <-rec.loads
	if len(load.Tasks) != 1 || load.Tasks[0] != "a" || len(load.Errors) != 0 {
		t.Errorf("first load = %+v, want task a and no errors", load)
	}
	first := rec.next(t)

	swapConfigMap(t, dir, "2", map[string]string{"tasks.yaml": v2})
	if r := rec.next(t); r.Hash == first.Hash {
		t.Errorf("the swapped definition did not run: hash %s again", r.Hash)
	}
	<-rec.loads

	// A broken edit is reported and the task stays in force, unchanged.
	swapConfigMap(t, dir, "3", map[string]string{"tasks.yaml": header + "name: a\ncommand: [x]\ntimeout: soon\n"})
	load = <-rec.loads
	want := `tasks.yaml: document 1 (task "a"): timeout: Invalid value: "soon": must be a duration such as 5m`
	if len(load.Tasks) != 1 || load.Tasks[0] != "a" || len(load.Errors) != 1 || load.Errors[0] != want {
		t.Errorf("load of a broken file = %+v, want task a kept and error %s", load, want)
	}
	rec.none(t)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if last := rec.events[len(rec.events)-1]; last != "flush" || rec.events[0] != "started" {
		t.Errorf("events = %v, want started first and flush last", rec.events)
	}
}

func TestRunOnceRunsARealProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{
		"apiVersion": APIVersion, "kind": KindTask, "name": "hello",
		"command": []string{exe, "print", "hello ", "3", "0"},
		"env":     []EnvVar{{Name: helperEnv, Value: "1"}},
		"timeout": "1m", "maxOutputBytes": 8,
	})
	dir := tempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "hello.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	backend, err := NewBackend()
	if err != nil {
		t.Fatalf("NewBackend: %v", err)
	}
	rec := newRecorder()
	reports, err := RunOnce(context.Background(), Options{TasksDir: dir, Node: "n1", Backend: backend, Reporter: rec})
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if len(reports) != 1 {
		t.Fatalf("reports = %d, want 1", len(reports))
	}
	r := reports[0]
	wantOut := Output{Text: "o hello ", TotalBytes: 18, Truncated: true}
	if r.Task != "hello" || r.Node != "n1" || r.Outcome != OutcomeSucceeded || *r.ExitCode != 0 || r.Output != wantOut {
		t.Errorf("report = %s on %s: %s exit %d output %+v; want hello on n1: Succeeded exit 0 output %+v",
			r.Task, r.Node, r.Outcome, *r.ExitCode, r.Output, wantOut)
	}
}
