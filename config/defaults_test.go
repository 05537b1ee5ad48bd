package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const defaultsGolden = "testdata/defaults.yaml"

// TestDefaultsGolden compares the defaulted empty configuration with
// testdata/defaults.yaml. UPDATE_GOLDEN=1 go test ./config/ rewrites the file.
func TestDefaultsGolden(t *testing.T) {
	got, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(defaultsGolden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(defaultsGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(defaultsGolden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 go test ./config/ writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("defaults differ from %s (UPDATE_GOLDEN=1 go test ./config/ rewrites it)\ngot:\n%s\nwant:\n%s", defaultsGolden, got, want)
	}
}

func TestDefaultsGoldenLoadsAsTheDefaults(t *testing.T) {
	got, err := Load(filepath.FromSlash(defaultsGolden))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Load(%s) = %+v, want Default() = %+v", defaultsGolden, got, Default())
	}
}

func TestSetDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   AdmissionConfiguration
		want AdmissionConfiguration
	}{
		{
			name: "an empty configuration gets every default",
			in:   AdmissionConfiguration{},
			want: AdmissionConfiguration{
				TypeMeta:     metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind},
				Mode:         ModeEnforce,
				WorkloadMode: ModeWarn,
				AllowedUsers: []string{`NT AUTHORITY\SYSTEM`, `NT AUTHORITY\Local service`, `NT AUTHORITY\NetworkService`},
				Defaults:     Defaults{NodeSelector: new(true)},
				Audit:        Audit{Enabled: new(true), Interval: &metav1.Duration{Duration: 5 * time.Minute}},
				Exceptions:   Exceptions{MaxLifetime: &metav1.Duration{Duration: 24 * time.Hour}},
			},
		},
		{
			name: "an explicit empty allowedUsers list stays empty instead of allowing the built-in users",
			in:   AdmissionConfiguration{AllowedUsers: []string{}},
			want: AdmissionConfiguration{
				TypeMeta:     metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind},
				Mode:         ModeEnforce,
				WorkloadMode: ModeWarn,
				AllowedUsers: []string{},
				Defaults:     Defaults{NodeSelector: new(true)},
				Audit:        Audit{Enabled: new(true), Interval: &metav1.Duration{Duration: 5 * time.Minute}},
				Exceptions:   Exceptions{MaxLifetime: &metav1.Duration{Duration: 24 * time.Hour}},
			},
		},
		{
			name: "values that are set are kept, false included",
			in: AdmissionConfiguration{
				Mode:         ModeAudit,
				WorkloadMode: ModeEnforce,
				AllowedUsers: []string{`NT AUTHORITY\SYSTEM`},
				Defaults:     Defaults{NodeSelector: new(false)},
				Audit:        Audit{Enabled: new(false), Interval: &metav1.Duration{Duration: time.Hour}},
				Exceptions:   Exceptions{MaxLifetime: &metav1.Duration{Duration: 2 * time.Hour}},
			},
			want: AdmissionConfiguration{
				TypeMeta:     metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind},
				Mode:         ModeAudit,
				WorkloadMode: ModeEnforce,
				AllowedUsers: []string{`NT AUTHORITY\SYSTEM`},
				Defaults:     Defaults{NodeSelector: new(false)},
				Audit:        Audit{Enabled: new(false), Interval: &metav1.Duration{Duration: time.Hour}},
				Exceptions:   Exceptions{MaxLifetime: &metav1.Duration{Duration: 2 * time.Hour}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			SetDefaults(&got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SetDefaults:\ngot  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultReturnsIndependentCopies(t *testing.T) {
	a := Default()
	a.AllowedUsers[0] = "changed"
	*a.Defaults.NodeSelector = false
	if b := Default(); b.AllowedUsers[0] != `NT AUTHORITY\SYSTEM` || !*b.Defaults.NodeSelector {
		t.Errorf("changing one Default() changed the next: %+v", b)
	}
}
