//go:build !windows

package executor

// newLocalGroupAPI returns nil: local groups are a Windows matter, and
// ensureLocalGroups reports itself unsupported elsewhere.
func newLocalGroupAPI() localGroupAPI { return nil }
