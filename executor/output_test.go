package executor

import (
	"strings"
	"testing"
)

func TestTailBufferKeepsTheLastBytes(t *testing.T) {
	cases := []struct {
		name   string
		max    int64
		writes []string
		want   Output
	}{
		{name: "keeps output under the limit whole", max: 10, writes: []string{"abc", "def"}, want: Output{Text: "abcdef", TotalBytes: 6}},
		{name: "keeps output exactly at the limit whole", max: 6, writes: []string{"abc", "def"}, want: Output{Text: "abcdef", TotalBytes: 6}},
		{name: "keeps the end of output over the limit", max: 4, writes: []string{"abc", "def", "gh"}, want: Output{Text: "efgh", TotalBytes: 8, Truncated: true}},
		{name: "keeps the end of one large write", max: 3, writes: []string{"abcdefgh"}, want: Output{Text: "fgh", TotalBytes: 8, Truncated: true}},
		{name: "keeps nothing at 0 and still counts", max: 0, writes: []string{"abc"}, want: Output{Text: "", TotalBytes: 3, Truncated: true}},
		{name: "does not start inside a UTF-8 sequence", max: 5, writes: []string{"xx€€"}, want: Output{Text: "€", TotalBytes: 8, Truncated: true}},
		{name: "keeps no output as empty", max: 5, want: Output{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTailBuffer(tc.max)
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if got := b.Output(); got != tc.want {
				t.Errorf("Output = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	base := []string{"=C:=C:\\", "Path=C:\\Windows", "A=1"}
	extra := []EnvVar{{Name: "PATH", Value: "D:\\bin"}, {Name: "B", Value: "2"}}
	cases := []struct {
		name     string
		foldCase bool
		want     string
	}{
		{name: "replaces names whatever their case on Windows", foldCase: true, want: "=C:=C:\\ A=1 PATH=D:\\bin B=2"},
		{name: "replaces only the same name on Linux", foldCase: false, want: "=C:=C:\\ Path=C:\\Windows A=1 PATH=D:\\bin B=2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(mergeEnv(base, extra, tc.foldCase), " "); got != tc.want {
				t.Errorf("mergeEnv = %q, want %q", got, tc.want)
			}
		})
	}
}
