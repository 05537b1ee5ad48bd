package executor

import (
	"sync"
	"unicode/utf8"
)

// Output is the combined stdout and stderr a run kept.
type Output struct {
	// Text is the last bytes of the output, at most the task's maxOutputBytes.
	// A cut never splits a UTF-8 sequence, so Text may be a few bytes shorter.
	Text string `json:"text"`
	// TotalBytes is how much the tree wrote in all.
	TotalBytes int64 `json:"totalBytes"`
	// Truncated is set when Text is not the whole output.
	Truncated bool `json:"truncated"`
}

// tailBuffer keeps the last max bytes written to it and counts all of them.
// Like the termination message of a Kubernetes container, the end of the
// output is kept: that is where errors are.
type tailBuffer struct {
	mu    sync.Mutex
	max   int64
	buf   []byte
	total int64
}

func newTailBuffer(max int64) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	if b.max <= 0 {
		return len(p), nil
	}
	if int64(len(p)) >= b.max {
		b.buf = append(b.buf[:0], p[int64(len(p))-b.max:]...)
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	if over := int64(len(b.buf)) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// Output returns what was kept.
func (b *tailBuffer) Output() Output {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.buf
	truncated := b.total > int64(len(kept))
	if truncated {
		// Drop a UTF-8 sequence the cut split: at most three continuation
		// bytes at the start.
		for i := 0; i < 3 && len(kept) > 0 && !utf8.RuneStart(kept[0]); i++ {
			kept = kept[1:]
		}
	}
	return Output{Text: string(kept), TotalBytes: b.total, Truncated: truncated}
}
