package config

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestSameAccount(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"the same name", `NT AUTHORITY\SYSTEM`, `NT AUTHORITY\SYSTEM`, true},
		{"ASCII case is folded", `NT AUTHORITY\Local service`, `nt authority\LOCAL SERVICE`, true},
		{"Local service matches LocalService", `NT AUTHORITY\Local service`, `NT AUTHORITY\LocalService`, true},
		{"NetworkService matches NETWORK SERVICE", `NT AUTHORITY\NetworkService`, `NT AUTHORITY\NETWORK SERVICE`, true},
		{"NetworkService matches network service", `NT AUTHORITY\NetworkService`, `NT AUTHORITY\network service`, true},
		{"LOCAL SERVICE is not NETWORK SERVICE", `NT AUTHORITY\LOCAL SERVICE`, `NT AUTHORITY\NETWORK SERVICE`, false},
		{"LocalService is not SYSTEM", `NT AUTHORITY\LocalService`, `NT AUTHORITY\SYSTEM`, false},
		{"a name without the domain is another string", `NT AUTHORITY\LocalService`, `LocalService`, false},
		{"two spaces are not one", `NT AUTHORITY\Local service`, `NT AUTHORITY\Local  service`, false},
		{"LocalSystem is not a spelling the runtime logs on", `NT AUTHORITY\SYSTEM`, `NT AUTHORITY\LocalSystem`, false},
		{"the Kelvin sign never matches K", `NT AUTHORITY\NetworkService`, "NT AUTHORITY\\Networ\u212aService", false},
		{"a dotless i never matches i", `NT AUTHORITY\LocalService`, "NT AUTHOR\u0131TY\\LocalService", false},
		{"a Cyrillic o never matches o", `NT AUTHORITY\Local service`, "NT AUTHORITY\\L\u043ecal service", false},
		{"a SID is another string", `NT AUTHORITY\SYSTEM`, "S-1-5-18", false},
		{"other names fold ASCII case only", "hostprocess-agents", "HOSTPROCESS-AGENTS", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SameAccount(tc.a, tc.b); got != tc.want {
				t.Errorf("SameAccount(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := SameAccount(tc.b, tc.a); got != tc.want {
				t.Errorf("SameAccount(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
			}
			if got := AccountKey(tc.a) == AccountKey(tc.b); got != tc.want {
				t.Errorf("AccountKey(%q) == AccountKey(%q) is %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestAccountSpellings(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`NT AUTHORITY\SYSTEM`, []string{`nt authority\system`}},
		{`NT AUTHORITY\Local service`, []string{`nt authority\local service`, `nt authority\localservice`}},
		{`nt authority\networkservice`, []string{`nt authority\network service`, `nt authority\networkservice`}},
		{"Hostprocess-Agents", []string{"hostprocess-agents"}},
	}
	for _, tc := range tests {
		if got := AccountSpellings(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("AccountSpellings(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStartFailure(t *testing.T) {
	tests := []struct {
		in          string
		wantFailure bool
		instead     string
	}{
		{`NT AUTHORITY\SYSTEM`, false, ""},
		{`NT AUTHORITY\system`, false, ""},
		{`nt authority\system`, true, `NT AUTHORITY\system`},
		{`Nt Authority\Local service`, true, `NT AUTHORITY\Local service`},
		{`NT AUTHORITY\\SYSTEM`, true, ""},
		{`DOMAIN\svc\x`, true, ""},
		{"hostprocess-agents", false, ""},
		{`CONTOSO\svc`, false, ""},
	}
	for _, tc := range tests {
		reason, instead := StartFailure(tc.in)
		if (reason != "") != tc.wantFailure || instead != tc.instead {
			t.Errorf("StartFailure(%q) = %q, %q; want failure %v, instead %q", tc.in, reason, instead, tc.wantFailure, tc.instead)
		}
	}
}

func TestValidateAccountName(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // the error's detail, or "" when the name is valid
	}{
		{`NT AUTHORITY\Local service`, ""},
		{"hostprocess-agents", ""},
		{"svc@contoso.com", ""},
		{`CONTOSO\svc-hpc`, ""},
		{"BUILTIN/Administrators", `must not contain '/': Windows accepts none of "/[]:;|=,+*?<> in account names`},
		{"agents:readers", `must not contain ':': Windows accepts none of "/[]:;|=,+*?<> in account names`},
		{"a*", `must not contain '*': Windows accepts none of "/[]:;|=,+*?<> in account names`},
		{`A\B\C`, `must have at most one backslash, between a domain and the name (DOMAIN\name); the runtime refuses more`},
		{"a@b@c", "must have at most one @, between the name and its domain (name@domain)"},
		{`\Users`, `must name a domain before the backslash (DOMAIN\name)`},
		{`BUILTIN\`, "must name an account"},
		{"Users@", "must name a domain after the @ (name@domain)"},
		{". .", "must not consist only of dots and spaces"},
	}
	for _, tc := range tests {
		errs := validateAccountName(tc.in, field.NewPath("allowedLocalGroups").Index(0))
		switch {
		case tc.wantErr == "" && len(errs) > 0:
			t.Errorf("validateAccountName(%q) = %v, want no error", tc.in, errs)
		case tc.wantErr != "" && (len(errs) != 1 || errs[0].Detail != tc.wantErr):
			t.Errorf("validateAccountName(%q) = %v, want one error %q", tc.in, errs, tc.wantErr)
		}
	}
}
