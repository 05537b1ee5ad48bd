//go:build !windows

package executor

import (
	"fmt"
	"os"
	"testing"
)

// anotherUser is how the state's errors name the owner that
// giveToAnotherUser sets, executorOwners whom they accept.
var (
	anotherUser    = "uid 65534"
	executorOwners = fmt.Sprintf("the executor (uid %d) or root", os.Geteuid())
)

// mkdirOpenToEveryone creates dir as a user would in a folder where everyone
// may create folders: with rights for everyone.
func mkdirOpenToEveryone(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
}

// giveToAnotherUser makes nobody (uid 65534) the owner of path.
func giveToAnotherUser(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

// assertPrivate checks that path is the executor's and closed to others.
func assertPrivate(t *testing.T, path string, dir bool) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := os.FileMode(0o600)
	if dir {
		want = 0o700 | os.ModeDir
	}
	if got := fi.Mode(); got != want {
		t.Errorf("%s has mode %s, want %s", path, got, want)
	}
}
