//go:build !linux && !windows

package executor

import (
	"errors"
	"runtime"
)

// NewBackend fails: the executor runs on Windows nodes, and on Linux for
// development.
func NewBackend() (Backend, error) {
	return nil, errors.New("the executor has no backend for " + runtime.GOOS)
}

func shellArgv(shell Shell, path string) ([]string, error) {
	return nil, errors.New("no shell on " + runtime.GOOS)
}
