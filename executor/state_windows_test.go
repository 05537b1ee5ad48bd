//go:build windows

package executor

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileAllAccess is FILE_ALL_ACCESS, what SDDL writes FA.
const fileAllAccess = windows.STANDARD_RIGHTS_REQUIRED | windows.SYNCHRONIZE | 0x1ff

// executorOwners are the owners the state accepts, as its errors name them.
const executorOwners = "SYSTEM or Administrators"

// anotherUser is how the state's errors name the owner giveToAnotherUser
// gives: on Windows a local account SID that Windows cannot name; under wine,
// which takes owners from the unix uid, ANONYMOUS LOGON, wine's owner of a
// file of another uid.
var anotherUser = func() string {
	if underWine() {
		return `NT AUTHORITY\ANONYMOUS LOGON (S-1-5-7)`
	}
	return anotherUserSID
}()

const anotherUserSID = "S-1-5-21-1004336348-1177238915-682003330-1001"

// foreignFixturesEnv names a folder that hack/test-windows.sh fills, as root,
// with folders dir-<n> and files file-<n> owned by uid 65534: wine keeps no
// owner that SetNamedSecurityInfo sets (it answers success and reports the
// unix owner), so under wine another user's files come from there.
const foreignFixturesEnv = "HOSTPROCESS_WINE_FOREIGN"

// mkdirOpenToEveryone creates dir as a user would in C:\ProgramData: with
// rights for Everyone and Users, inherited by what is created in it.
func mkdirOpenToEveryone(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	setSecurity(t, dir, windows.DACL_SECURITY_INFORMATION, "D:(A;OICI;FA;;;WD)(A;OICI;FA;;;BU)")
}

// giveToAnotherUser makes another account the owner of path: on Windows
// through SetNamedSecurityInfo, under wine by putting a fixture of uid 65534
// in its place (a file keeps its content). Either way GetNamedSecurityInfo
// must then report that owner.
func giveToAnotherUser(t *testing.T, path string) {
	t.Helper()
	wantSID := anotherUserSID
	if underWine() {
		wantSID = "S-1-5-7"
		replaceWithForeignFixture(t, path)
	} else {
		setSecurity(t, path, windows.OWNER_SECURITY_INFORMATION, "O:"+anotherUserSID)
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	if owner, _, err := sd.Owner(); err != nil || owner.String() != wantSID {
		t.Fatalf("owner of %s = %v (%v), want %s", path, owner, err, wantSID)
	}
}

func replaceWithForeignFixture(t *testing.T, path string) {
	t.Helper()
	fixtures := os.Getenv(foreignFixturesEnv)
	if fixtures == "" {
		t.Skipf("wine keeps no owner that SetNamedSecurityInfo sets; $%s (hack/test-windows.sh, as root) holds files of another uid", foreignFixturesEnv)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	kind := "file-"
	if fi.IsDir() {
		kind = "dir-"
	}
	matches, _ := filepath.Glob(filepath.Join(fixtures, kind+"*"))
	if len(matches) == 0 {
		t.Fatalf("no %s* left in %s", kind, fixtures)
	}
	var data []byte
	if !fi.IsDir() {
		if data, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(matches[0], path); err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		if err := os.WriteFile(path, data, 0o666); err != nil {
			t.Fatal(err)
		}
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
// SYSTEM, Administrators or the account the tests run as, and on Windows
// that its DACL allows SYSTEM and Administrators full control and nobody
// else anything, protected from inheritance for the folder. wine keeps no
// DACL (it derives one from the unix mode), so there the DACL the executor
// sets is checked by TestStateACLs instead.
func assertPrivate(t *testing.T, path string, dir bool) {
	t.Helper()
	if err := ownedByExecutor("path", path); err != nil {
		t.Error(err)
	}
	if underWine() {
		return
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	checkPrivateDACL(t, path, sd, dir)
}

// checkPrivateDACL checks that sd's DACL allows SYSTEM and Administrators
// full control and nobody else anything, protected from inheritance when
// protected is set.
func checkPrivateDACL(t *testing.T, what string, sd *windows.SECURITY_DESCRIPTOR, protected bool) {
	t.Helper()
	control, _, err := sd.Control()
	if err != nil {
		t.Fatal(err)
	}
	if protected && control&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("%s: the DACL is not protected from inheritance (%s)", what, sd)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		t.Fatalf("%s: no DACL (%v), which grants everyone everything", what, err)
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
			kind = "not-allow"
		}
		full := "partial"
		if ace.Mask&fileAllAccess == fileAllAccess || ace.Mask&windows.GENERIC_ALL != 0 {
			full = "full"
		}
		got = append(got, kind+" "+sid.String()+" "+full)
	}
	sort.Strings(got)
	want := []string{"allow S-1-5-18 full", "allow S-1-5-32-544 full"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("%s: ACEs %q, want %q (%s)", what, got, want, sd)
	}
}

// TestStateACLs parses the ACLs the executor gives its state folder and
// file with Windows' own SDDL parser: SYSTEM and Administrators full control,
// nobody else anything, protected from C:\ProgramData's inheritable rights,
// and for the folder inherited by the files created in it.
func TestStateACLs(t *testing.T) {
	for _, tc := range []struct{ name, sddl string }{{"folder", stateDirSDDL}, {"file", stateFileSDDL}} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := windows.SecurityDescriptorFromString(tc.sddl)
			if err != nil {
				t.Fatal(err)
			}
			checkPrivateDACL(t, tc.name, sd, true)
			dacl, _, _ := sd.DACL()
			for i := uint32(0); i < uint32(dacl.AceCount); i++ {
				var ace *windows.ACCESS_ALLOWED_ACE
				if err := windows.GetAce(dacl, i, &ace); err != nil {
					t.Fatal(err)
				}
				inherit := ace.Header.AceFlags&(windows.OBJECT_INHERIT_ACE|windows.CONTAINER_INHERIT_ACE) == windows.OBJECT_INHERIT_ACE|windows.CONTAINER_INHERIT_ACE
				if inherit != (tc.name == "folder") {
					t.Errorf("%s: ACE %d inherited by children: %t", tc.name, i, inherit)
				}
			}
		})
	}
}
