package config

import (
	"fmt"
	"strconv"
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

// refusedGroupFor returns the refused group that name denotes: its name alone,
// after a domain prefix (BUILTIN\, .\, NODE\, DOMAIN\) or before an @domain
// suffix, compared with sameAccountName; or its SID.
func refusedGroupFor(name string) (refusedGroup, bool) {
	_, account := splitAccount(name)
	authority, subs, isSID := parseSID(account)
	for _, g := range refusedGroups {
		if sameAccountName(account, g.name) {
			return g, true
		}
		if !isSID || authority != 5 {
			continue
		}
		if g.builtinRID != 0 && len(subs) == 2 && subs[0] == 32 && subs[1] == g.builtinRID {
			return g, true
		}
		if g.domainRID != 0 && isDomainSID(subs) && subs[4] == g.domainRID {
			return g, true
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
	authority, subs, isSID := parseSID(account)
	for _, a := range builtinAccounts {
		if sameAccountName(account, a.name) {
			return true
		}
		if !isSID || authority != 5 {
			continue
		}
		if !a.domainRID && len(subs) == 1 && subs[0] == a.rid {
			return true
		}
		if a.domainRID && isDomainSID(subs) && subs[4] == a.rid {
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
func splitAccount(name string) (domain, account string) {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[:i], name[i+1:]
	}
	if i := strings.IndexByte(name, '@'); i >= 0 {
		return name[i+1:], name[:i]
	}
	return "", name
}

// parseSID parses the string form of a SID, S-1-<authority>-<sub>-..., as
// Windows accepts it: the authority in decimal or 0x hexadecimal.
func parseSID(s string) (authority uint64, subs []uint32, ok bool) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !EqualFoldASCII(parts[0], "S") || parts[1] != "1" {
		return 0, nil, false
	}
	var err error
	if hex, isHex := strings.CutPrefix(parts[2], "0x"); isHex {
		authority, err = strconv.ParseUint(hex, 16, 48)
	} else {
		authority, err = strconv.ParseUint(parts[2], 10, 48)
	}
	if err != nil {
		return 0, nil, false
	}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return 0, nil, false
		}
		subs = append(subs, uint32(v))
	}
	return authority, subs, true
}

// isDomainSID reports whether subs, the sub-authorities of an S-1-5 SID, are
// those of a machine or domain account: 21, three identifier parts, a RID.
func isDomainSID(subs []uint32) bool {
	return len(subs) == 5 && subs[0] == 21
}
