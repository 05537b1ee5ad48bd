package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load reads the configuration file at path (YAML or JSON), defaults it and
// validates it. An empty path means there is no file: Load returns the
// defaults.
func Load(path string) (*AdmissionConfiguration, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	c, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	return c, nil
}

// Decode decodes one configuration (YAML or JSON) strictly, defaults it and
// validates it. Input without content (empty, whitespace, comments, null)
// means the defaults. The error names every problem with its field path.
func Decode(data []byte) (*AdmissionConfiguration, error) {
	jsonData, err := toJSON(data)
	if err != nil {
		return nil, err
	}
	if jsonData == nil {
		return Default(), nil
	}
	c := &AdmissionConfiguration{}
	// Case-sensitive like the Kubernetes API: "Mode" is an unknown field, not mode.
	strictErrs, err := kjson.UnmarshalStrict(jsonData, c)
	if err != nil {
		return nil, decodeError(err, jsonData)
	}
	// The version decides which fields exist, so it is checked first.
	if errs := validateTypeMeta(c); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if len(strictErrs) > 0 {
		return nil, utilerrors.NewAggregate(strictErrs)
	}
	SetDefaults(c)
	if errs := Validate(c); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return c, nil
}

// toJSON returns data as JSON, or nil when it holds no configuration.
// JSON input is returned as it is: YAML parsers reject some valid JSON, such as
// the escape \/.
func toJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '{' && json.Valid(trimmed) {
		return trimmed, nil
	}
	empty, err := checkSingleDocument(data)
	if err != nil || empty {
		return nil, err
	}
	// Strict: a key repeated in a mapping is an error.
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil && !strings.HasPrefix(err.Error(), "yaml: ") {
		// Such as a mapping key that is a list, which JSON cannot express.
		err = fmt.Errorf("invalid YAML: %w", err)
	}
	return jsonData, err
}

// checkSingleDocument reports an error when data holds more than one YAML
// document, and whether it holds none. Empty documents (a trailing ---, only
// comments, null) do not count, except that the configuration must be the
// first document so that YAMLToJSON reads it.
func checkSingleDocument(data []byte) (empty bool, err error) {
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	dec.SetStrict(true)
	empty = true
	for i := 1; ; i++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return empty, nil
		}
		if err != nil {
			return false, err
		}
		if doc == nil {
			continue
		}
		if i > 1 {
			return false, fmt.Errorf("YAML document %d: the configuration file must hold exactly one YAML document", i)
		}
		empty = false
	}
}

// decodeError makes a decoding error name the field, in the terms of a
// configuration file rather than of Go types. The input is valid JSON by now,
// so there are no syntax errors.
func decodeError(err error, jsonData []byte) error {
	if value, field, typ, ok := typeError(err); ok {
		// The path names embedded structs by their Go name.
		field = strings.TrimPrefix(field, "TypeMeta.")
		if field == "" {
			return fmt.Errorf("the configuration must be a YAML or JSON object, not %s", describeValue(value))
		}
		return fmt.Errorf("%s: must be %s, not %s", field, describeType(typ), describeValue(value))
	}
	// metav1.Duration reports a bad duration without its field: find the
	// duration that does not parse.
	if strings.HasPrefix(err.Error(), "time: ") {
		return fmt.Errorf("%s: %w (want a duration such as 5m or 1h30m)", badDuration(jsonData), err)
	}
	return err
}

// badDuration returns the path of the first duration field of the
// configuration jsonData that does not parse.
func badDuration(jsonData []byte) string {
	var durations struct {
		Audit struct {
			Interval json.RawMessage `json:"interval"`
		} `json:"audit"`
		Exceptions struct {
			MaxLifetime json.RawMessage `json:"maxLifetime"`
		} `json:"exceptions"`
	}
	_ = json.Unmarshal(jsonData, &durations)
	var d metav1.Duration
	if raw := durations.Exceptions.MaxLifetime; raw != nil && d.UnmarshalJSON(raw) != nil {
		return "exceptions.maxLifetime"
	}
	return "audit.interval"
}

// typeError extracts the fields of an *UnmarshalTypeError, either from
// encoding/json or from the copy in sigs.k8s.io/json, which cannot be named
// from here.
func typeError(err error) (value, field string, typ reflect.Type, ok bool) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || v.Elem().Type().Name() != "UnmarshalTypeError" {
		return "", "", nil, false
	}
	s := v.Elem()
	valueField, fieldField, typeField := s.FieldByName("Value"), s.FieldByName("Field"), s.FieldByName("Type")
	if valueField.Kind() != reflect.String || fieldField.Kind() != reflect.String || !typeField.IsValid() {
		return "", "", nil, false
	}
	typ, ok = typeField.Interface().(reflect.Type)
	if !ok || typ == nil {
		return "", "", nil, false
	}
	return valueField.String(), fieldField.String(), typ, true
}

// describeValue turns encoding/json's description of a value ("array",
// "number 1.5") into words.
func describeValue(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "a mapping"
	case "bool":
		return "a boolean"
	case "string", "number":
		return "a " + v
	}
	return v
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}
