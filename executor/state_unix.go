//go:build !windows

package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// secureStateDir creates dir (mode 0700) when it is missing, and otherwise
// accepts it only when it is a directory, not a symbolic link, owned by the
// executor's user or root; then it closes it to others (0700).
func secureStateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("state folder %s: %w", dir, err)
		}
		// MkdirAll's mode passes through the umask.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("state folder %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("state folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state folder %s is not a directory (%s): refusing to use it", dir, fi.Mode().Type())
	}
	if err := ownedByExecutor("state folder", dir, fi); err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("state folder %s: %w", dir, err)
		}
	}
	return nil
}

// checkStateFile accepts the state file when it is missing (an error that
// is fs.ErrNotExist) or a regular file, not a symbolic link, owned by the
// executor's user or root; then it closes it to others (0600).
func checkStateFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("state file %s is not a regular file (%s): refusing to use it", path, fi.Mode().Type())
	}
	if err := ownedByExecutor("state file", path, fi); err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("state file %s: %w", path, err)
		}
	}
	return nil
}

// ownedByExecutor accepts fi when the executor's user or root owns it.
func ownedByExecutor(what, path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s %s: no owner to check", what, path)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("%s %s is owned by uid %d, not by the executor (uid %d) or root: refusing to use it", what, path, st.Uid, uid)
	}
	return nil
}
