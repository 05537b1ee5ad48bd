//go:build windows

package config

import (
	"testing"

	"golang.org/x/sys/windows"
)

// TestSpellingsResolveToTheirSID asks Windows (LookupAccountName) for the SID of
// every spelling config treats as a well-known service account: each must
// resolve to that account's SID, so that allowing one spelling allows no other
// account.
func TestSpellingsResolveToTheirSID(t *testing.T) {
	for _, a := range wellKnownAccounts {
		for _, name := range []string{a.spelling, foldASCII(a.spelling)} {
			sid, _, _, err := windows.LookupSID("", name)
			if err != nil {
				t.Errorf("LookupAccountName(%q): %v; config takes it for %s", name, err, a.sid)
				continue
			}
			if sid.String() != a.sid {
				t.Errorf("LookupAccountName(%q) = %s, config takes it for %s", name, sid, a.sid)
			}
		}
	}
	// Names config does not take for these accounts, for the record.
	for _, name := range []string{`NT AUTHORITY\LocalSystem`, "SYSTEM", "LocalService", `NT AUTHORITY\Local  Service`, "NT AUTHORITY\\L\u043ecal Service"} {
		sid, _, _, err := windows.LookupSID("", name)
		if err != nil {
			t.Logf("LookupAccountName(%q): %v", name, err)
		} else {
			t.Logf("LookupAccountName(%q) = %s", name, sid)
		}
	}
}
