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
	// mode, framed by WarnedPrefix, then one per exception the object is
	// admitted under (ExceptionWarning), then the evaluation's warnings (but
	// under audit mode, which tells nothing when there are violations).
	Warnings []string
	// Audited is true when violations are only recorded (audit mode).
	Audited bool
}

// exceptionWarnings are the warnings of an object admitted under
// exceptions, one per exception.
func exceptionWarnings(res *Result) []string {
	if len(res.Exceptions) == 0 {
		return nil
	}
	w := make([]string, len(res.Exceptions))
	for i, a := range res.Exceptions {
		w[i] = ExceptionWarning(a)
	}
	return w
}

// Decide turns an evaluation into a decision under mode. The webhook, check
// and the native generator's bindings (nativepolicy.actionsFor) follow it.
func Decide(res *Result, mode config.Mode) Decision {
	if len(res.Violations) == 0 {
		return Decision{Allowed: true, Warnings: append(exceptionWarnings(res), res.Warnings...)}
	}
	switch mode {
	case config.ModeWarn:
		w := make([]string, 0, len(res.Violations)+len(res.Exceptions)+len(res.Warnings))
		for _, v := range res.Violations {
			w = append(w, WarnedPrefix+v.Message)
		}
		w = append(w, exceptionWarnings(res)...)
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
