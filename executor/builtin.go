package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// builtinFunc is a task the executor runs itself instead of a process.
type builtinFunc func(ctx context.Context) (builtinResult, error)

type builtinResult struct {
	Output      string
	LocalGroups *LocalGroupsStatus
}

// UnsupportedError says a task cannot run on this platform.
type UnsupportedError struct{ What string }

func (e *UnsupportedError) Error() string { return e.What + " is not supported on this platform" }

const (
	// BuiltinEnsureLocalGroups is the name of the built-in task that creates
	// the admission configuration's allowedLocalGroups on the node. Task
	// files cannot use the name: theirs are DNS labels, without capitals.
	BuiltinEnsureLocalGroups = "ensureLocalGroups"
	// LocalGroupsInterval is how often ensureLocalGroups checks again, so a
	// group deleted by hand comes back and the readiness stays true.
	LocalGroupsInterval = 10 * time.Minute
	// LocalGroupsReadyLabel is the node label the Kubernetes reporter sets to
	// LocalGroupsStatus.LabelValue when every group exists
	// (LocalGroupsStatus.Ready), and to "false" when one is missing.
	LocalGroupsReadyLabel = "hostprocess.dev/local-groups-ready"
	// localGroupComment is the description of groups the executor creates.
	localGroupComment = "Created by hostprocess-admission executor for HostProcess containers"
)

// LocalGroupsStatus is what ensureLocalGroups found and did.
type LocalGroupsStatus struct {
	// Ready is set when every group exists.
	Ready bool `json:"ready"`
	// LabelValue stands for the groups checked
	// (config.LocalGroupsReadyValue): the value of the node label
	// hostprocess.dev/local-groups-ready when they all exist, which the
	// webhook's local-group node affinity requires.
	LabelValue string   `json:"labelValue"`
	Existing   []string `json:"existing,omitempty"`
	Created    []string `json:"created,omitempty"`
	// Failed maps a group to why it could not be checked or created.
	Failed map[string]string `json:"failed,omitempty"`
}

// localGroupAPI is the node's local group store: netapi32 on Windows.
type localGroupAPI interface {
	// exists reports whether the local group exists.
	exists(name string) (bool, error)
	// add creates the local group; an "already exists" answer is not an
	// error.
	add(name, comment string) error
}

// EnsureLocalGroupsTask returns the built-in task for groups, which come from
// the admission configuration's allowedLocalGroups. It runs at start, when the
// list changes and every LocalGroupsInterval.
func EnsureLocalGroupsTask(groups []string) TaskSpec {
	return ensureLocalGroupsTask(groups, "")
}

// ensureLocalGroupsTask is EnsureLocalGroupsTask keeping the groups, off
// Windows, in the group(5) file groupFile (Options.GroupFile).
func ensureLocalGroupsTask(groups []string, groupFile string) TaskSpec {
	groups = append([]string(nil), groups...)
	sort.Strings(groups)
	spec := TaskSpec{
		Name:           BuiltinEnsureLocalGroups,
		Trigger:        TriggerInterval,
		Interval:       LocalGroupsInterval,
		Timeout:        2 * time.Minute,
		MaxOutputBytes: DefaultMaxOutputBytes,
		Source:         "allowedLocalGroups",
	}
	// The groups are the definition: a change of the list is a new hash.
	spec.Hash = hashStrings(append([]string{hashSpec(&spec)}, groups...))
	api := newLocalGroupAPI(groupFile)
	spec.builtin = func(ctx context.Context) (builtinResult, error) {
		return ensureLocalGroups(ctx, api, groups)
	}
	return spec
}

// ensureLocalGroups creates every missing group. It fails when a group could
// not be checked or created; the status tells which.
func ensureLocalGroups(ctx context.Context, api localGroupAPI, groups []string) (builtinResult, error) {
	if api == nil {
		return builtinResult{}, &UnsupportedError{What: "creating local groups (NetLocalGroupAdd)"}
	}
	status := &LocalGroupsStatus{LabelValue: config.LocalGroupsReadyValue(groups)}
	var out strings.Builder
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return builtinResult{Output: out.String(), LocalGroups: status}, err
		}
		ok, err := api.exists(g)
		switch {
		case err != nil:
			setFailed(status, g, "checking: "+err.Error())
			fmt.Fprintf(&out, "group %q: checking: %v\n", g, err)
		case ok:
			status.Existing = append(status.Existing, g)
			fmt.Fprintf(&out, "group %q exists\n", g)
		default:
			if err := api.add(g, localGroupComment); err != nil {
				setFailed(status, g, "creating: "+err.Error())
				fmt.Fprintf(&out, "group %q: creating: %v\n", g, err)
			} else {
				status.Created = append(status.Created, g)
				fmt.Fprintf(&out, "group %q created\n", g)
			}
		}
	}
	status.Ready = len(status.Failed) == 0
	res := builtinResult{Output: out.String(), LocalGroups: status}
	if !status.Ready {
		names := make([]string, 0, len(status.Failed))
		for g := range status.Failed {
			names = append(names, fmt.Sprintf("%q", g))
		}
		sort.Strings(names)
		return res, errors.New("local groups missing: " + strings.Join(names, ", "))
	}
	return res, nil
}

func setFailed(s *LocalGroupsStatus, group, reason string) {
	if s.Failed == nil {
		s.Failed = map[string]string{}
	}
	s.Failed[group] = reason
}
