package config

import (
	"fmt"
	"strings"
)

// containerd (hcsshim) first asks whether a runAsUserName names a local group.
// If it does, the container runs as a new, ephemeral user made a member of that
// group; otherwise the name is logged on as a user. So allowing a built-in group
// with administrative rights would run the container as an administrator. The
// groups below are refused in allowedLocalGroups, and in allowedUsers too, since
// an allowed "user" that names a local group is treated as that group.
//
// Groups that confer no administrative rights stay allowed, for example Users,
// Remote Desktop Users (only the right to log on through Remote Desktop),
// Remote Management Users, Event Log Readers and Performance Log Users.

// refusedGroup is a built-in Windows group whose members hold administrative
// rights on the node or in its domain.
type refusedGroup struct {
	// name is the group's English name.
	name string
	// builtinRID is the last part of the group's well-known SID S-1-5-32-<rid>,
	// or 0 for groups outside the BUILTIN domain.
	builtinRID uint32
	// domainRID is the relative ID of a domain group, whose SID is
	// S-1-5-21-<domain>-<rid>, or 0.
	domainRID uint32
	// reason says, for the error message and the docs, what members can do.
	reason string
}

var refusedGroups = []refusedGroup{
	// The administrators of the computer.
	{name: "Administrators", builtinRID: 544,
		reason: "members have full control of the node"},
	// Kept for compatibility. Its description still grants "limited
	// administrative powers", and on older Windows members could trivially
	// become administrators.
	{name: "Power Users", builtinRID: 547,
		reason: "the group is described as having administrative powers"},
	// On domain controllers: create and modify most users and groups, and log on locally.
	{name: "Account Operators", builtinRID: 548,
		reason: "members create and modify accounts and groups"},
	// On domain controllers: start and stop services, back up and restore files,
	// log on locally. Replacing a service binary runs code as SYSTEM.
	{name: "Server Operators", builtinRID: 549,
		reason: "members control services and restore files on domain controllers"},
	// SeLoadDriverPrivilege on domain controllers: loading a driver runs code in the kernel.
	{name: "Print Operators", builtinRID: 550,
		reason: "members may load kernel drivers (SeLoadDriverPrivilege)"},
	// SeBackupPrivilege and SeRestorePrivilege: read and write any file whatever
	// its ACL, including the SAM and SYSTEM registry hives.
	{name: "Backup Operators", builtinRID: 551,
		reason: "members read and replace any file (SeBackupPrivilege, SeRestorePrivilege)"},
	// Change the TCP/IP settings under every pod and service on the node;
	// published research escalates from this group to SYSTEM.
	{name: "Network Configuration Operators", builtinRID: 556,
		reason: "members change the node's network configuration"},
	// A delegated security-administration role: configures the machine's
	// cryptography (CNG, IPsec in Common Criteria mode) for everything on the node.
	{name: "Cryptographic Operators", builtinRID: 569,
		reason: "members configure the node's cryptographic settings"},
	// Complete access to Hyper-V, including attaching the host's disks to a VM.
	{name: "Hyper-V Administrators", builtinRID: 578,
		reason: "members have complete access to Hyper-V"},
	// Complete access to Storage Replica: replicate any volume, with its data.
	{name: "Storage Replica Administrators", builtinRID: 582,
		reason: "members have complete access to Storage Replica"},
	// Its description: "Members of this group can change system-wide settings."
	{name: "Device Owners", builtinRID: 583,
		reason: "members change system-wide settings"},
	// File replication in a domain; a legacy role no workload needs.
	{name: "Replicator", builtinRID: 552,
		reason: "members replicate files across the domain"},
	// Read access to every user and group of the domain.
	{name: "Pre-Windows 2000 Compatible Access", builtinRID: 554,
		reason: "members read every user and group of the domain"},
	// Create incoming trusts to the forest.
	{name: "Incoming Forest Trust Builders", builtinRID: 557,
		reason: "members create trusts to the forest"},
	// The three Remote Desktop Services server roles: their members are
	// trusted by the other RDS servers, and RDS Management Servers perform
	// administrative actions on them.
	{name: "RDS Remote Access Servers", builtinRID: 575,
		reason: "members are trusted as Remote Desktop gateway servers"},
	{name: "RDS Endpoint Servers", builtinRID: 576,
		reason: "members are trusted to host Remote Desktop sessions and virtual machines"},
	{name: "RDS Management Servers", builtinRID: 577,
		reason: "members perform administrative actions on Remote Desktop servers"},
	// Remotely query the authorization attributes and permissions of resources.
	{name: "Access Control Assistance Operators", builtinRID: 579,
		reason: "members query the permissions of every resource on the node"},
	// User-mode access to hardware.
	{name: "User Mode Hardware Operators", builtinRID: 584,
		reason: "members operate the node's hardware from user mode"},
	// Administrators of every computer in the domain.
	{name: "Domain Admins", domainRID: 512,
		reason: "members administer the domain"},
	// Domain controller accounts may replicate every secret of the domain (DCSync).
	{name: "Domain Controllers", domainRID: 516,
		reason: "members may replicate every password of the domain"},
	// Change the Active Directory schema of the forest.
	{name: "Schema Admins", domainRID: 518,
		reason: "members change the Active Directory schema"},
	// Administrators of every domain in the forest.
	{name: "Enterprise Admins", domainRID: 519,
		reason: "members administer the forest"},
	// Write msDS-KeyCredentialLink, which takes over accounts ("shadow credentials").
	{name: "Key Admins", domainRID: 526,
		reason: "members may add sign-in keys to accounts of the domain"},
	{name: "Enterprise Key Admins", domainRID: 527,
		reason: "members may add sign-in keys to accounts of the forest"},
	// Read-only domain controllers hold the secrets of the accounts they cache.
	{name: "Enterprise Read-only Domain Controllers", domainRID: 498,
		reason: "members are read-only domain controllers of the forest"},
	{name: "Read-only Domain Controllers", domainRID: 521,
		reason: "members are read-only domain controllers of the domain"},
	// A domain controller that may be cloned holds every secret of the domain.
	{name: "Cloneable Domain Controllers", domainRID: 522,
		reason: "members are domain controllers"},
	// Publish certificates to the directory, which domain logons trust.
	{name: "Cert Publishers", domainRID: 517,
		reason: "members publish certificates that the domain trusts"},
	// Create Group Policy objects, which run code on the computers they link to.
	{name: "Group Policy Creator Owners", domainRID: 520,
		reason: "members create Group Policy objects"},
	// Can make the DNS Server service, which runs as SYSTEM on domain
	// controllers, load any DLL. Its SID is not well known.
	{name: "DnsAdmins",
		reason: "members make the DNS server load code as SYSTEM"},
}

