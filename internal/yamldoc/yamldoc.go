// Package yamldoc splits a YAML stream into its documents, as kubectl does,
// keeping the line each one starts on so that errors can point into the
// file. The check command's manifests and the executor's task files share it.
package yamldoc

import "bytes"

// Document is one document of a stream.
type Document struct {
	Data []byte
	// Line is the line of the file the document starts on, from 1.
	Line int
}

// Split splits data at "---" lines. Text before the first separator that
// holds nothing but blanks and comments is not a document; every part after
// it is, blank or not, so that document numbers match the file.
func Split(data []byte) []Document {
	var (
		docs      []Document
		current   = Document{Line: 1}
		separated bool
	)
	line := 0
	for text := range bytes.SplitAfterSeq(data, []byte("\n")) {
		line++
		if isSeparator(text) {
			if separated || !IsBlank(current.Data) {
				docs = append(docs, current)
			}
			current, separated = Document{Line: line + 1}, true
			continue
		}
		current.Data = append(current.Data, text...)
	}
	if separated || !IsBlank(current.Data) {
		docs = append(docs, current)
	}
	return docs
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(line[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// IsBlank reports whether a document holds nothing but blank lines, comments
// and "..." end markers.
func IsBlank(doc []byte) bool {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("...")) {
			return false
		}
	}
	return true
}
