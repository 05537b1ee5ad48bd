package policy

import (
	"strings"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// The framings of the policy's messages: a denial's, and a violation sent
// as a warning. The native policies use the same words.
const (
	DeniedPrefix = "violates the HostProcess policy: "
	WarnedPrefix = "would violate the HostProcess policy: "
)

// Decision is what an evaluation means under a mode.
type Decision struct {
	// Allowed is false when there are violations and the mode is enforce.
	Allowed bool
	// Reason is a denial's violations, joined; DeniedPrefix frames it.
	Reason string
	// Warnings are what the requester is told: the violations under warn
	// mode, framed by WarnedPrefix, then the evaluation's warnings (but
	// under audit mode, which tells nothing when there are violations).
	Warnings []string
	// Audited is true when violations are only recorded (audit mode).
	Audited bool
}

// Decide turns an evaluation into a decision under mode. The webhook, check
// and the native generator's bindings (nativepolicy.actionsFor) follow it.
func Decide(res *Result, mode config.Mode) Decision {
	if len(res.Violations) == 0 {
		return Decision{Allowed: true, Warnings: res.Warnings}
	}
	switch mode {
	case config.ModeWarn:
		w := make([]string, 0, len(res.Violations)+len(res.Warnings))
		for _, v := range res.Violations {
			w = append(w, WarnedPrefix+v.Message)
		}
		return Decision{Allowed: true, Warnings: append(w, res.Warnings...)}
	case config.ModeAudit:
		return Decision{Allowed: true, Audited: true}
	}
	msgs := make([]string, len(res.Violations))
	for i, v := range res.Violations {
		msgs[i] = v.Message
	}
	return Decision{Reason: strings.Join(msgs, "; "), Warnings: res.Warnings}
}
