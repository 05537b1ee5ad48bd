//go:build linux

package harness

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a program the harness started (the webhook). Every Process is
// registered until it has exited, so that StopAll finds it.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, set before done is closed

	mu   sync.Mutex
	logs bytes.Buffer
}

var (
	registryMu sync.Mutex
	registry   = map[*Process]struct{}{}
)

// StartProcess starts bin with args. Its output goes to logFile (appended)
// and is kept for Logs. The process gets SIGKILL when the harness's process
// dies (Pdeathsig), and is registered for StopAll.
func StartProcess(name, logFile, bin string, args, env []string) (*Process, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	p := &Process{Name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	w := io.MultiWriter(f, p)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	registryMu.Lock()
	registry[p] = struct{}{}
	registryMu.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		registryMu.Lock()
		delete(registry, p)
		registryMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Write collects the process's output for Logs.
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

// Logs returns everything the process has written so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited returns a channel closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ExitErr is the process's exit status once it has exited.
func (p *Process) ExitErr() error {
	<-p.done
	return p.err
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM, waits up to grace for the process to exit, then kills it.
func (p *Process) Stop(grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// StopAll stops every registered process that is still running, SIGTERM
// first with a short grace period (the chart's shutdown delay is not waited
// for in full), then SIGKILL.
func StopAll() {
	registryMu.Lock()
	ps := make([]*Process, 0, len(registry))
	for p := range registry {
		ps = append(ps, p)
	}
	registryMu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop(10 * time.Second)
		}()
	}
	wg.Wait()
}
