package policy

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// quote puts s in double quotes for a message. Plain values, the usual case
// for Windows account names, keep their backslashes as written
// (NT AUTHORITY\SYSTEM); a value with quotes, control or non-printable
// characters is Go-quoted so that nothing hides in the message.
func quote(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '"' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
		i += size
	}
	return `"` + s + `"`
}