// sid returns the group's SID as written in messages.
func (g refusedGroup) sid() string {
	switch {
	case g.builtinRID != 0:
		return fmt.Sprintf("S-1-5-32-%d", g.builtinRID)
	case g.domainRID != 0:
		return fmt.Sprintf("S-1-5-21-<domain>-%d", g.domainRID)
	}
	return ""
}

// unprivilegedBuiltinRIDs are the BUILTIN groups known to confer no
// administrative rights. Every other BUILTIN group, S-1-5-32-<rid>, is
// refused, known or not: the BUILTIN domain holds only Windows' own groups,
// and a new one is refused until someone has read what it grants.
var unprivilegedBuiltinRIDs = map[uint64]string{
	545: "Users",
	546: "Guests",
	555: "Remote Desktop Users",
	558: "Performance Monitor Users",
	559: "Performance Log Users",
	560: "Windows Authorization Access Group",
	561: "Terminal Server License Servers",
	562: "Distributed COM Users",
	568: "IIS_IUSRS",
	573: "Event Log Readers",
	574: "Certificate Service DCOM Access",
	580: "Remote Management Users",
	581: "System Managed Accounts Group",
	585: "OpenSSH Users",
}

// refusedGroupFor returns the refused group that name denotes: its name alone,
// after a domain prefix (BUILTIN\, .\, NODE\, DOMAIN\) or before an @domain
// suffix, compared with sameAccountName; its SID in any form that Windows
// parses; or any BUILTIN group not known to be unprivileged.
func refusedGroupFor(name string) (refusedGroup, bool) {
	domain, account := splitAccount(name)
	if sid, isSID := parseSID(account); isSID {
		return refusedGroupForSID(sid)
	}
	for _, g := range refusedGroups {
		if sameAccountName(account, g.name) {
			return g, true
		}
	}
	if sameAccountName(domain, "BUILTIN") {
		for _, known := range unprivilegedBuiltinRIDs {
			if sameAccountName(account, known) {
				return refusedGroup{}, false
			}
		}
		return refusedGroup{name: `BUILTIN\` + account,
			reason: "it is not one of the BUILTIN groups known to have no administrative rights"}, true
	}
	return refusedGroup{}, false
}

// refusedGroupForSID matches a parsed SID against the refused groups. A part
// that Windows might read in two ways (a leading zero: decimal or octal) is
// refused when either reading names a refused group.
func refusedGroupForSID(sid sidString) (refusedGroup, bool) {
	if !sid.authority.has(5) {
		return refusedGroup{}, false
	}
	subs := sid.subs
	switch {
	case len(subs) == 2 && subs[0].has(32):
		for _, rid := range subs[1] {
			for _, g := range refusedGroups {
				if g.builtinRID != 0 && uint64(g.builtinRID) == rid {
					return g, true
				}
			}
		}
		for _, rid := range subs[1] {
			if _, ok := unprivilegedBuiltinRIDs[rid]; !ok {
				return refusedGroup{name: fmt.Sprintf("S-1-5-32-%d", rid),
					reason: "it is not one of the BUILTIN groups known to have no administrative rights"}, true
			}
		}
	case len(subs) == 5 && subs[0].has(21):
		for _, rid := range subs[4] {
			for _, g := range refusedGroups {
				if g.domainRID != 0 && uint64(g.domainRID) == rid {
					return g, true
				}
			}
		}
	}
	return refusedGroup{}, false
}

// builtinAccount is a built-in Windows account: a user, not a group.
type builtinAccount struct {
	name string
	// rid is the last part of the account's SID: S-1-5-<rid> for the service
	// accounts, S-1-5-21-<machine or domain>-<rid> when domainRID is set.
	rid       uint32
	domainRID bool
}

// builtinAccounts are accounts, never local groups. containerd logs them on as
// users, so in allowedLocalGroups they would allow the account itself.
var builtinAccounts = []builtinAccount{
	{name: "SYSTEM", rid: 18},
	{name: "LocalSystem", rid: 18},
	{name: "LOCAL SERVICE", rid: 19},
	{name: "LocalService", rid: 19},
	{name: "NETWORK SERVICE", rid: 20},
	{name: "NetworkService", rid: 20},
	{name: "Administrator", rid: 500, domainRID: true},
}

// isBuiltinAccount reports whether name denotes a built-in account rather than
// a group: one of builtinAccounts, with or without a domain prefix, its SID, or
// any name in the NT AUTHORITY domain, which containerd logs on as a service
// account.
func isBuiltinAccount(name string) bool {
	domain, account := splitAccount(name)
	if sameAccountName(domain, "NT AUTHORITY") {
		return true
	}
	for _, a := range builtinAccounts {
		if sameAccountName(account, a.name) {
			return true
		}
	}
	sid, isSID := parseSID(account)
	if !isSID || !sid.authority.has(5) {
		return false
	}
	for _, a := range builtinAccounts {
		if !a.domainRID && len(sid.subs) == 1 && sid.subs[0].has(uint64(a.rid)) {
			return true
		}
		if a.domainRID && len(sid.subs) == 5 && sid.subs[0].has(21) && sid.subs[4].has(uint64(a.rid)) {
			return true
		}
	}
	return false
}

// sameAccountName compares names for refusal, so it errs towards a match.
// Besides ASCII letter case it folds as Unicode does, since Windows upper-cases
// names with a Unicode table (ı to I, ſ to S), and it ignores trailing dots.
func sameAccountName(a, b string) bool {
	a, b = strings.TrimRight(a, "."), strings.TrimRight(b, ".")
	return strings.EqualFold(a, b) || strings.ToUpper(a) == strings.ToUpper(b)
}

// splitAccount splits DOMAIN\account and account@domain into their parts.
// A name with both (DOMAIN\account@suffix) is taken as DOMAIN\account with
// the suffix removed, so that no form hides the account.
func splitAccount(name string) (domain, account string) {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		domain, name = name[:i], name[i+1:]
	}
	if i := strings.IndexByte(name, '@'); i >= 0 {
		if domain == "" {
			domain = name[i+1:]
		}
		name = name[:i]
	}
	return domain, name
}

// sidString is a SID string as Windows might read it: every part with each
// value it can stand for.
type sidString struct {
	authority sidPart
	subs      []sidPart
}

// sidPart is the values one part of a SID string can stand for.
type sidPart []uint64

func (p sidPart) has(v uint64) bool {
	for _, x := range p {
		if x == v {
			return true
		}
	}
	return false
}

// parseSID parses the string form of a SID, S-1-<authority>-<sub>-..., in
// every form ConvertStringSidToSid accepts, and reads each part in every way a
// Windows version might, so that no reading can hide a refused group. Checked
// against the real ConvertStringSidToSid under wine (sid_windows_test.go):
// leading whitespace, "S" in either case, a revision with leading zeros, each
// part in decimal or in hexadecimal after 0x or 0X, leading zeros, a minus sign
// (the value wraps), values past 32 bits (saturated, and wrapped), a trailing
// dash. A part with a leading zero is also read as octal (C's strtoul with base
// 0 does so).
func parseSID(s string) (sidString, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	if len(s) < 2 || (s[0] != 'S' && s[0] != 's') || s[1] != '-' {
		return sidString{}, false
	}
	p := sidParser{s: s, i: 2}
	rev, ok := p.number(64)
	if !ok || !rev.has(1) || !p.dash() {
		return sidString{}, false
	}
	var sid sidString
	if sid.authority, ok = p.number(48); !ok {
		return sidString{}, false
	}
	for !p.done() {
		if !p.dash() {
			return sidString{}, false
		}
		if p.done() {
			break // a trailing dash
		}
		v, ok := p.number(32)
		if !ok {
			return sidString{}, false
		}
		sid.subs = append(sid.subs, v)
	}
	return sid, true
}

// sidParser reads the parts of a SID string.
type sidParser struct {
	s string
	i int
}

func (p *sidParser) done() bool { return p.i >= len(p.s) }

func (p *sidParser) dash() bool {
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
		return true
	}
	return false
}

// number reads one part: an optional minus sign, then decimal digits or 0x and
// hexadecimal digits. It returns every value the part may stand for in bits.
func (p *sidParser) number(bits uint) (sidPart, bool) {
	negative := false
	if p.i < len(p.s) && p.s[p.i] == '-' {
		negative = true
		p.i++
	}
	base := uint64(10)
	if p.i+1 < len(p.s) && p.s[p.i] == '0' && (p.s[p.i+1] == 'x' || p.s[p.i+1] == 'X') {
		base = 16
		p.i += 2
	}
	start := p.i
	for p.i < len(p.s) && digitValue(p.s[p.i]) < base {
		p.i++
	}
	digits := p.s[start:p.i]
	if digits == "" {
		return nil, false
	}
	max := uint64(1)<<bits - 1
	var part sidPart
	add := func(v uint64) {
		if !part.has(v) {
			part = append(part, v)
		}
	}
	for _, b := range []uint64{base, 8} {
		if b == 8 && (base != 10 || len(digits) < 2 || digits[0] != '0') {
			continue
		}
		var wrapped uint64
		saturated, over, valid := uint64(0), false, true
		for i := 0; i < len(digits); i++ {
			d := digitValue(digits[i])
			if d >= b {
				valid = false
				break
			}
			wrapped = (wrapped*b + d) & max
			if !over && saturated > (max-d)/b {
				over = true
			}
			if !over {
				saturated = saturated*b + d
			}
		}
		if !valid {
			continue
		}
		if over {
			saturated = max
		}
		if negative {
			wrapped = (-wrapped) & max
			saturated = (-saturated) & max
		}
		add(wrapped)
		add(saturated)
	}
	return part, true
}

func digitValue(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 99
}
