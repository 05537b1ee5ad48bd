package executor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/internal/yamldoc"
)

// MaxTaskFileBytes is the largest task file read: a ConfigMap holds at most
// 1 MiB.
const MaxTaskFileBytes = 1 << 20

// DocumentError is what is wrong with one document of a task file. Its text
// names the file, the document (counted from 1) and, once known, the task,
// then each field at fault:
//
//	tasks.yaml: document 2 (task "flush-dns"): limits.memory: Invalid value: "lots": must be a quantity such as 256Mi
type DocumentError struct {
	File     string
	Document int
	// Task is the document's name, when it has one.
	Task string
	// Problems name the field at fault, each on its own.
	Problems []string
}

func (e *DocumentError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Document > 0 {
		fmt.Fprintf(&b, ": document %d", e.Document)
	}
	if e.Task != "" {
		fmt.Fprintf(&b, " (task %q)", e.Task)
	}
	b.WriteString(": ")
	b.WriteString(strings.Join(e.Problems, "; "))
	return b.String()
}

// FileResult is the outcome of loading one file of the tasks directory. A file
// is taken whole or not at all: Err is set and Tasks empty when any of its
// documents is wrong.
type FileResult struct {
	// Name is the file name within the directory.
	Name  string
	Tasks []TaskSpec
	Err   error
}

// LoadDir reads every task file in dir. Every regular file whose name does
// not start with "." is a task file, whatever its extension; symbolic links
// are followed, so the ..data swap of a mounted ConfigMap is seen. Results are
// sorted by file name. A task name used by an earlier file makes the later
// file fail. The error is for a directory that cannot be listed.
func LoadDir(dir string) ([]FileResult, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading tasks directory: %w", err)
	}
	var results []FileResult
	owner := map[string]string{}
	for _, entry := range entries {
		name := entry.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil {
			results = append(results, FileResult{Name: name, Err: fmt.Errorf("%s: %w", name, err)})
			continue
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > MaxTaskFileBytes {
			results = append(results, FileResult{Name: name, Err: fmt.Errorf("%s: file is %d bytes, more than the %d allowed", name, info.Size(), MaxTaskFileBytes)})
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			results = append(results, FileResult{Name: name, Err: fmt.Errorf("%s: %w", name, err)})
			continue
		}
		tasks, err := ParseTasks(name, data)
		if err == nil {
			for _, t := range tasks {
				if other, ok := owner[t.Name]; ok {
					err = fmt.Errorf("%s: task %q is already defined in %s", name, t.Name, other)
					break
				}
			}
		}
		if err != nil {
			results = append(results, FileResult{Name: name, Err: err})
			continue
		}
		for _, t := range tasks {
			owner[t.Name] = name
		}
		results = append(results, FileResult{Name: name, Tasks: tasks})
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	return results, nil
}

// ParseTasks decodes and validates the documents of one task file. file names
// the file in errors. Documents that hold only comments are skipped. Every
// wrong document is reported, each as a *DocumentError, joined.
func ParseTasks(file string, data []byte) ([]TaskSpec, error) {
	var (
		tasks []TaskSpec
		errs  []error
		names = map[string]int{}
	)
	for i, doc := range yamldoc.Split(data) {
		if yamldoc.IsBlank(doc.Data) {
			continue
		}
		spec, derr := parseDocument(doc.Data)
		if derr != nil {
			derr.File, derr.Document = file, i+1
			errs = append(errs, derr)
			continue
		}
		if first, ok := names[spec.Name]; ok {
			errs = append(errs, &DocumentError{File: file, Document: i + 1, Task: spec.Name,
				Problems: []string{field.Duplicate(field.NewPath("name"), spec.Name).Error() + fmt.Sprintf(" (also document %d)", first)}})
			continue
		}
		names[spec.Name] = i + 1
		spec.Source = file
		tasks = append(tasks, spec)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tasks, nil
}

// parseDocument decodes one document strictly and validates it. The returned
// error has no file or document number yet.
func parseDocument(doc []byte) (TaskSpec, *DocumentError) {
	fail := func(task string, problems ...string) (TaskSpec, *DocumentError) {
		return TaskSpec{}, &DocumentError{Task: task, Problems: problems}
	}
	jsonDoc, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		return fail("", "not valid YAML: "+strings.Join(strings.Fields(msg), " "))
	}
	if !bytes.HasPrefix(bytes.TrimSpace(jsonDoc), []byte("{")) {
		return fail("", "a task document must be a mapping, not "+jsonKind(bytes.TrimSpace(jsonDoc)))
	}
	// The standard decoder names the field of a type error; the Kubernetes
	// one finds unknown and case-mismatched fields.
	var task Task
	if err := json.Unmarshal(jsonDoc, &task); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fail(nameOf(jsonDoc), fmt.Sprintf("%s: Invalid value: %s: must be %s", typeErr.Field, typeErr.Value, jsonTypeName(typeErr.Type)))
		}
		return fail(nameOf(jsonDoc), err.Error())
	}
	task = Task{}
	strictErrs, err := sigsjson.UnmarshalStrict(jsonDoc, &task)
	if err != nil {
		return fail(nameOf(jsonDoc), err.Error())
	}
	if len(strictErrs) > 0 {
		problems := make([]string, 0, len(strictErrs))
		for _, e := range strictErrs {
			problems = append(problems, e.Error())
		}
		return fail(task.Name, problems...)
	}
	spec, errs := validateTask(&task)
	if len(errs) > 0 {
		problems := make([]string, 0, len(errs))
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
		return fail(task.Name, problems...)
	}
	return spec, nil
}

