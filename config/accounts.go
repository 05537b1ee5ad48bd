package config

import "strings"

/*
One account, several spellings. containerd's HostProcess runtime (hcsshim,
internal/jobcontainers/logon.go) splits runAsUserName at its backslash and,
when the domain is NT AUTHORITY, logs the account on as a service
(LogonUser with LOGON32_LOGON_SERVICE). Windows resolves the service accounts'
names case-insensitively, and both the name with a space and the one without
name the same account:

  S-1-5-18  NT AUTHORITY\SYSTEM
  S-1-5-19  NT AUTHORITY\LOCAL SERVICE, NT AUTHORITY\LocalService
  S-1-5-20  NT AUTHORITY\NETWORK SERVICE, NT AUTHORITY\NetworkService

(Microsoft's LocalService and NetworkService account pages give the names
without a space; its well-known SID list and hcsshim's own HostProcess test,
test/functional/hostprocess_test.go, use "Local Service" with a space; the
Kubernetes docs use "Local service" and "NetworkService".)

So an allowed spelling matches every other spelling of the same account, and
no other account. Names without the NT AUTHORITY domain are not spellings of
these accounts for the runtime: it logs them on interactively, which fails.
Matching stays ASCII-only: a look-alike or Unicode-folded name never matches.
*/

// wellKnownAccount is one spelling of a service account, with its SID.
type wellKnownAccount struct {
	spelling string
	sid      string
}

var wellKnownAccounts = []wellKnownAccount{
	{`NT AUTHORITY\SYSTEM`, "S-1-5-18"},
	{`NT AUTHORITY\LOCAL SERVICE`, "S-1-5-19"},
	{`NT AUTHORITY\LocalService`, "S-1-5-19"},
	{`NT AUTHORITY\NETWORK SERVICE`, "S-1-5-20"},
	{`NT AUTHORITY\NetworkService`, "S-1-5-20"},
}

// SystemAccount is the account that the annotation
// microsoft.com/hostprocess-inherit-user gives every container.
const SystemAccount = `NT AUTHORITY\SYSTEM`

// WellKnownSID returns the SID of the service account that name spells,
// under ASCII case folding, or "" when name is not one of them.
func WellKnownSID(name string) string {
	for _, a := range wellKnownAccounts {
		if EqualFoldASCII(name, a.spelling) {
			return a.sid
		}
	}
	return ""
}

// SameAccount reports whether a and b name the same account: equal under
// ASCII case folding, or two spellings of one well-known service account.
// It does not allocate.
func SameAccount(a, b string) bool {
	if EqualFoldASCII(a, b) {
		return true
	}
	sa := WellKnownSID(a)
	return sa != "" && sa == WellKnownSID(b)
}

// AccountKey returns the key under which names of the same account are
// equal: the SID of a well-known service account, otherwise the name with its
// ASCII letters in lower case.
func AccountKey(name string) string {
	if sid := WellKnownSID(name); sid != "" {
		return sid
	}
	return foldASCII(name)
}

// AccountSpellings returns, in ASCII lower case, every string that matches
// the allowed entry name under SameAccount once folded the same way: all the
// spellings of a well-known service account, or the folded name itself.
// Generated policies compare a folded runAsUserName with this list.
func AccountSpellings(name string) []string {
	sid := WellKnownSID(name)
	if sid == "" {
		return []string{foldASCII(name)}
	}
	var out []string
	for _, a := range wellKnownAccounts {
		if a.sid == sid {
			out = append(out, foldASCII(a.spelling))
		}
	}
	return out
}

// ServiceDomain is the domain for which hcsshim chooses a service logon. It
// compares the domain byte for byte (internal/jobcontainers/logon.go:
// `if domain == "NT AUTHORITY"`), so other letter cases get an interactive
// logon, which a service account cannot have.
const ServiceDomain = "NT AUTHORITY"

// StartFailure says why the runtime cannot start a container whose
// runAsUserName is name, and what to write instead; "" when it can, as far as
// the name shows. Two cases come from hcsshim's logon code
// (internal/jobcontainers/logon.go, processToken):
//   - the domain is NT AUTHORITY in another letter case: no service logon;
//   - more than one backslash: "invalid user string".
func StartFailure(name string) (reason, instead string) {
	domain, account, found := strings.Cut(name, `\`)
	if !found {
		return "", ""
	}
	if strings.Contains(account, `\`) {
		return "the runtime refuses a name with more than one backslash", ""
	}
	if domain != ServiceDomain && EqualFoldASCII(domain, ServiceDomain) {
		return "the runtime logs NT AUTHORITY accounts on as services only when the domain is written \"NT AUTHORITY\" in capitals, and this account cannot log on otherwise",
			ServiceDomain + `\` + account
	}
	return "", ""
}
