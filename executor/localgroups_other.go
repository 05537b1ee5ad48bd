//go:build !windows

package executor

// newLocalGroupAPI returns the group(5) file at path, which stands for the
// node's local groups, or nil without one: local groups are a Windows
// matter, and ensureLocalGroups reports itself unsupported elsewhere unless
// it is given such a file (development and tests).
func newLocalGroupAPI(path string) localGroupAPI {
	if path == "" {
		return nil
	}
	return groupFile{path: path}
}
