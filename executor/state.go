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
type State struct {
	path string
	mu   sync.Mutex
	data stateFile
}

type stateFile struct {
	// Once maps a task name to the hashes of its definitions that ran,
	// oldest first.
	Once map[string][]string `json:"once"`
}

// onceHistory is how many definitions of a task State remembers.
const onceHistory = 16

// OpenState reads the state file at path; a missing file is an empty state.
// An empty path keeps the state in memory.
func OpenState(path string) (*State, error) {
	s := &State{path: path, data: stateFile{Once: map[string][]string{}}}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	if err := json.Unmarshal(data, &s.data); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if s.data.Once == nil {
		s.data.Once = map[string][]string{}
	}
	return s, nil
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

func (s *State) save() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}
