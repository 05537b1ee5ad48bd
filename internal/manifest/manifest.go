// Package manifest reads Kubernetes manifests the way `kubectl apply -f` does:
// files, directories and stdin; multi-document YAML or a stream of JSON
// objects; v1 Lists and typed lists, whose items are read one by one. Kinds
// that client-go's scheme knows are decoded strictly into typed objects, as
// the API server does with strict field validation.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/internal/yamldoc"
)

// Stdin is the path that means standard input, and StdinName how objects
// read from it name their file.
const (
	Stdin     = "-"
	StdinName = "stdin"
)

// Extensions are the file extensions read from a directory, as kubectl reads
// them. A file named explicitly is read whatever its extension.
var Extensions = []string{".json", ".yaml", ".yml"}

// Object is one object of the input.
type Object struct {
	// Object is a typed object for the kinds client-go's scheme knows, and an
	// *unstructured.Unstructured for kinds of other groups, such as custom
	// resources.
	Object runtime.Object
	// GVK is the object's apiVersion and kind.
	GVK    schema.GroupVersionKind
	Source Source
}

// Source says where an object was read.
type Source struct {
	// File is the path as given, or as found under a directory, or StdinName.
	File string
	// Document is the YAML document or JSON value in File, counted from 1;
	// 0 when a whole file is meant.
	Document int
	// Item is the position in a list, counted from 1; 0 outside a list.
	Item int
	// Line is the line of File the object starts on, counted from 1: the
	// first line of its document that is neither blank nor a comment, or of
	// its JSON value. The items of a list have the line of the list. 0 when
	// unknown.
	Line int
}

// String returns e.g. "pods.yaml, document 2" or "list.yaml, document 1, item 3".
func (s Source) String() string {
	str := s.File
	if s.Document > 0 {
		str += ", document " + strconv.Itoa(s.Document)
	}
	if s.Item > 0 {
		str += ", item " + strconv.Itoa(s.Item)
	}
	return str
}

// Error is input that cannot be read. Its text names the file, the document
// and item when known, and the line for YAML and JSON syntax errors:
//
//	pod.yaml: document 2: invalid YAML: line 9: mapping values are not allowed in this context
type Error struct {
	Source Source
	Err    error
}

func (e *Error) Error() string {
	where := e.Source.File
	if e.Source.Document > 0 {
		where += ": document " + strconv.Itoa(e.Source.Document)
	}
	if e.Source.Item > 0 {
		where += ", item " + strconv.Itoa(e.Source.Item)
	}
	return where + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ReadPaths reads every path: a file, a directory (recursively, the files
// with an extension in Extensions, in lexical order) or Stdin. It returns the
// objects of the files that could be read and one *Error for each that could
// not; a file with a bad document contributes no objects.
func ReadPaths(paths []string, stdin io.Reader) ([]Object, []error) {
	var (
		objs      []Object
		errs      []error
		stdinRead bool
	)
	for _, path := range paths {
		if path == Stdin {
			if stdinRead {
				errs = append(errs, &Error{Source{File: StdinName}, errors.New(`"-" is given more than once`)})
				continue
			}
			stdinRead = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, &Error{Source{File: StdinName}, err})
				continue
			}
			o, err := Read(StdinName, data)
			objs, errs = appendResult(objs, errs, o, err)
			continue
		}
		files, err := expand(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fileError(file, err))
				continue
			}
			o, err := Read(file, data)
			objs, errs = appendResult(objs, errs, o, err)
		}
	}
	return objs, errs
}

func appendResult(objs []Object, errs []error, o []Object, err error) ([]Object, []error) {
	if err != nil {
		return objs, append(errs, err)
	}
	return append(objs, o...), errs
}

// expand returns path itself for a file, and the manifest files under it for
// a directory.
func expand(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains(Extensions, filepath.Ext(p)) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			return nil, fileError(pathErr.Path, err)
		}
		return nil, &Error{Source{File: path}, err}
	}
	if len(files) == 0 {
		return nil, &Error{Source{File: path}, errors.New("no .json, .yaml or .yml files in the directory")}
	}
	return files, nil
}

// fileError names the file once: "x.yaml: no such file or directory" rather
// than "x.yaml: open x.yaml: no such file or directory".
func fileError(path string, err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		err = pathErr.Err
	}
	return &Error{Source{File: path}, err}
}

