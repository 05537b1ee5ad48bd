//go:build windows

package executor

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// netapiGroups is the local group store of this machine, through netapi32.
type netapiGroups struct{}

// newLocalGroupAPI returns netapi32's groups; a group file is for the Linux
// backend only (cmd refuses --group-file on Windows).
func newLocalGroupAPI(string) localGroupAPI { return netapiGroups{} }

func (netapiGroups) exists(name string) (bool, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return false, err
	}
	err = netLocalGroupGetInfo(n)
	var errno syscall.Errno
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &errno) && (errno == nerrGroupNotFound || errno == errorNoSuchAlias):
		return false, nil
	default:
		return false, err
	}
}

func (netapiGroups) add(name, comment string) error {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return err
	}
	c, err := windows.UTF16PtrFromString(comment)
	if err != nil {
		return err
	}
	err = netLocalGroupAdd(&localGroupInfo1{Name: n, Comment: c})
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == nerrGroupExists || errno == errorAliasExists) {
		return nil
	}
	return err
}
