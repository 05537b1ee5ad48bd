package config

import "testing"

func TestEqualFoldASCII(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal strings match", `NT AUTHORITY\SYSTEM`, `NT AUTHORITY\SYSTEM`, true},
		{"ASCII letters match in any case", `NT AUTHORITY\Local service`, `nt authority\LOCAL SERVICE`, true},
		{"empty strings match", "", "", true},
		{"the Kelvin sign does not match k", "\u212Aey", "key", false},
		{"the Kelvin sign does not match K", "\u212Aey", "Key", false},
		{"the long s does not match s", "\u017Fystem", "system", false},
		{"the long s does not match S", "\u017FYSTEM", "SYSTEM", false},
		{"the Turkish dotless i does not match i", "adm\u0131n", "admin", false},
		{"the Turkish dotless i does not match I", "ADM\u0131N", "ADMIN", false},
		{"the Turkish dotted capital I does not match i", "adm\u0130n", "admin", false},
		{"full-width letters do not match ASCII letters", "\uFF33\uFF39\uFF33\uFF34\uFF25\uFF2D", "SYSTEM", false},
		{"full-width letters do not fold to each other", "\uFF33", "\uFF53", false},
		{"non-ASCII letters must match exactly", "\u00C9", "\u00E9", false},
		{"identical non-ASCII letters match", "caf\u00E9", "CAF\u00E9", true},
		{"a trailing space does not match", "SYSTEM ", "SYSTEM", false},
		{"a trailing dot does not match", "SYSTEM.", "SYSTEM", false},
		{"a missing space does not match", `NT AUTHORITY\LocalService`, `NT AUTHORITY\Local service`, false},
		{"a non-breaking space does not match a space", "Local\u00A0service", "Local service", false},
		{"punctuation is not folded", "a@b", "a`b", false},
		{"brackets are not folded to letters", "[", "{", false},
		{"a prefix does not match", "SYS", "SYSTEM", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EqualFoldASCII(tc.a, tc.b); got != tc.want {
				t.Errorf("EqualFoldASCII(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := EqualFoldASCII(tc.b, tc.a); got != tc.want {
				t.Errorf("EqualFoldASCII(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
			}
			if got := foldASCII(tc.a) == foldASCII(tc.b); got != tc.want {
				t.Errorf("foldASCII(%q) == foldASCII(%q) is %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestLocalGroupsReadyValue(t *testing.T) {
	cases := []struct {
		name   string
		a, b   []string
		wantEq bool
	}{
		{"ignores the order of the groups", []string{"hpc-a", "hpc-b"}, []string{"hpc-b", "hpc-a"}, true},
		{"ignores ASCII case, as Windows compares names", []string{"HPC-A"}, []string{"hpc-a"}, true},
		{"ignores a group listed twice", []string{"hpc-a", "hpc-a"}, []string{"hpc-a"}, true},
		{"changes when a group is added", []string{"hpc-a"}, []string{"hpc-a", "hpc-b"}, false},
		{"does not fold non-ASCII letters (the Kelvin sign is not k)", []string{"\u212a"}, []string{"k"}, false},
		{"tells a name with a newline from two names", []string{"a\nb"}, []string{"a", "b"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := LocalGroupsReadyValue(tc.a), LocalGroupsReadyValue(tc.b)
			if (a == b) != tc.wantEq {
				t.Errorf("LocalGroupsReadyValue(%q) = %s, (%q) = %s; want equal: %t", tc.a, a, tc.b, b, tc.wantEq)
			}
		})
	}
	if got, want := LocalGroupsReadyValue([]string{"hostprocess-agents"}), "837ede1743fd81fb"; got != want {
		t.Errorf("LocalGroupsReadyValue([hostprocess-agents]) = %s, want %s", got, want)
	}
}
