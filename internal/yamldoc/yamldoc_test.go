package yamldoc

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Document
	}{
		{"nothing", "", nil},
		{"only comments", "# a\n\n", nil},
		{"one document", "a: 1\n", []Document{{[]byte("a: 1\n"), 1}}},
		{"a leading comment block is not a document",
			"# head\n---\na: 1\n---\nb: 2\n",
			[]Document{{[]byte("a: 1\n"), 3}, {[]byte("b: 2\n"), 5}}},
		{"a blank document after a separator is still counted",
			"a: 1\n---\n---\nb: 2",
			[]Document{{[]byte("a: 1\n"), 1}, {nil, 3}, {[]byte("b: 2"), 4}}},
		{"a separator with a comment; --- inside a line is not one",
			"a: '---'\n--- # next\nb: 2\n",
			[]Document{{[]byte("a: '---'\n"), 1}, {[]byte("b: 2\n"), 3}}},
		{"a separator followed by text is not one",
			"---x\n", []Document{{[]byte("---x\n"), 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Split([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Split(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestIsBlank(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "\n \n": true, "# c\n  # d": true, "...\n": true, "a: 1": false, "# c\nb": false,
	} {
		if got := IsBlank([]byte(in)); got != want {
			t.Errorf("IsBlank(%q) = %v, want %v", in, got, want)
		}
	}
}
