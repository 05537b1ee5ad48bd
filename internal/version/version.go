// Package version carries the build's version and commit, set by -ldflags.
package version

// Set by the Makefile with -X.
var (
	Version = "dev"
	Commit  = "unknown"
)
