//go:build windows

package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The ACLs of the state folder and file: full control for SYSTEM and
// Administrators, nothing for anyone else, and protected (P) so that no right
// is inherited from C:\ProgramData, which lets every user create folders and
// files. The folder's entries are inherited by what is created in it
// (OICI), the temporary files included.
const (
	stateDirSDDL  = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	stateFileSDDL = "D:P(A;;FA;;;SY)(A;;FA;;;BA)"
)

// secureStateDir creates dir with stateDirSDDL when it is missing, and
// otherwise accepts it only when it is a directory (not a link or junction)
// owned by SYSTEM, Administrators or the executor's own account; then it
// sets stateDirSDDL on it, replacing whatever rights it had.
func secureStateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		err = createStateDir(dir)
		if err == nil {
			return nil
		}
		if !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return fmt.Errorf("state folder %s: %w", dir, err)
		}
		// Someone created it meanwhile: judge it as any folder found there.
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("state folder %s: %w", dir, err)
	}
	if fi.Mode().Type() != fs.ModeDir {
		return fmt.Errorf("state folder %s is not a directory (%s): refusing to use it", dir, fi.Mode().Type())
	}
	if err := ownedByExecutor("state folder", dir); err != nil {
		return err
	}
	if err := setDACL(dir, stateDirSDDL); err != nil {
		return fmt.Errorf("state folder %s: setting its ACL: %w", dir, err)
	}
	return nil
}

// createStateDir creates dir, and its parents when missing, with
// stateDirSDDL from the start.
func createStateDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString(stateDirSDDL)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return windows.CreateDirectory(p, sa)
}

// checkStateFile accepts the state file when it is missing (an error that
// is fs.ErrNotExist) or a regular file (not a link) owned by SYSTEM,
// Administrators or the executor's own account; then it sets stateFileSDDL
// on it.
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
	if err := ownedByExecutor("state file", path); err != nil {
		return err
	}
	if err := setDACL(path, stateFileSDDL); err != nil {
		return fmt.Errorf("state file %s: setting its ACL: %w", path, err)
	}
	return nil
}

// ownedByExecutor accepts path when its owner is SYSTEM, Administrators or
// the account the executor runs as.
func ownedByExecutor(what, path string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s %s: reading its owner: %w", what, path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("%s %s: it has no owner to check (%v): refusing to use it", what, path, err)
	}
	if owner.IsWellKnown(windows.WinLocalSystemSid) || owner.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
		return nil
	}
	if u, err := windows.GetCurrentProcessToken().GetTokenUser(); err == nil && windows.EqualSid(owner, u.User.Sid) {
		return nil
	}
	return fmt.Errorf("%s %s is owned by %s, not by SYSTEM or Administrators: refusing to use it", what, path, accountName(owner))
}

// accountName is DOMAIN\name (SID) when Windows knows the account, else the
// SID.
func accountName(sid *windows.SID) string {
	account, domain, _, err := sid.LookupAccount("")
	if err != nil || account == "" {
		return sid.String()
	}
	if domain != "" {
		account = domain + `\` + account
	}
	return account + " (" + sid.String() + ")"
}

// setDACL replaces the DACL of path with the protected one of sddl.
func setDACL(path, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}
