package config

// EqualFoldASCII reports whether a and b are equal when the ASCII letters A–Z
// and a–z are folded to one case. Every other byte, non-ASCII included, must
// match exactly.
//
// Windows compares account names case-insensitively, so allow-lists of names
// use this comparison. strings.EqualFold is not used on purpose: it applies
// Unicode folding, under which the Kelvin sign K (U+212A) equals k and the long
// s ſ (U+017F) equals s, so a look-alike name would match an allowed one.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// foldASCII returns s with its ASCII letters in lower case: names equal under
// EqualFoldASCII have the same foldASCII.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}
