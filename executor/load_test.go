package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const header = "apiVersion: executor.hostprocess.dev/v1alpha1\nkind: Task\n"

func TestParseTasksDefaultsAndParses(t *testing.T) {
	doc := header + `name: flush-dns
script: |
  ipconfig /flushdns
shell: cmd
env:
- {name: A, value: "1"}
workingDir: C:\Windows
trigger: interval
interval: 90s
timeout: 1m
limits: {memory: 256Mi, processMemory: 128Mi, cpuRate: 20, maxProcesses: 4}
maxOutputBytes: 100
`
	tasks, err := ParseTasks("tasks.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("ParseTasks: %v", err)
	}
	got := tasks[0]
	want := TaskSpec{
		Name:           "flush-dns",
		Script:         "ipconfig /flushdns\n",
		Shell:          ShellCmd,
		Env:            []EnvVar{{Name: "A", Value: "1"}},
		WorkingDir:     `C:\Windows`,
		Trigger:        TriggerInterval,
		Interval:       90 * time.Second,
		Timeout:        time.Minute,
		Limits:         ResourceLimits{MemoryBytes: 256 << 20, ProcessMemoryBytes: 128 << 20, CPURatePercent: 20, MaxProcesses: 4},
		MaxOutputBytes: 100,
		Source:         "tasks.yaml",
	}
	got.Hash = ""
	if len(tasks) != 1 || got.Name != want.Name || got.Script != want.Script || got.Shell != want.Shell ||
		len(got.Env) != 1 || got.Env[0] != want.Env[0] || got.WorkingDir != want.WorkingDir || got.Trigger != want.Trigger ||
		got.Interval != want.Interval || got.Timeout != want.Timeout || got.Limits != want.Limits ||
		got.MaxOutputBytes != want.MaxOutputBytes || got.Source != want.Source {
		t.Errorf("ParseTasks = %+v, want %+v", got, want)
	}

	minimal, err := ParseTasks("m.yaml", []byte(header+"name: a\ncommand: [x]\n"))
	if err != nil {
		t.Fatalf("ParseTasks: %v", err)
	}
	m := minimal[0]
	if m.Trigger != TriggerOnce || m.Timeout != DefaultTimeout || m.MaxOutputBytes != DefaultMaxOutputBytes || !m.Limits.IsZero() {
		t.Errorf("defaults = trigger %q, timeout %s, maxOutputBytes %d, limits %+v; want once, %s, %d, none",
			m.Trigger, m.Timeout, m.MaxOutputBytes, m.Limits, DefaultTimeout, DefaultMaxOutputBytes)
	}
}