// Read decodes every object in data, the content of the file named name. It
// stops at the first document that cannot be read and returns it as an
// *Error. Documents that hold nothing (blank, only comments, null) are
// skipped.
func Read(name string, data []byte) ([]Object, error) {
	if isJSON(data) {
		return readJSONStream(name, data)
	}
	var objs []Object
	for i, doc := range yamldoc.Split(data) {
		src := Source{File: name, Document: i + 1, Line: contentLine(doc)}
		jsonDoc, err := yaml.YAMLToJSONStrict(doc.Data)
		if err != nil {
			return nil, &Error{src, yamlError(err, doc.Line)}
		}
		o, err := decode(src, jsonDoc)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	return objs, nil
}

// contentLine returns the line of the file that holds the first content of
// doc: neither blank, nor a comment, nor a directive. A blank document gives
// the line it starts on.
func contentLine(doc yamldoc.Document) int {
	line := doc.Line
	for text := range bytes.SplitSeq(doc.Data, []byte("\n")) {
		t := bytes.TrimSpace(text)
		if len(t) > 0 && t[0] != '#' && t[0] != '%' {
			return line
		}
		line++
	}
	return doc.Line
}

// isJSON reports whether data is a JSON stream rather than YAML: its first
// non-blank character opens an object, as kubectl decides.
func isJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// readJSONStream reads a stream of JSON values. Each value is a document.
// YAML parsers reject some valid JSON (such as the escape \/), so JSON is not
// read as YAML.
func readJSONStream(name string, data []byte) ([]Object, error) {
	var objs []Object
	dec := json.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		// The value starts after the blanks that follow the previous one.
		start += len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n"))
		src := Source{File: name, Document: i, Line: 1 + bytes.Count(data[:start], []byte("\n"))}
		if err != nil {
			offset := dec.InputOffset()
			var syntaxErr *json.SyntaxError
			if errors.As(err, &syntaxErr) {
				offset = syntaxErr.Offset
			}
			line := 1 + bytes.Count(data[:min(int(offset), len(data))], []byte("\n"))
			return nil, &Error{src, fmt.Errorf("invalid JSON: line %d: %s", line, strings.TrimPrefix(err.Error(), "json: "))}
		}
		o, err := decode(src, raw)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
}

// document is one YAML document and the line of the file it starts on.
var (
	yamlLine = regexp.MustCompile(`\bline (\d+)\b`)
	// yamlParserError matches the errors of the YAML parser, as opposed to its
	// scanner. The parser counts lines from 0, the scanner and decoder from 1.
	yamlParserError = regexp.MustCompile(`^line \d+: (did not find expected |found duplicate %|found incompatible YAML document|found undefined tag handle)`)
)

// yamlError rewrites a YAML parser error on one line, with line numbers
// counted from 1 in the file rather than in the document.
func yamlError(err error, firstLine int) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors: ")
	offset := firstLine - 1
	if yamlParserError.MatchString(msg) {
		offset++
	}
	msg = yamlLine.ReplaceAllStringFunc(msg, func(s string) string {
		n, err := strconv.Atoi(s[len("line "):])
		if err != nil {
			return s
		}
		return "line " + strconv.Itoa(n+offset)
	})
	return errors.New("invalid YAML: " + msg)
}

// strictDecoder decodes the kinds client-go knows, failing on unknown and
// duplicate fields. It neither converts nor defaults.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decode decodes one JSON document: nothing for null, the items of a list,
// otherwise one object.
func decode(src Source, jsonDoc []byte) ([]Object, error) {
	jsonDoc = bytes.TrimSpace(jsonDoc)
	if len(jsonDoc) == 0 || bytes.Equal(jsonDoc, []byte("null")) {
		return nil, nil
	}
	if jsonDoc[0] != '{' {
		return nil, &Error{src, fmt.Errorf("a manifest must be an object, not %s", jsonKind(jsonDoc))}
	}
	gvk, err := typeMeta(jsonDoc)
	if err != nil {
		return nil, &Error{src, err}
	}
	if !scheme.Scheme.Recognizes(gvk) {
		if scheme.Scheme.IsGroupRegistered(gvk.Group) {
			return nil, &Error{src, fmt.Errorf("unknown kind %q in apiVersion %q", gvk.Kind, gvk.GroupVersion())}
		}
		// A custom resource or another kind outside Kubernetes: kept, to be
		// skipped by name.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(jsonDoc); err != nil {
			return nil, &Error{src, err}
		}
		return []Object{{Object: u, GVK: gvk, Source: src}}, nil
	}
	obj, _, err := strictDecoder.Decode(jsonDoc, nil, nil)
	if err != nil {
		return nil, &Error{src, decodeError(err)}
	}
	if list, ok := obj.(*corev1.List); ok {
		if src.Item > 0 {
			return nil, &Error{src, errors.New("a list inside a list is not supported")}
		}
		var objs []Object
		for i, item := range list.Items {
			o, err := decode(Source{File: src.File, Document: src.Document, Item: i + 1, Line: src.Line}, item.Raw)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o...)
		}
		return objs, nil
	}
	if meta.IsListType(obj) {
		return typedListItems(src, obj)
	}
	return []Object{{Object: obj, GVK: gvk, Source: src}}, nil
}

// typedListItems returns the items of a typed list such as a PodList, which
// the strict decoder has already checked.
func typedListItems(src Source, list runtime.Object) ([]Object, error) {
	if src.Item > 0 {
		return nil, &Error{src, errors.New("a list inside a list is not supported")}
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, &Error{src, err}
	}
	objs := make([]Object, 0, len(items))
	for i, item := range items {
		itemSrc := Source{File: src.File, Document: src.Document, Item: i + 1, Line: src.Line}
		kinds, _, err := scheme.Scheme.ObjectKinds(item)
		if err != nil {
			return nil, &Error{itemSrc, err}
		}
		item.GetObjectKind().SetGroupVersionKind(kinds[0])
		objs = append(objs, Object{Object: item, GVK: kinds[0], Source: itemSrc})
	}
	return objs, nil
}

// typeMeta returns the apiVersion and kind of a JSON object, which must both
// be set.
func typeMeta(jsonDoc []byte) (schema.GroupVersionKind, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(jsonDoc, &fields); err != nil {
		return schema.GroupVersionKind{}, err
	}
	var missing []string
	get := func(name string) string {
		raw, ok := fields[name]
		var s string
		if !ok || json.Unmarshal(raw, &s) != nil || s == "" {
			missing = append(missing, name)
		}
		return s
	}
	apiVersion, kind := get("apiVersion"), get("kind")
	if len(missing) > 0 {
		return schema.GroupVersionKind{}, fmt.Errorf("%s must be set to a non-empty string", strings.Join(missing, " and "))
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	return gv.WithKind(kind), nil
}

// decodeError lists the strict decoding errors (unknown and duplicate fields)
// without their common prefix.
func decodeError(err error) error {
	if strictErr, ok := runtime.AsStrictDecodingError(err); ok {
		msgs := make([]string, 0, len(strictErr.Errors()))
		for _, e := range strictErr.Errors() {
			msgs = append(msgs, e.Error())
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

func jsonKind(v []byte) string {
	switch {
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
