package checker

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

func TestRuleSummariesCoverEveryRule(t *testing.T) {
	for _, id := range append(append([]string{}, policy.Rules...), RuleWarnings) {
		if ruleSummaries[id] == "" {
			t.Errorf("rule %s has no summary for SARIF output", id)
		}
	}
	if len(ruleSummaries) != len(policy.Rules)+1 {
		t.Errorf("ruleSummaries has %d entries, want one per rule and one for warnings (%d)", len(ruleSummaries), len(policy.Rules)+1)
	}
}

// formatReport checks, under cfg, a pod with a violation read from file,
// whose name and message need escaping in workflow commands.
func formatReport(t *testing.T, cfg *config.AdmissionConfiguration, file string) *Report {
	t.Helper()
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Read(file, []byte("# comment\n"+hostProcessPod("bad", "kube-system", "50%,done:", windowsSelector)))
	if err != nil {
		t.Fatal(err)
	}
	return Check(p, objs)
}

func TestWriteGitHub(t *testing.T) {
	warnCfg := config.Default()
	warnCfg.Mode = config.ModeWarn
	auditCfg := config.Default()
	auditCfg.Mode = config.ModeAudit
	const msg = `Pod kube-system/bad: pod: spec.securityContext.windowsOptions.runAsUserName "50%25,done:" is not allowed (allowed: ` + defaultAllowed + `)`
	tests := []struct {
		name string
		cfg  *config.AdmissionConfiguration
		file string
		want string
	}{{
		name: "writes an error at the object's file and first line, escaping the property values and the message",
		cfg:  config.Default(),
		file: "dir,a/pod:1.yaml",
		want: "::error file=dir%2Ca/pod%3A1.yaml,line=2,title=HostProcess policy%3A runAsUserName::" + msg + "\n" +
			"1 object: 0 admitted, 1 denied, 0 skipped\n",
	}, {
		name: "writes a warning for a violation under warn",
		cfg:  warnCfg,
		file: "pod.yaml",
		want: "::warning file=pod.yaml,line=2,title=HostProcess policy%3A runAsUserName::" + msg + "\n" +
			"1 object: 1 admitted, 0 denied, 0 skipped\n",
	}, {
		name: "writes a notice for a violation under audit",
		cfg:  auditCfg,
		file: "pod.yaml",
		want: "::notice file=pod.yaml,line=2,title=HostProcess policy%3A runAsUserName::" + msg + "\n" +
			"1 object: 1 admitted, 0 denied, 0 skipped\n",
	}, {
		name: "names no file for objects read from stdin",
		cfg:  config.Default(),
		file: manifest.StdinName,
		want: "::error title=HostProcess policy%3A runAsUserName::" + msg + "\n" +
			"1 object: 0 admitted, 1 denied, 0 skipped\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := formatReport(t, tc.cfg, tc.file).WriteGitHub(&out); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("workflow commands (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteSARIFLocations(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{{
		name: "locates a result at a relative URI of the file, percent-encoded, and the object's first line",
		file: "my manifests/pod#1.yaml",
		want: `[{"physicalLocation":{"artifactLocation":{"uri":"my%20manifests/pod%231.yaml"},"region":{"startLine":2}},"logicalLocations":[{"name":"bad","fullyQualifiedName":"Pod/kube-system/bad","kind":"resource"}]}]`,
	}, {
		name: "locates a result read from stdin only by the object",
		file: manifest.StdinName,
		want: `[{"logicalLocations":[{"name":"bad","fullyQualifiedName":"Pod/kube-system/bad","kind":"resource"}]}]`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := formatReport(t, config.Default(), tc.file).WriteSARIF(&out); err != nil {
				t.Fatal(err)
			}
			var log struct {
				Runs []struct {
					Results []struct {
						RuleID    string          `json:"ruleId"`
						Level     string          `json:"level"`
						Locations json.RawMessage `json:"locations"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(out.Bytes(), &log); err != nil {
				t.Fatal(err)
			}
			if len(log.Runs) != 1 || len(log.Runs[0].Results) != 1 {
				t.Fatalf("want one run with one result, got %s", out.String())
			}
			res := log.Runs[0].Results[0]
			if res.RuleID != policy.RuleRunAsUserName || res.Level != "error" {
				t.Errorf("result rule %s, level %s; want %s, error", res.RuleID, res.Level, policy.RuleRunAsUserName)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, res.Locations); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, compact.String()); diff != "" {
				t.Errorf("locations (-want +got):\n%s", diff)
			}
		})
	}
}
