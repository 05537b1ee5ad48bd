package nativepolicy

import (
	"regexp"
	"strconv"
	"strings"
)

// CEL snippets. Every field on the way is read with optional chaining (.?),
// so no object can make an expression fail to evaluate: a policy whose
// expression errors takes its failurePolicy (Fail), which would deny pods the
// Go engine admits.

// lit is a CEL string literal for s. strconv.Quote escapes are valid CEL
// escapes for the characters it produces (\", \\, \n, \xNN, \uNNNN, \UNNNNNNNN).
func lit(s string) string { return strconv.Quote(s) }

// litList is a CEL list of string literals.
func litList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = lit(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quoteCEL renders the Go engine's quote(s) in CEL: plain printable values in
// double quotes as written; a value with a double quote, U+FFFD or a
// character Go does not call printable goes through strings.quote, which
// escapes exactly like strconv.Quote for \a \b \f \n \r \t \v \\ and \".
// For other non-printable characters (e.g. U+200B, U+00A0, U+0000) Go writes
// \uXXXX or \xNN and CEL writes the character itself: the one place where the
// message text differs (never the verdict or the rule).
func quoteCEL(v string) string {
	return "((" + v + ").matches('^[\\\\pL\\\\pM\\\\pN\\\\pP\\\\pS ]*$') && !(" + v + ").matches('[\"\\ufffd]') ? '\"' + (" + v + ") + '\"' : strings.quote(" + v + "))"
}

// imageRegexp compiles an allowedImages pattern to the equivalent RE2
// expression: '*' matches any run of characters ('/' and newlines included),
// everything else is literal, anchored at both ends.
func imageRegexp(pattern string) string {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return "(?s)^" + strings.Join(parts, ".*") + "$"
}

// hostProcessOf is true when a pod spec at s (a CEL expression known to be a
// pod spec) is a HostProcess pod as the chart's matchConditions define it: the
// pod level or any container sets hostProcess true. (A container that sets
// false under a pod-level true is still part of a HostProcess pod: the pod
// level is true.)
func hostProcessOf(s string) string {
	return "(" + s + ".?securityContext.?windowsOptions.?hostProcess.orValue(false) == true || " +
		"(" + s + ".?initContainers.orValue([]) + " + s + ".?containers.orValue([]) + " + s + ".?ephemeralContainers.orValue([]))" +
		".exists(c, c.?securityContext.?windowsOptions.?hostProcess.orValue(false) == true))"
}

// wrapCEL breaks the CEL expression expr into lines of about width
// characters, at spaces outside string literals (a newline is whitespace
// to CEL, so the meaning is the same). A multi-line expression is written
// to YAML as a literal block, with no quoting and no folding: shorter and
// readable.
func wrapCEL(expr string, width int) string {
	if len(expr) <= width {
		return expr
	}
	b := []byte(expr)
	col := 0
	var quote byte // the open literal's quote, 0 outside literals
	for i := 0; i < len(b); i++ {
		c := b[i]
		col++
		switch {
		case c == '\n':
			col = 0
		case quote != 0 && c == '\\':
			i++ // the escaped character
			col++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == ' ' && col > width && i+1 < len(b) && b[i+1] != ' ' && b[i-1] != ' ':
			b[i] = '\n'
			col = 0
		}
	}
	return string(b)
}