func TestParseTasksHash(t *testing.T) {
	hash := func(doc string) string {
		t.Helper()
		tasks, err := ParseTasks("h.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("ParseTasks: %v", err)
		}
		return tasks[0].Hash
	}
	base := hash(header + "name: a\ncommand: [x]\n")
	cases := []struct {
		name string
		doc  string
		same bool
	}{
		{name: "ignores comments, order and layout", doc: "# a comment\nkind: Task\napiVersion: executor.hostprocess.dev/v1alpha1\ncommand:\n- x\nname: a\n", same: true},
		{name: "counts a default spelt out as the default", doc: header + "name: a\ncommand: [x]\ntrigger: once\ntimeout: 10m\n", same: true},
		{name: "changes with the command", doc: header + "name: a\ncommand: [x, q]\n"},
		{name: "changes with a limit", doc: header + "name: a\ncommand: [x]\nlimits: {maxProcesses: 2}\n"},
	}
	// The hash is recorded in node state and reports, so it must not change
	// between releases: this value is the one the first release computed.
	if want := "a7d1cf8e796e24d048871210acdc17197719d5d4c90359d6d11214a1d8b9f2f9"; base != want {
		t.Errorf("hash of the base task = %s, want %s (the first release's)", base, want)
	}
	other, err := ParseTasks("elsewhere.yaml", []byte(header+"name: a\ncommand: [x]\n"))
	if err != nil || other[0].Hash != base {
		t.Errorf("the same task from another file hashes to %s (err %v), want %s", other[0].Hash, err, base)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hash(tc.doc) == base; got != tc.same {
				t.Errorf("same hash = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestParseTasksErrorsNameFileDocumentAndField(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "rejects an unknown field with its path",
			doc:  header + "name: a\ncommand: [x]\nlimits: {memroy: 1Gi}\n",
			want: `tasks.yaml: document 1 (task "a"): unknown field "limits.memroy"`,
		},
		{
			name: "rejects a field spelt with the wrong case",
			doc:  header + "Name: a\ncommand: [x]\n",
			want: `tasks.yaml: document 1: unknown field "Name"`,
		},
		{
			name: "rejects a value of the wrong type",
			doc:  header + "name: a\ncommand: [x]\nlimits: {maxProcesses: ten}\n",
			want: `tasks.yaml: document 1 (task "a"): limits.maxProcesses: Invalid value: string: must be an integer`,
		},
		{
			name: "rejects a command that is not a list",
			doc:  header + "name: a\ncommand: x\n",
			want: `tasks.yaml: document 1 (task "a"): command: Invalid value: string: must be a list of strings`,
		},
		{
			name: "rejects a key given twice",
			doc:  header + "name: a\nname: b\ncommand: [x]\n",
			want: `tasks.yaml: document 1: not valid YAML: yaml: unmarshal errors: line 4: key "name" already set in map`,
		},
		{
			name: "rejects a document that is not a mapping",
			doc:  "- a\n",
			want: `tasks.yaml: document 1: a task document must be a mapping, not a list`,
		},
		{
			name: "rejects both command and script",
			doc:  header + "name: a\ncommand: [x]\nscript: q\nshell: cmd\n",
			want: `tasks.yaml: document 1 (task "a"): script: Forbidden: command and script are mutually exclusive`,
		},
		{
			name: "rejects a task with neither command nor script",
			doc:  header + "name: a\n",
			want: `tasks.yaml: document 1 (task "a"): command: Required value: one of command and script is required`,
		},
		{
			name: "rejects an interval without trigger interval",
			doc:  header + "name: a\ncommand: [x]\ninterval: 5m\n",
			want: `tasks.yaml: document 1 (task "a"): interval: Forbidden: interval is only for trigger interval`,
		},
		{
			name: "rejects an interval under a second",
			doc:  header + "name: a\ncommand: [x]\ntrigger: interval\ninterval: 10ms\n",
			want: `tasks.yaml: document 1 (task "a"): interval: Invalid value: "10ms": must be at least 1s`,
		},
		{
			name: "rejects the same env name twice, whatever its case",
			doc:  header + "name: a\ncommand: [x]\nenv: [{name: Path, value: a}, {name: PATH, value: b}]\n",
			want: `tasks.yaml: document 1 (task "a"): env[1].name: Duplicate value: "PATH"`,
		},
		{
			name: "lists every wrong field of a document",
			doc: "apiVersion: v1\nkind: Pod\nname: Bad\nscript: x\nshell: bash\ntrigger: interval\ntimeout: -1s\n" +
				"limits: {memory: lots, processMemory: 1k, cpuRate: 200, maxProcesses: -1}\nmaxOutputBytes: 100000\n",
			want: `tasks.yaml: document 1 (task "Bad"): ` + strings.Join([]string{
				`apiVersion: Unsupported value: "v1": supported values: "executor.hostprocess.dev/v1alpha1"`,
				`kind: Unsupported value: "Pod": supported values: "Task"`,
				`name: Invalid value: "Bad": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`shell: Unsupported value: "bash": supported values: "cmd", "powershell"`,
				`interval: Required value: trigger interval needs an interval such as 10m`,
				`timeout: Invalid value: "-1s": must be positive`,
				`limits.memory: Invalid value: "lots": must be a quantity such as 256Mi`,
				`limits.processMemory: Invalid value: "1k": must be a whole number of bytes of at least 1Mi`,
				`limits.cpuRate: Invalid value: 200: must be a percentage of the node from 1 to 100`,
				`limits.maxProcesses: Invalid value: -1: must be at least 1`,
				`maxOutputBytes: Invalid value: 100000: must be from 0 to 65536`,
			}, "; "),
		},
		{
			name: "counts documents from 1, blank ones included, and reports each wrong one",
			doc: "---\n# only a comment\n---\n" + header + "name: a\ncommand: [x]\n---\n" + header + "name: a\ncommand: [z]\n---\n" +
				header + "name: b\ncommand: [x]\ntimeout: soon\n",
			want: `tasks.yaml: document 3 (task "a"): name: Duplicate value: "a" (also document 2)` + "\n" +
				`tasks.yaml: document 4 (task "b"): timeout: Invalid value: "soon": must be a duration such as 5m`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tasks, err := ParseTasks("tasks.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("ParseTasks = %d tasks, want error %s", len(tasks), tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			if tasks != nil {
				t.Errorf("tasks = %v, want none: a file is taken whole or not at all", tasks)
			}
		})
	}
}

func TestLoadDirReadsAConfigMapMount(t *testing.T) {
	dir := tempDir(t)
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", header+"name: one\ncommand: [x]\n")
	write("b", header+"name: two\ncommand: [x]\n")
	write("c.yaml", header+"name: one\ncommand: [q]\n")
	write("d.yaml", "name: [\n")
	write(".hidden", "not read")
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}

	results, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	var got []string
	for _, r := range results {
		if r.Err != nil {
			got = append(got, r.Name+": error: "+r.Err.Error())
			continue
		}
		got = append(got, r.Name+": "+strings.Join(taskNames(r.Tasks), ","))
	}
	want := []string{
		"a.yaml: one",
		"b: two",
		`c.yaml: error: c.yaml: task "one" is already defined in a.yaml`,
		"d.yaml: error: d.yaml: document 1: not valid YAML: yaml: line 1: did not find expected node content",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("LoadDir:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	_, err = LoadDir(filepath.Join(dir, "missing"))
	if err == nil || !strings.HasPrefix(err.Error(), "reading tasks directory: ") {
		t.Errorf("LoadDir of a missing directory: err = %v, want reading tasks directory: ...", err)
	}
}

// FuzzLoadTasks: the loader never panics, and every error names the file.
func FuzzLoadTasks(f *testing.F) {
	f.Add([]byte(header + "name: a\ncommand: [x]\n"))
	f.Add([]byte(header + "name: a\nscript: Get-Date\nshell: powershell\ntrigger: interval\ninterval: 1m\n"))
	f.Add([]byte("---\n" + header + "name: a\ncommand: [x]\nlimits: {memory: 1Gi, cpuRate: 5}\n---\n- x\n"))
	f.Add([]byte(`{"apiVersion": "executor.hostprocess.dev/v1alpha1", "kind": "Task", "name": "j", "command": ["x"], "maxOutputBytes": 0}`))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("\x00\xff---\n..."))
	f.Fuzz(func(t *testing.T, data []byte) {
		tasks, err := ParseTasks("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if tasks != nil {
				t.Fatalf("tasks and an error")
			}
			return
		}
		for _, task := range tasks {
			if task.Name == "" || task.Hash == "" || (len(task.Command) == 0) == (task.Script == "") {
				t.Fatalf("an invalid task was accepted: %+v", task)
			}
		}
	})
}
