package executor

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const inMemorySuffix = "; once tasks are remembered in memory only, and run again when the executor restarts"

// TestStateFolderAndFile runs OpenState against folders and files that a
// user of the node could have prepared, on this platform's backend (the
// owners and rights are the OS's own: chown and modes on Linux, the Windows
// security API under wine). None of them makes OpenState fail, and none
// makes a once task count as done when it did not run.
func TestStateFolderAndFile(t *testing.T) {
	cases := []struct {
		name string
		// prepare makes what a user found or planted in dir, the state
		// folder, whose state file is file.
		prepare func(t *testing.T, dir, file string)
		// wantProblem is the StateStatus.Problem for dir and file.
		wantProblem func(dir, file string) string
		// persistent is whether the state survives a restart.
		persistent bool
	}{
		{
			name:       "creates a missing state folder closed to everyone but the executor and administrators",
			prepare:    func(*testing.T, string, string) {},
			persistent: true,
		},
		{
			name: "narrows a folder of its own that everyone could write",
			prepare: func(t *testing.T, dir, _ string) {
				mkdirOpenToEveryone(t, dir)
			},
			persistent: true,
		},
		{
			name: "refuses a pre-created state folder owned by another user and keeps the state in memory",
			prepare: func(t *testing.T, dir, _ string) {
				mkdirOpenToEveryone(t, dir)
				giveToAnotherUser(t, dir)
			},
			wantProblem: func(dir, _ string) string {
				return "state folder " + dir + " is owned by " + anotherUser + ", not by " + executorOwners + ": refusing to use it" + inMemorySuffix
			},
		},
		{
			name: "refuses a state file owned by another user and keeps the state in memory",
			prepare: func(t *testing.T, dir, file string) {
				mkdirOpenToEveryone(t, dir)
				writeFile(t, file, `{"once":{"planted":["0000"]}}`)
				giveToAnotherUser(t, file)
			},
			wantProblem: func(_, file string) string {
				return "state file " + file + " is owned by " + anotherUser + ", not by " + executorOwners + ": refusing to use it" + inMemorySuffix
			},
		},
		{
			name: "never writes through a temporary file planted under the name it used to use",
			prepare: func(t *testing.T, dir, file string) {
				mkdirOpenToEveryone(t, dir)
				writeFile(t, file+".tmp", "planted")
				giveToAnotherUser(t, file+".tmp")
			},
			persistent: true,
		},
		{
			name: "replaces a state file that is not JSON and says so",
			prepare: func(t *testing.T, dir, file string) {
				mkdirOpenToEveryone(t, dir)
				writeFile(t, file, `{"once": {"task": [`)
			},
			wantProblem: func(_, file string) string {
				return "state file " + file + " could not be read (unexpected end of JSON input): replaced by an empty state, so its once tasks run again"
			},
			persistent: true,
		},
		{
			name: "replaces a state file of the wrong shape and says so",
			prepare: func(t *testing.T, dir, file string) {
				mkdirOpenToEveryone(t, dir)
				writeFile(t, file, `{"once": ["task"]}`)
			},
			wantProblem: func(_, file string) string {
				return "state file " + file + " could not be read (json: cannot unmarshal array into Go struct field stateFile.once of type map[string][]string): replaced by an empty state, so its once tasks run again"
			},
			persistent: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(tempDir(t), "hostprocess-admission")
			file := filepath.Join(dir, "executor-state.json")
			tc.prepare(t, dir, file)
			var before map[string]string
			if !tc.persistent {
				before = snapshot(t, dir)
			}

			s, err := OpenState(file)
			if err != nil {
				t.Fatalf("OpenState: %v", err)
			}
			want := StateStatus{File: file, Persistent: tc.persistent}
			if tc.wantProblem != nil {
				want.Problem = tc.wantProblem(dir, file)
			}
			if got := s.Status(); got != want {
				t.Errorf("Status() =\n%+v\nwant\n%+v", got, want)
			}
			if s.OnceDone("planted", "0000") || s.OnceDone("task", "h1") {
				t.Errorf("a once task counts as done though it never ran here")
			}
			if err := s.MarkOnce("task", "h1"); err != nil {
				t.Fatalf("MarkOnce: %v", err)
			}

			if !tc.persistent {
				// Nothing of the refused folder was written.
				if after := snapshot(t, dir); !maps.Equal(after, before) {
					t.Errorf("the refused folder changed:\n%v\nwas\n%v", after, before)
				}
				return
			}
			assertPrivate(t, dir, true)
			assertPrivate(t, file, false)
			if got, want := readFile(t, file), "{\n  \"once\": {\n    \"task\": [\n      \"h1\"\n    ]\n  }\n}"; got != want {
				t.Errorf("state file = %q, want %q", got, want)
			}
			if got, err := os.ReadFile(file + ".tmp"); err == nil && string(got) != "planted" {
				t.Errorf("the planted %s.tmp was written: %q", file, got)
			}
			for _, e := range readDir(t, dir) {
				if strings.HasSuffix(e, ".tmp") && e != filepath.Base(file)+".tmp" {
					t.Errorf("temporary file %s left behind", e)
				}
			}
			// A restarted executor remembers the run and has no problem.
			again, err := OpenState(file)
			if err != nil {
				t.Fatalf("OpenState again: %v", err)
			}
			if st := again.Status(); st != (StateStatus{File: file, Persistent: true}) {
				t.Errorf("after a restart Status() = %+v", st)
			}
			if !again.OnceDone("task", "h1") {
				t.Errorf("after a restart the run of task h1 is forgotten")
			}
		})
	}
}

func TestStateRefusesARelativePath(t *testing.T) {
	_, err := OpenState("state.json")
	if err == nil || err.Error() != `state file "state.json": not an absolute path` {
		t.Errorf("OpenState(state.json) = %v, want an error for the relative path", err)
	}
}

func TestStateWithoutAFileIsInMemory(t *testing.T) {
	s, err := OpenState("")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st != (StateStatus{}) {
		t.Errorf("Status() = %+v, want none", st)
	}
	if err := s.MarkOnce("a", "h"); err != nil || !s.OnceDone("a", "h") {
		t.Errorf("MarkOnce = %v, OnceDone = %t", err, s.OnceDone("a", "h"))
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// snapshot is the names and contents of the files of dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range readDir(t, dir) {
		m[name] = readFile(t, filepath.Join(dir, name))
	}
	return m
}
