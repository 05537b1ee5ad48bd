//go:build windows

package executor

import (
	"os"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// anotherUser is a local account SID that is neither SYSTEM, Administrators
// nor the account the tests run as; Windows cannot name it, so the errors
// give the SID. executorOwners are the owners the state accepts.
// fileAllAccess is FILE_ALL_ACCESS, what SDDL writes FA.
const fileAllAccess = windows.STANDARD_RIGHTS_REQUIRED | windows.SYNCHRONIZE | 0x1ff

const (
	anotherUser    = "S-1-5-21-1004336348-1177238915-682003330-1001"
	executorOwners = "SYSTEM or Administrators"
)

// mkdirOpenToEveryone creates dir as a user would in C:\ProgramData: with
// rights for Everyone and Users, inherited by what is created in it.
func mkdirOpenToEveryone(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	setSecurity(t, dir, windows.DACL_SECURITY_INFORMATION, "D:(A;OICI;FA;;;WD)(A;OICI;FA;;;BU)")
}

// giveToAnotherUser makes anotherUser the owner of path, through
// SetNamedSecurityInfo.
func giveToAnotherUser(t *testing.T, path string) {
	t.Helper()
	setSecurity(t, path, windows.OWNER_SECURITY_INFORMATION, "O:"+anotherUser)
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	if owner, _, err := sd.Owner(); err != nil || owner.String() != anotherUser {
		t.Fatalf("owner of %s = %v (%v), want %s", path, owner, err, anotherUser)
	}
}

func setSecurity(t *testing.T, path string, info windows.SECURITY_INFORMATION, sddl string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		t.Fatal(err)
	}
	var owner *windows.SID
	var dacl *windows.ACL
	if info&windows.OWNER_SECURITY_INFORMATION != 0 {
		if owner, _, err = sd.Owner(); err != nil {
			t.Fatal(err)
		}
	}
	if info&windows.DACL_SECURITY_INFORMATION != 0 {
		if dacl, _, err = sd.DACL(); err != nil {
			t.Fatal(err)
		}
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, info, owner, nil, dacl, nil); err != nil {
		t.Fatalf("SetNamedSecurityInfo(%s, %s): %v", path, sddl, err)
	}
}

// assertPrivate checks, through GetNamedSecurityInfo, that path is owned by
// SYSTEM, Administrators or the account the tests run as, that its DACL is
// protected from inheritance (the folder's) or inherited from the folder
// (the file's), and that it allows SYSTEM and Administrators full control
// and nobody else anything.
func assertPrivate(t *testing.T, path string, dir bool) {
	t.Helper()
	if err := ownedByExecutor("path", path); err != nil {
		t.Error(err)
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	control, _, err := sd.Control()
	if err != nil {
		t.Fatal(err)
	}
	if dir && control&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("%s: the DACL is not protected from inheritance (%s)", path, sd)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		t.Fatalf("%s: no DACL (%v), which grants everyone everything", path, err)
	}
	var got []string
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			t.Fatal(err)
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		kind := "allow"
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			kind = "type " + string(rune('0'+ace.Header.AceType))
		}
		full := ace.Mask&fileAllAccess == fileAllAccess || ace.Mask&windows.GENERIC_ALL != 0
		got = append(got, kind+" "+sid.String()+" full="+map[bool]string{true: "yes", false: "no"}[full])
	}
	sort.Strings(got)
	want := []string{"allow S-1-5-18 full=yes", "allow S-1-5-32-544 full=yes"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("%s: ACEs %q, want %q (%s)", path, got, want, sd)
	}
}
