//go:build linux

package harness

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Example is one manifest under examples/, with what its top comment says
// the policy does with it. The comment quotes the check command's text output
// for the file (under the built-in defaults):
//
//	violation RULE: MESSAGE   a violation under enforce (the object is denied)
//	warning RULE: MESSAGE     a violation under warn (admitted with a warning)
//	warning: MESSAGE          a policy warning on an admitted object
//	default: PATCH            a default the mutating webhook adds
type Example struct {
	// Path is relative to the repository root, e.g. examples/rejected/bad-user.yaml.
	Path string
	// Group is the directory under examples/: admitted, rejected or warned
	// ("" for files directly in examples/, such as namespace.yaml).
	Group string
	// Kind, Namespace and Name are those of the file's first object.
	Kind, Namespace, Name string
	// Violations are the "violation RULE: MESSAGE" lines.
	Violations []Finding
	// WarnedViolations are the "warning RULE: MESSAGE" lines.
	WarnedViolations []Finding
	// Warnings are the "warning: MESSAGE" lines.
	Warnings []string
	// Defaults are the "default: PATCH" lines.
	Defaults []string
	// RejectedByAPIServer is set when the comment says that the API server's
	// own validation rejects the object ("422 Invalid") before any validating
	// webhook runs.
	RejectedByAPIServer bool
}

// Finding is a rule ID and its message.
type Finding struct {
	Rule    string
	Message string
}

var (
	reViolation = regexp.MustCompile(`^#\s+violation (\w+): (.*)$`)
	reWarnedVio = regexp.MustCompile(`^#\s+warning (\w+): (.*)$`)
	reWarning   = regexp.MustCompile(`^#\s+warning: (.*)$`)
	reDefault   = regexp.MustCompile(`^#\s+default: (.*)$`)
)

// LoadExamples reads every .yaml file under root/examples. Kubernetes objects
// are returned Namespaces first, then by path; the AdmissionConfiguration
// (examples/config.yaml, which is not a Kubernetes object) is returned
// separately as configPath, relative to root.
func LoadExamples(root string) (examples []Example, configPath string, err error) {
	base := filepath.Join(root, "examples")
	err = filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		ex, err := readExample(path)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		ex.Path = rel
		if ex.Kind == "AdmissionConfiguration" {
			configPath = rel
			return nil
		}
		if dir, _ := filepath.Rel(base, filepath.Dir(path)); dir != "." {
			ex.Group = strings.SplitN(filepath.ToSlash(dir), "/", 2)[0]
		}
		examples = append(examples, ex)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.SliceStable(examples, func(i, j int) bool {
		ni, nj := examples[i].Kind == "Namespace", examples[j].Kind == "Namespace"
		if ni != nj {
			return ni
		}
		return examples[i].Path < examples[j].Path
	})
	return examples, configPath, nil
}

func readExample(path string) (Example, error) {
	var ex Example
	data, err := os.ReadFile(path)
	if err != nil {
		return ex, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			break
		}
		if m := reViolation.FindStringSubmatch(line); m != nil {
			ex.Violations = append(ex.Violations, Finding{Rule: m[1], Message: m[2]})
		} else if m := reWarnedVio.FindStringSubmatch(line); m != nil {
			ex.WarnedViolations = append(ex.WarnedViolations, Finding{Rule: m[1], Message: m[2]})
		} else if m := reWarning.FindStringSubmatch(line); m != nil {
			ex.Warnings = append(ex.Warnings, m[1])
		} else if m := reDefault.FindStringSubmatch(line); m != nil {
			ex.Defaults = append(ex.Defaults, m[1])
		}
		if strings.Contains(line, "422 Invalid") {
			ex.RejectedByAPIServer = true
		}
	}
	objs, err := DecodeObjects(string(data))
	if err != nil {
		return ex, err
	}
	if len(objs) == 0 {
		return ex, fmt.Errorf("no object")
	}
	ex.Kind, ex.Namespace, ex.Name = objs[0].GetKind(), objs[0].GetNamespace(), objs[0].GetName()
	return ex, nil
}

// ConfigValues turns an AdmissionConfiguration file into Helm values for the
// chart (its fields are the chart's config values) and writes them to a file
// in dir, returning its path for helm -f.
func ConfigValues(configFile, dir string) (string, error) {
	data, err := os.ReadFile(configFile)
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("%s: %w", configFile, err)
	}
	delete(cfg, "apiVersion")
	delete(cfg, "kind")
	out, err := yaml.Marshal(map[string]any{"config": cfg})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "values-"+strings.TrimSuffix(filepath.Base(configFile), filepath.Ext(configFile))+".yaml")
	return path, os.WriteFile(path, out, 0o600)
}

// Renamed returns the first object of the manifest file with its name
// replaced, as YAML for kubectl apply -f -.
func Renamed(file, name string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	objs, err := DecodeObjects(string(data))
	if err != nil {
		return "", err
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("%s: no object", file)
	}
	objs[0].SetName(name)
	out, err := yaml.Marshal(objs[0].Object)
	return string(out), err
}
