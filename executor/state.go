package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// State remembers which definitions of each once task have run (the last
// onceHistory of them), so that none runs again, also not after a restart.
// With no path it lives in memory only.
//
// The state file is trusted only in a folder that the executor created
// itself or that belongs to it: on Windows a folder owned by SYSTEM or
// Administrators (or the executor's own account) whose ACL grants SYSTEM and
// Administrators alone, elsewhere one owned by the executor's user or root
// and closed to others (0700). A folder or file owned by anyone else is not
// used: the executor keeps the state in memory and says why (StateStatus),
// so that a user of the node can neither stop it nor mark once tasks as done.
// A state file that cannot be read as JSON is reported and replaced.
type State struct {
	path   string
	mu     sync.Mutex
	data   stateFile
	status StateStatus
}

// StateStatus says where the executor remembers its once tasks, and why not
// in the state file when it does not. It is in the started JSON line and the
// executorState key of the status ConfigMap.
type StateStatus struct {
	// File is the --state-file; empty when none was given.
	File string `json:"file,omitempty"`
	// Persistent is true when the once tasks that run are written to File,
	// so that they do not run again after a restart.
	Persistent bool `json:"persistent"`
	// Problem says what was wrong with the folder or the file: a folder or
	// file that is not the executor's (kept in memory instead), or a file
	// that could not be read as the state (replaced by an empty state).
	Problem string `json:"problem,omitempty"`
}

type stateFile struct {
	// Once maps a task name to the hashes of its definitions that ran,
	// oldest first.
	Once map[string][]string `json:"once"`
}

// onceHistory is how many definitions of a task State remembers.
const onceHistory = 16

// OpenState opens the state file at path; an empty path keeps the state in
// memory. Its folder is created when missing, with access for the executor's
// account and administrators only (secureStateDir), and its access is
// narrowed to that when it belongs to the executor. A missing file is an
// empty state.
//
// Nothing a user of the node can do to the folder or the file makes OpenState
// fail, since an executor that exits at start would stay stopped: a folder
// or file that belongs to someone else is not used (the state lives in
// memory, so once tasks run again after a restart, never skipped), and a file
// that is not the state's JSON is replaced by an empty state (its once tasks
// run again). Status says which happened. OpenState fails only for a path
// that is not absolute, a mistake of the command line.
func OpenState(path string) (*State, error) {
	s := &State{path: path, data: stateFile{Once: map[string][]string{}}}
	if path == "" {
		return s, nil
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("state file %q: not an absolute path", path)
	}
	s.status.File = path
	if err := secureStateDir(filepath.Dir(path)); err != nil {
		return s.inMemory(err), nil
	}
	switch err := checkStateFile(path); {
	case errors.Is(err, os.ErrNotExist):
		s.status.Persistent = true
		return s, nil
	case err != nil:
		return s.inMemory(err), nil
	}
	s.status.Persistent = true
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &s.data)
	}
	if err != nil {
		s.data = stateFile{Once: map[string][]string{}}
		s.status.Problem = fmt.Sprintf("state file %s could not be read (%v): replaced by an empty state, so its once tasks run again", path, err)
		if err := s.save(); err != nil {
			return s.inMemory(err), nil
		}
		return s, nil
	}
	if s.data.Once == nil {
		s.data.Once = map[string][]string{}
	}
	return s, nil
}

// inMemory keeps the state in memory because of err.
func (s *State) inMemory(err error) *State {
	s.path = ""
	s.status.Persistent = false
	s.status.Problem = err.Error() + "; once tasks are remembered in memory only, and run again when the executor restarts"
	return s
}

// Status says where the state is kept and what was wrong, if anything.
func (s *State) Status() StateStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// OnceDone reports whether the definition hash of task has run.
func (s *State) OnceDone(task, hash string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.data.Once[task] {
		if h == hash {
			return true
		}
	}
	return false
}

// MarkOnce records that hash of task ran and saves the state.
func (s *State) MarkOnce(task, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	hashes := append(s.data.Once[task], hash)
	if len(hashes) > onceHistory {
		hashes = hashes[len(hashes)-onceHistory:]
	}
	s.data.Once[task] = hashes
	return s.save()
}

// save writes the state to a temporary file of a new, random name, created
// exclusively in the state folder (so that no file planted there is
// written through), and renames it over the state file.
func (s *State) save() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(s.path)
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}
