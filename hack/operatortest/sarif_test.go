package operatortest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hostprocess-admission/hostprocess-admission/cmd"
	"github.com/hostprocess-admission/hostprocess-admission/internal/checker"
)

// sarifSchemaFile is the OASIS SARIF 2.1.0 schema (errata 01, the published
// standard), as in github.com/oasis-tcs/sarif-spec sarif-2.1/schema.
const sarifSchemaFile = "testdata/sarif-schema-2.1.0.json"

// TestCheckSARIFValidatesAgainstTheSchema runs `check -o sarif -f examples/`
// as a user does, from the repository root, and validates the log against
// the published SARIF 2.1.0 JSON schema.
func TestCheckSARIFValidatesAgainstTheSchema(t *testing.T) {
	schemaData, err := os.ReadFile(sarifSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaData))
	if err != nil {
		t.Fatalf("%s: %v", sarifSchemaFile, err)
	}
	// The schema names itself by its published URI, as check's $schema does.
	c := jsonschema.NewCompiler()
	if err := c.AddResource(checker.SARIFSchema, schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(checker.SARIFSchema)
	if err != nil {
		t.Fatalf("compiling %s: %v", sarifSchemaFile, err)
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	var stdout, stderr bytes.Buffer
	check := cmd.NewRootCommand()
	check.SetArgs([]string{"check", "-o", "sarif", "-f", "examples/"})
	check.SetOut(&stdout)
	check.SetErr(&stderr)
	// Some examples are denied, so check exits 1: an *ExitError with code 1.
	if err := check.Execute(); err == nil {
		t.Fatalf("check -f examples/ admitted everything; the examples include rejected ones")
	} else if ee, ok := err.(*cmd.ExitError); !ok || ee.Code != 1 {
		t.Fatalf("check -o sarif -f examples/: %v, want exit code 1\n%s", err, stderr.String())
	}

	log, err := jsonschema.UnmarshalJSON(bytes.NewReader(stdout.Bytes()))
	if err != nil {
		t.Fatalf("check -o sarif wrote invalid JSON: %v\n%s", err, stdout.String())
	}
	if err := schema.Validate(log); err != nil {
		t.Fatalf("check -o sarif -f examples/ does not validate against %s:\n%v", sarifSchemaFile, err)
	}

	// The log is not trivially valid: it has the examples' violations and
	// warnings, each located in a file.
	var parsed struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Runs) != 1 || len(parsed.Runs[0].Results) < 10 {
		t.Fatalf("want one run with at least 10 results for examples/, got %d runs: %s", len(parsed.Runs), stdout.String())
	}
	for i, r := range parsed.Runs[0].Results {
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result %d (%s) has no file location", i, r.RuleID)
		}
	}
}

// TestSchemaRejectsAnInvalidLog makes sure the validation above can fail:
// a log whose result has no message is refused.
func TestSchemaRejectsAnInvalidLog(t *testing.T) {
	schemaData, err := os.ReadFile(sarifSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaData))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(checker.SARIFSchema, schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(checker.SARIFSchema)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r"}]}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(bad); err == nil {
		t.Fatal("a result without a message validated; the schema check proves nothing")
	}
}
