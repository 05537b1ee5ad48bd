package checker

import (
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/version"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// SARIF output follows the OASIS Static Analysis Results Interchange Format
// 2.1.0 (errata 01), the format GitHub and GitLab code scanning read. Only the
// properties used here are modelled.

// SARIFSchema is the URI of the SARIF 2.1.0 JSON schema, written as the
// log's $schema.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// RuleWarnings is the rule ID of warnings in SARIF output, as in the audit's
// reports: a warning has no rule of its own.
const RuleWarnings = "warnings"

// ruleSummaries say in one sentence what each rule requires, for the rule
// descriptions of SARIF output. docs/policy.md has the same sentences.
var ruleSummaries = map[string]string{
	policy.RuleHostProcessMixed: "Every container of a HostProcess pod is HostProcess.",
	policy.RuleHostNetwork:      "A HostProcess pod sets hostNetwork: true.",
	policy.RuleRunAsUserName:    "Every container runs as an allowed user or local group.",
	policy.RuleInheritUser:      "A pod whose microsoft.com/hostprocess-inherit-user annotation makes it run as SYSTEM is allowed SYSTEM.",
	policy.RuleRunAsNonRoot:     "No container's effective runAsNonRoot is true.",
	policy.RuleWindowsOS:        "The pod does not target Linux nodes.",
	policy.RuleNamespace:        "With namespace rules, the pod's namespace matches one of them.",
	policy.RuleImage:            "With allowed images in the matching rule, every image matches one of them.",
	RuleWarnings:                "A setting that is admitted but has no effect, will not work as written, or leaves a workload's pods off the Windows nodes.",
}

// sarifLevel is the level of a violation's result, by mode: a violation that
// denies is an error.
var sarifLevel = map[config.Mode]string{
	config.ModeEnforce: "error",
	config.ModeWarn:    "warning",
	config.ModeAudit:   "note",
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name    string      `json:"name"`
	Version string      `json:"version"`
	Rules   []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string           `json:"id"`
	ShortDescription     sarifMessage     `json:"shortDescription"`
	Help                 sarifMessage     `json:"help"`
	DefaultConfiguration sarifRuleDefault `json:"defaultConfiguration"`
}

type sarifRuleDefault struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties *sarifProps     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifProps are the result's property bag: where in the object the
// violation is, and the mode it was judged under.
type sarifProps struct {
	Container string `json:"container,omitempty"`
	Field     string `json:"field,omitempty"`
	Mode      string `json:"mode"`
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with one run: a result
// for every violation (level error when it denies the object, warning under
// warn, note under audit) and every warning (rule "warnings"), located at
// the object's file and first line. Exempt and skipped objects have none.
func (r *Report) WriteSARIF(w io.Writer) error {
	rules := append(append([]string{}, policy.Rules...), RuleWarnings)
	index := map[string]int{}
	driver := sarifDriver{Name: "hostprocess-admission", Version: version.Version}
	for i, id := range rules {
		index[id] = i
		level := "error"
		if id == RuleWarnings {
			level = "warning"
		}
		driver.Rules = append(driver.Rules, sarifRule{
			ID:                   id,
			ShortDescription:     sarifMessage{Text: ruleSummaries[id]},
			Help:                 sarifMessage{Text: ruleSummaries[id] + " See docs/policy.md of hostprocess-admission."},
			DefaultConfiguration: sarifRuleDefault{Level: level},
		})
	}
	results := []sarifResult{}
	for i := range r.Results {
		res := &r.Results[i]
		loc := sarifObjectLocation(res)
		for _, v := range res.Violations {
			results = append(results, sarifResult{
				RuleID: v.Rule, RuleIndex: index[v.Rule], Level: sarifLevel[res.Mode],
				Message:    sarifMessage{Text: objectName(res) + ": " + v.Message},
				Locations:  []sarifLocation{loc},
				Properties: &sarifProps{Container: v.Container, Field: v.Field, Mode: string(res.Mode)},
			})
		}
		for _, warning := range res.Warnings {
			results = append(results, sarifResult{
				RuleID: RuleWarnings, RuleIndex: index[RuleWarnings], Level: "warning",
				Message:   sarifMessage{Text: objectName(res) + ": " + warning},
				Locations: []sarifLocation{loc},
			})
		}
	}
	log := sarifLog{
		Schema:  SARIFSchema,
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// objectName is e.g. "DaemonSet kube-system/csi-proxy".
func objectName(res *Result) string {
	return res.Kind + " " + res.Namespace + "/" + res.Name
}

// sarifObjectLocation locates a result at its object: the file (a relative
// URI, resolved against the checkout by code scanning) and line, and the
// object itself as a logical location. Objects read from stdin have no file.
func sarifObjectLocation(res *Result) sarifLocation {
	loc := sarifLocation{LogicalLocations: []sarifLogical{{
		Name:               res.Name,
		FullyQualifiedName: res.Kind + "/" + res.Namespace + "/" + res.Name,
		Kind:               "resource",
	}}}
	if res.File == manifest.StdinName {
		return loc
	}
	p := &sarifPhysical{ArtifactLocation: sarifArtifact{URI: (&url.URL{Path: filepath.ToSlash(res.File)}).String()}}
	if res.Line > 0 {
		p.Region = &sarifRegion{StartLine: res.Line}
	}
	loc.PhysicalLocation = p
	return loc
}
