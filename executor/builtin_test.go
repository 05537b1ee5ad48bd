package executor

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// fakeGroups is a local group store in memory.
type fakeGroups struct {
	existing  map[string]bool
	checkErr  map[string]error
	createErr map[string]error
}

func (f *fakeGroups) exists(name string) (bool, error) {
	if err := f.checkErr[name]; err != nil {
		return false, err
	}
	return f.existing[name], nil
}

func (f *fakeGroups) add(name, comment string) error {
	if err := f.createErr[name]; err != nil {
		return err
	}
	f.existing[name] = true
	return nil
}

func TestEnsureLocalGroups(t *testing.T) {
	cases := []struct {
		name       string
		api        *fakeGroups
		groups     []string
		wantStatus *LocalGroupsStatus
		wantOutput string
		wantErr    string
	}{
		{
			name:       "creates the missing groups and is ready",
			api:        &fakeGroups{existing: map[string]bool{"hpc-a": true}},
			groups:     []string{"hpc-a", "hpc-b"},
			wantStatus: &LocalGroupsStatus{Ready: true, LabelValue: "a65938344d47109f", Existing: []string{"hpc-a"}, Created: []string{"hpc-b"}},
			wantOutput: "group \"hpc-a\" exists\ngroup \"hpc-b\" created\n",
		},
		{
			name:   "is not ready when a group cannot be created, and names it",
			api:    &fakeGroups{existing: map[string]bool{}, createErr: map[string]error{"bad": errors.New("Access is denied.")}},
			groups: []string{"bad", "good"},
			wantStatus: &LocalGroupsStatus{Created: []string{"good"},
				Failed: map[string]string{"bad": "creating: Access is denied."}},
			wantOutput: "group \"bad\": creating: Access is denied.\ngroup \"good\" created\n",
			wantErr:    `local groups missing: "bad"`,
		},
		{
			name:       "is not ready when a group cannot be checked",
			api:        &fakeGroups{existing: map[string]bool{}, checkErr: map[string]error{"x": errors.New("RPC failed")}},
			groups:     []string{"x"},
			wantStatus: &LocalGroupsStatus{Failed: map[string]string{"x": "checking: RPC failed"}},
			wantOutput: "group \"x\": checking: RPC failed\n",
			wantErr:    `local groups missing: "x"`,
		},
		{
			name:       "is ready with no groups",
			api:        &fakeGroups{existing: map[string]bool{}},
			wantStatus: &LocalGroupsStatus{Ready: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ensureLocalGroups(context.Background(), tc.api, tc.groups)
			if tc.wantStatus.LabelValue == "" {
				tc.wantStatus.LabelValue = config.LocalGroupsReadyValue(tc.groups)
			}
			if got := errString(err); got != tc.wantErr {
				t.Errorf("err = %q, want %q", got, tc.wantErr)
			}
			if !reflect.DeepEqual(res.LocalGroups, tc.wantStatus) {
				t.Errorf("status = %+v, want %+v", res.LocalGroups, tc.wantStatus)
			}
			if res.Output != tc.wantOutput {
				t.Errorf("output = %q, want %q", res.Output, tc.wantOutput)
			}
		})
	}
}

func TestEnsureLocalGroupsTaskHashFollowsTheGroups(t *testing.T) {
	a := EnsureLocalGroupsTask([]string{"x", "y"})
	b := EnsureLocalGroupsTask([]string{"y", "x"})
	c := EnsureLocalGroupsTask([]string{"x"})
	if a.Hash != b.Hash {
		t.Errorf("the order of the groups changed the hash")
	}
	if a.Hash == c.Hash {
		t.Errorf("a different list of groups kept the hash")
	}
	if a.Name != BuiltinEnsureLocalGroups || a.Trigger != TriggerInterval || a.Interval != LocalGroupsInterval {
		t.Errorf("task = %s %s %s, want %s interval %s", a.Name, a.Trigger, a.Interval, BuiltinEnsureLocalGroups, LocalGroupsInterval)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
