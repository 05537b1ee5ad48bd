//go:build windows

package config

import (
	"testing"

	"golang.org/x/sys/windows"
)

// TestParseSIDReadsWhatWindowsReads asks Windows (ConvertStringSidToSid, through
// windows.StringToSid) to parse each form of a SID string, and requires
// parseSID to accept every form Windows accepts, with Windows' value among
// its readings, so that no form Windows takes for an administrative group
// escapes the refusal.
func TestParseSIDReadsWhatWindowsReads(t *testing.T) {
	forms := []string{
		"S-1-5-32-544", "s-1-5-32-544", "S-1-5-32-0544", "S-1-5-32-01040", "S-1-5-32-00000544",
		"S-1-0x5-32-544", "S-1-0X5-32-544", "S-1-0x000005-32-544",
		"S-1-5-32-0x220", "S-1-5-32-0X220", "S-1-5-32-0x0220",
		"S-1-5-21-1-2-3-512", "S-1-5-21-1-2-3-0x200",
		// Forms that a lenient parser (strtoul) might take: signs, spaces, suffixes.
		"S-1-5-32-+544", "S-1-5-32- 544", "S-1-5-32-544 ", " S-1-5-32-544", "S-1-5-32-544-", "S-1-5-32-544x",
		"S-01-5-32-544", "S-1-5-032-544", "S-1-5-32--544", "S-1-5-32-4294967840",
	}
	for _, s := range forms {
		win, err := windows.StringToSid(s)
		sid, ok := parseSID(s)
		if err != nil {
			t.Logf("%-24q Windows: refused (%v); parseSID: %v", s, err, ok)
			continue
		}
		t.Logf("%-24q Windows: %s", s, win.String())
		if !ok {
			t.Errorf("Windows reads %q as %s, parseSID refuses it", s, win)
			continue
		}
		auth := win.IdentifierAuthority().Value
		var a uint64
		for _, b := range auth {
			a = a<<8 | uint64(b)
		}
		if !sid.authority.has(a) {
			t.Errorf("%q: Windows reads authority %d, parseSID %v", s, a, sid.authority)
		}
		if int(win.SubAuthorityCount()) != len(sid.subs) {
			t.Errorf("%q: Windows reads %d sub-authorities, parseSID %d", s, win.SubAuthorityCount(), len(sid.subs))
			continue
		}
		for i := range sid.subs {
			if v := uint64(win.SubAuthority(uint32(i))); !sid.subs[i].has(v) {
				t.Errorf("%q: Windows reads sub-authority %d as %d, parseSID %v", s, i, v, sid.subs[i])
			}
		}
	}
}
