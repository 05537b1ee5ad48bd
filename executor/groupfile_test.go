//go:build !windows

package executor

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

func TestGroupFile(t *testing.T) {
	cases := []struct {
		name       string
		file       string // "" for no file
		groups     []string
		wantStatus *LocalGroupsStatus
		wantErr    string
		wantFile   string
	}{{
		name:       "no file yet: created with the first regular GID",
		groups:     []string{"hostprocess-agents"},
		wantStatus: &LocalGroupsStatus{Ready: true, Created: []string{"hostprocess-agents"}},
		wantFile:   "hostprocess-agents:x:1000:\n",
	}, {
		name:       "next GID after the highest regular one; system and nogroup GIDs do not count",
		file:       "root:x:0:\nusers:x:100:\nalice:x:1000:\nbob:x:1004:alice\nnogroup:x:65534:",
		groups:     []string{"hpc-a", "hpc-b"},
		wantStatus: &LocalGroupsStatus{Ready: true, Created: []string{"hpc-a", "hpc-b"}},
		wantFile:   "root:x:0:\nusers:x:100:\nalice:x:1000:\nbob:x:1004:alice\nnogroup:x:65534:\nhpc-a:x:1005:\nhpc-b:x:1006:\n",
	}, {
		name:       "existing groups, compared without regard to case as on Windows",
		file:       "# comment\n\nHPC-Users:x:1000:\n",
		groups:     []string{"hpc-users"},
		wantStatus: &LocalGroupsStatus{Ready: true, Existing: []string{"hpc-users"}},
		wantFile:   "# comment\n\nHPC-Users:x:1000:\n",
	}, {
		name:       "a name group(5) cannot hold",
		file:       "a:x:1000:\n",
		groups:     []string{"a", "-b"},
		wantStatus: &LocalGroupsStatus{Existing: []string{"a"}, Failed: map[string]string{"-b": `creating: "-b" cannot be a group name in GROUPFILE (group(5))`}},
		wantErr:    `local groups missing: "-b"`,
		wantFile:   "a:x:1000:\n",
	}, {
		name:       "a malformed file is an error for every group",
		file:       "a:x:1000\n",
		groups:     []string{"a"},
		wantStatus: &LocalGroupsStatus{Failed: map[string]string{"a": `checking: line 1: "a:x:1000" is not name:password:GID:members`}},
		wantErr:    `local groups missing: "a"`,
		wantFile:   "a:x:1000\n",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "group")
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tc.wantStatus.LabelValue = config.LocalGroupsReadyValue(tc.groups)
			for g, reason := range tc.wantStatus.Failed {
				tc.wantStatus.Failed[g] = strings.ReplaceAll(reason, "GROUPFILE", path)
			}
			res, err := ensureLocalGroups(context.Background(), newLocalGroupAPI(path), tc.groups)
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if !reflect.DeepEqual(res.LocalGroups, tc.wantStatus) {
				t.Errorf("status = %+v, want %+v", res.LocalGroups, tc.wantStatus)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.wantFile {
				t.Errorf("file = %q, want %q", got, tc.wantFile)
			}
		})
	}
}

// TestGroupFileTask runs the built-in task through the scheduler with a group
// file, as the executor's --group-file does: the run succeeds and reports
// the groups, which is what labels the node.
func TestGroupFileTask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "group")
	e := newSchedulerEnv(t, "")
	r := e.s.RunDue(context.Background(), []TaskSpec{ensureLocalGroupsTask([]string{"hpc"}, path)})[0]
	want := &LocalGroupsStatus{Ready: true, LabelValue: config.LocalGroupsReadyValue([]string{"hpc"}), Created: []string{"hpc"}}
	if r.Outcome != OutcomeSucceeded || !reflect.DeepEqual(r.LocalGroups, want) {
		t.Errorf("report = %s %s %q %+v, want Succeeded %+v", r.Outcome, r.Reason, r.Message, r.LocalGroups, want)
	}
}
