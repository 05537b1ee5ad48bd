package webhook

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// PolicySource holds the policy compiled from the configuration file and
// swaps in a new one when the file changes, as a ConfigMap mount does. An
// invalid new file keeps the last good policy; the error is logged and
// counted.
type PolicySource struct {
	path     string
	interval time.Duration
	metrics  *Metrics
	log      logr.Logger

	current atomic.Pointer[policy.Policy]
	mu      sync.Mutex
	last    []byte // content of the file last tried
	lastErr error
}

// NewPolicySource loads path ("" means the defaults). The first load must
// succeed: a bad configuration stops start-up.
func NewPolicySource(path string, interval time.Duration, m *Metrics, log logr.Logger) (*PolicySource, error) {
	s := &PolicySource{path: path, interval: interval, metrics: m, log: log}
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("reading configuration: %w", err)
		}
	}
	p, err := compile(path, data)
	if err != nil {
		return nil, err
	}
	s.current.Store(p)
	s.last = data
	m.ConfigReloaded(nil)
	return s, nil
}

// StaticPolicy returns a source that always returns p, for tests.
func StaticPolicy(p *policy.Policy) *PolicySource {
	s := &PolicySource{}
	s.current.Store(p)
	return s
}

func compile(path string, data []byte) (*policy.Policy, error) {
	cfg, err := config.Decode(data)
	if err != nil {
		if path == "" {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return policy.New(cfg)
}

// Policy returns the policy in force.
func (s *PolicySource) Policy() *policy.Policy { return s.current.Load() }

// LastError returns the error of the last reload, nil when it succeeded.
func (s *PolicySource) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Reload re-reads the file and swaps in its policy when it changed and is
// valid.
func (s *PolicySource) Reload() error {
	if s.path == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if err == nil && bytes.Equal(data, s.last) {
		return s.lastErr
	}
	s.last = data
	var p *policy.Policy
	if err != nil {
		err = fmt.Errorf("reading configuration: %w", err)
	} else {
		p, err = compile(s.path, data)
	}
	s.lastErr = err
	s.metrics.ConfigReloaded(err)
	if err != nil {
		s.log.Error(err, "configuration not reloaded; the last good configuration stays in force", "path", s.path)
		return err
	}
	s.current.Store(p)
	s.log.Info("configuration reloaded", "path", s.path, "mode", p.Config().Mode, "workloadMode", p.Config().WorkloadMode)
	return nil
}

// Start polls the file until ctx is done. Polling follows the symlink swap
// of a ConfigMap volume, which file watches on the old target miss.
func (s *PolicySource) Start(ctx context.Context) error {
	if s.path == "" || s.interval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = s.Reload()
		}
	}
}

// NeedLeaderElection is false: every replica reloads.
func (s *PolicySource) NeedLeaderElection() bool { return false }
