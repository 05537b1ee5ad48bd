package config

import (
	"os"
	"strings"
	"testing"
)

// TestExampleIsValidAndDocumented checks that the complete example in
// docs/configuration.md, kept in testdata/example.yaml, loads.
func TestExampleIsValidAndDocumented(t *testing.T) {
	example, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(example)
	if err != nil {
		t.Fatalf("testdata/example.yaml: %v", err)
	}
	if len(c.NamespaceRules) != 2 || !c.Defaults.LocalGroupNodeAffinity {
		t.Errorf("testdata/example.yaml decoded to %+v; it should use every field", c)
	}
	docs, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docs), "```yaml\n"+string(example)+"```\n") {
		t.Error("docs/configuration.md does not show testdata/example.yaml as a yaml block; copy it there")
	}
}
