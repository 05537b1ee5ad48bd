package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestRefusedGroupFor(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the refused group's name, or "" when the name is allowed
	}{
		{"the bare name is refused", "Administrators", "Administrators"},
		{"the name in another ASCII case is refused", "aDMINISTRATORS", "Administrators"},
		{"the BUILTIN prefix is refused", `BUILTIN\Administrators`, "Administrators"},
		{"the local-machine prefix is refused", `.\Backup Operators`, "Backup Operators"},
		{"a computer-name prefix is refused", `WIN-NODE-01\Hyper-V Administrators`, "Hyper-V Administrators"},
		{"a domain prefix is refused", `CONTOSO\Domain Admins`, "Domain Admins"},
		{"a UPN-style suffix is refused", "Enterprise Admins@contoso.com", "Enterprise Admins"},
		{"a trailing dot is refused", "Server Operators.", "Server Operators"},
		{"a name that Windows upper-cases to a refused one is refused (dotless i)", "Adm\u0131nistrators", "Administrators"},
		{"a name that Windows upper-cases to a refused one is refused (long s)", "Print Operator\u017F", "Print Operators"},
		{"the well-known SID is refused", "S-1-5-32-544", "Administrators"},
		{"the SID in lower case is refused", "s-1-5-32-582", "Storage Replica Administrators"},
		{"the SID with a hexadecimal authority is refused", "S-1-0x5-32-551", "Backup Operators"},
		{"the SID with leading zeros is refused", "S-1-5-32-0556", "Network Configuration Operators"},
		{"a domain group's SID in any domain is refused", "S-1-5-21-3623811015-3361044348-30300820-519", "Enterprise Admins"},
		{"every listed group is refused, for example Cryptographic Operators", "Cryptographic Operators", "Cryptographic Operators"},
		{"a group without a well-known SID is refused by name", `CONTOSO\DnsAdmins`, "DnsAdmins"},
		{"a SID with a hexadecimal sub-authority is refused", "S-1-5-32-0x220", "Administrators"},
		{"a SID with an upper-case hexadecimal prefix is refused", "S-1-5-32-0X220", "Administrators"},
		{"a SID with an upper-case hexadecimal authority is refused", "S-1-0X5-32-544", "Administrators"},
		{"a SID part that reads as octal is refused", "S-1-5-32-01040", "Administrators"},
		{"a domain SID with a hexadecimal RID is refused", "S-1-5-21-1-2-3-0x200", "Domain Admins"},
		{"a SID with a trailing dash, which Windows reads, is refused", "S-1-5-32-544-", "Administrators"},
		{"a SID with a revision 01, which Windows reads, is refused", "S-01-5-32-544", "Administrators"},
		{"a SID part past 32 bits that wraps to 544 is refused", "S-1-5-32-4294967840", "Administrators"},
		{"a negative SID part that wraps to 544 is refused", "S-1-5-32--4294966752", "Administrators"},
		{"RDS Management Servers is refused", "RDS Management Servers", "RDS Management Servers"},
		{"RDS Endpoint Servers with the BUILTIN prefix is refused", `BUILTIN\RDS Endpoint Servers`, "RDS Endpoint Servers"},
		{"the SID of RDS Remote Access Servers is refused", "S-1-5-32-575", "RDS Remote Access Servers"},
		{"Replicator is refused", "Replicator", "Replicator"},
		{"User Mode Hardware Operators is refused", "S-1-5-32-584", "User Mode Hardware Operators"},
		{"a BUILTIN RID not known to be unprivileged is refused", "S-1-5-32-600", "S-1-5-32-600"},
		{"a BUILTIN name not known to be unprivileged is refused", `BUILTIN\Some Future Operators`, `BUILTIN\Some Future Operators`},
		{"a prefix and a suffix together do not hide the group", `CONTOSO\Administrators@contoso.com`, "Administrators"},
		{"Group Policy Creator Owners by SID is refused", "S-1-5-21-1-2-3-520", "Group Policy Creator Owners"},
		{"Read-only Domain Controllers by name is refused", `CONTOSO\Read-only Domain Controllers`, "Read-only Domain Controllers"},
		{"Event Log Readers with the BUILTIN prefix is allowed", `BUILTIN\Event Log Readers`, ""},
		{"the SID of Remote Desktop Users is allowed", "S-1-5-32-555", ""},
		{"Users is allowed", `BUILTIN\Users`, ""},
		{"Remote Desktop Users is allowed", "Remote Desktop Users", ""},
		{"a custom group is allowed", "hpc-agents", ""},
		{"a custom group whose name contains a refused one is allowed", "Administrators-readonly", ""},
		{"the SID of Users is allowed", "S-1-5-32-545", ""},
		{"a domain SID with another RID is allowed", "S-1-5-21-1-2-3-1105", ""},
		{"a SID-like string with too few parts is allowed", "S-1-5-544", ""},
		{"a SID with another authority is allowed", "S-1-16-32-544", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, ok := refusedGroupFor(tc.in)
			if got := g.name; got != tc.want || ok != (tc.want != "") {
				t.Errorf("refusedGroupFor(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

func TestIsBuiltinAccount(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"SYSTEM is an account", `NT AUTHORITY\SYSTEM`, true},
		{"Local service in any case is an account", `nt authority\LOCAL SERVICE`, true},
		{"NetworkService without a prefix is an account", "NetworkService", true},
		{"LocalSystem is an account", "LocalSystem", true},
		{"any NT AUTHORITY name is an account", `NT AUTHORITY\Authenticated Users`, true},
		{"the local Administrator is an account", `.\Administrator`, true},
		{"the SID of SYSTEM is an account", "S-1-5-18", true},
		{"the SID of a domain's Administrator is an account", "S-1-5-21-1-2-3-500", true},
		{"a custom group is not an account", "hpc-agents", false},
		{"Administrators is a group, not the Administrator account", "Administrators", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isBuiltinAccount(tc.in); got != tc.want {
				t.Errorf("isBuiltinAccount(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRefusedGroupsAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range refusedGroups {
		if g.reason == "" {
			t.Errorf("%s has no reason", g.name)
		}
		if g.builtinRID != 0 && g.domainRID != 0 {
			t.Errorf("%s has both a BUILTIN and a domain RID", g.name)
		}
		for _, key := range []string{strings.ToUpper(g.name), g.sid()} {
			if key != "" && seen[key] {
				t.Errorf("%s is listed twice", key)
			}
			seen[key] = true
		}
	}
}

// TestDocsListEveryRefusedGroup keeps the table in docs/configuration.md in
// step with the list: one row per group, with its SID and reason.
func TestDocsListEveryRefusedGroup(t *testing.T) {
	docs, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(docs), "\n")
	for _, g := range refusedGroups {
		sid := "none"
		if g.sid() != "" {
			sid = "`" + g.sid() + "`"
		}
		start := "| " + g.name + " | " + sid + " | "
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, start) })
		if i < 0 {
			t.Errorf("docs/configuration.md has no table row starting %q", start)
			continue
		}
		if !strings.Contains(lines[i], g.reason) {
			t.Errorf("docs/configuration.md row %q does not give the reason %q", lines[i], g.reason)
		}
	}
}
