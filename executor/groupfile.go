//go:build !windows

package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Group IDs given to groups that groupFile adds: the range useradd(8) gives
// to regular groups (login.defs GID_MIN and GID_MAX).
const (
	groupFileMinGID = 1000
	groupFileMaxGID = 60000
)

// groupFile is the Linux backend of ensureLocalGroups: a group(5) file that
// stands in for the node's local group store (--group-file). It lets the
// executor run for a simulated Windows node (the e2e suite's kwok nodes)
// and prepare the groups and the node label there as it would on Windows.
// Names compare without regard to case, as Windows compares group names.
type groupFile struct{ path string }

func (g groupFile) exists(name string) (bool, error) {
	data, err := os.ReadFile(g.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, found, err := scanGroups(data, name)
	return found, err
}

// add appends "name:x:GID:" with the next free GID of the regular range.
// group(5) has no comment field, so the comment is not kept. The file is
// rewritten whole through a temporary file and a rename, so a reader never
// sees half a line.
func (g groupFile) add(name, _ string) error {
	if name == "" || strings.ContainsAny(name, ":\n") || strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-") {
		return fmt.Errorf("%q cannot be a group name in %s (group(5))", name, g.path)
	}
	data, err := os.ReadFile(g.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	maxGID, found, err := scanGroups(data, name)
	if err != nil || found {
		return err
	}
	gid := max(maxGID+1, groupFileMinGID)
	if gid > groupFileMaxGID {
		return fmt.Errorf("no free group ID in %d-%d in %s", groupFileMinGID, groupFileMaxGID, g.path)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	data = fmt.Appendf(data, "%s:x:%d:\n", name, gid)
	tmp, err := os.CreateTemp(filepath.Dir(g.path), "."+filepath.Base(g.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), g.path)
}

// scanGroups reads group(5) lines: whether name is there, and the highest
// GID of the regular range.
func scanGroups(data []byte, name string) (maxGID int, found bool, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 {
			return 0, false, fmt.Errorf("line %d: %q is not name:password:GID:members", n, line)
		}
		if strings.EqualFold(f[0], name) {
			found = true
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return 0, false, fmt.Errorf("line %d: GID %q: not a number", n, f[2])
		}
		if gid >= groupFileMinGID && gid <= groupFileMaxGID && gid > maxGID {
			maxGID = gid
		}
	}
	return maxGID, found, sc.Err()
}