// nameOf digs the name out of a document that did not decode, for the error.
func nameOf(jsonDoc []byte) string {
	var partial struct {
		Name any `json:"name"`
	}
	if json.Unmarshal(jsonDoc, &partial) != nil {
		return ""
	}
	name, _ := partial.Name.(string)
	return name
}

func jsonKind(v []byte) string {
	switch {
	case len(v) == 0 || bytes.Equal(v, []byte("null")):
		return "null"
	case v[0] == '[':
		return "a list"
	case v[0] == '"':
		return "a string"
	case bytes.Equal(v, []byte("true")) || bytes.Equal(v, []byte("false")):
		return "a boolean"
	default:
		return "a number"
	}
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonTypeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	case reflect.Bool:
		return "a boolean"
	default:
		return t.String()
	}
}

// validateTask checks a decoded task and returns it parsed and defaulted.
func validateTask(t *Task) (TaskSpec, field.ErrorList) {
	var errs field.ErrorList
	if t.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), t.APIVersion, []string{APIVersion}))
	}
	if t.Kind != KindTask {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), t.Kind, []string{KindTask}))
	}
	spec := TaskSpec{
		Name:       t.Name,
		Command:    t.Command,
		Script:     t.Script,
		Shell:      t.Shell,
		Env:        t.Env,
		WorkingDir: t.WorkingDir,
		Trigger:    t.Trigger,
		Timeout:    DefaultTimeout,
	}

	namePath := field.NewPath("name")
	if t.Name == "" {
		errs = append(errs, field.Required(namePath, "a task needs a name"))
	} else if msgs := validation.IsDNS1123Label(t.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(namePath, t.Name, strings.Join(msgs, "; ")))
	}

	switch {
	case len(t.Command) > 0 && t.Script != "":
		errs = append(errs, field.Forbidden(field.NewPath("script"), "command and script are mutually exclusive"))
	case len(t.Command) == 0 && t.Script == "":
		errs = append(errs, field.Required(field.NewPath("command"), "one of command and script is required"))
	}
	for i, arg := range t.Command {
		if i == 0 && arg == "" {
			errs = append(errs, field.Required(field.NewPath("command").Index(0), "the program to run"))
		}
		if strings.ContainsRune(arg, 0) {
			errs = append(errs, field.Invalid(field.NewPath("command").Index(i), arg, "must not contain a NUL character"))
		}
	}
	shellPath := field.NewPath("shell")
	switch {
	case t.Script != "" && t.Shell == "":
		errs = append(errs, field.Required(shellPath, "script needs a shell: powershell or cmd"))
	case t.Script == "" && t.Shell != "":
		errs = append(errs, field.Forbidden(shellPath, "shell is only for script"))
	case t.Shell != "" && t.Shell != ShellPowerShell && t.Shell != ShellCmd:
		errs = append(errs, field.NotSupported(shellPath, t.Shell, []Shell{ShellCmd, ShellPowerShell}))
	}

	seen := map[string]bool{}
	for i, env := range t.Env {
		p := field.NewPath("env").Index(i).Child("name")
		switch {
		case env.Name == "":
			errs = append(errs, field.Required(p, ""))
		case strings.ContainsAny(env.Name, "=\x00"):
			errs = append(errs, field.Invalid(p, env.Name, "must not contain '=' or NUL"))
		case seen[strings.ToUpper(env.Name)]:
			errs = append(errs, field.Duplicate(p, env.Name))
		}
		if strings.ContainsRune(env.Value, 0) {
			errs = append(errs, field.Invalid(field.NewPath("env").Index(i).Child("value"), env.Value, "must not contain a NUL character"))
		}
		seen[strings.ToUpper(env.Name)] = true
	}

	if spec.Trigger == "" {
		spec.Trigger = TriggerOnce
	}
	intervalPath := field.NewPath("interval")
	switch spec.Trigger {
	case TriggerInterval:
		if t.Interval == "" {
			errs = append(errs, field.Required(intervalPath, "trigger interval needs an interval such as 10m"))
		} else if d, err := time.ParseDuration(t.Interval); err != nil {
			errs = append(errs, field.Invalid(intervalPath, t.Interval, "must be a duration such as 10m"))
		} else if d < MinInterval {
			errs = append(errs, field.Invalid(intervalPath, t.Interval, "must be at least "+MinInterval.String()))
		} else {
			spec.Interval = d
		}
	case TriggerOnce, TriggerOnChange:
		if t.Interval != "" {
			errs = append(errs, field.Forbidden(intervalPath, "interval is only for trigger interval"))
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("trigger"), t.Trigger, []Trigger{TriggerInterval, TriggerOnChange, TriggerOnce}))
	}

	if t.Timeout != "" {
		p := field.NewPath("timeout")
		if d, err := time.ParseDuration(t.Timeout); err != nil {
			errs = append(errs, field.Invalid(p, t.Timeout, "must be a duration such as 5m"))
		} else if d <= 0 {
			errs = append(errs, field.Invalid(p, t.Timeout, "must be positive"))
		} else {
			spec.Timeout = d
		}
	}

	limitsPath := field.NewPath("limits")
	spec.Limits.MemoryBytes = parseMemory(limitsPath.Child("memory"), t.Limits.Memory, &errs)
	spec.Limits.ProcessMemoryBytes = parseMemory(limitsPath.Child("processMemory"), t.Limits.ProcessMemory, &errs)
	if r := t.Limits.CPURate; r < 0 || r > 100 {
		errs = append(errs, field.Invalid(limitsPath.Child("cpuRate"), r, "must be a percentage of the node from 1 to 100"))
	} else {
		spec.Limits.CPURatePercent = r
	}
	if n := t.Limits.MaxProcesses; n < 0 {
		errs = append(errs, field.Invalid(limitsPath.Child("maxProcesses"), n, "must be at least 1"))
	} else {
		spec.Limits.MaxProcesses = n
	}

	spec.MaxOutputBytes = DefaultMaxOutputBytes
	if t.MaxOutputBytes != nil {
		if n := *t.MaxOutputBytes; n < 0 || n > MaxMaxOutputBytes {
			errs = append(errs, field.Invalid(field.NewPath("maxOutputBytes"), n, fmt.Sprintf("must be from 0 to %d", MaxMaxOutputBytes)))
		} else {
			spec.MaxOutputBytes = n
		}
	}
	if len(errs) > 0 {
		return TaskSpec{}, errs
	}
	spec.Hash = hashSpec(&spec)
	return spec, nil
}

func parseMemory(p *field.Path, value string, errs *field.ErrorList) int64 {
	if value == "" {
		return 0
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		*errs = append(*errs, field.Invalid(p, value, "must be a quantity such as 256Mi"))
		return 0
	}
	n, ok := q.AsInt64()
	if !ok || n < 1<<20 {
		*errs = append(*errs, field.Invalid(p, value, "must be a whole number of bytes of at least 1Mi"))
		return 0
	}
	return n
}

// hashSpec hashes everything that makes a run what it is.
func hashSpec(s *TaskSpec) string {
	canonical, _ := json.Marshal(s) // Hash and Source are json:"-"
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// hashStrings hashes a list of strings, each one counted with its length.
func hashStrings(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
