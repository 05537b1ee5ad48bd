//go:build !windows

// Package examples_test checks that the example manifests are objects a real
// API server accepts, so that kubectl apply fails on them only because of the
// HostProcess policy.
package examples_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// rejectedByTheAPIServer are the examples that the API server's own pod
// validation rejects before any validating webhook is called, with its error.
var rejectedByTheAPIServer = map[string]string{
	"rejected/host-network.yaml":       `Pod "no-host-network" is invalid: spec.hostNetwork: Invalid value: false: hostNetwork must be true if pod contains any hostProcess containers`,
	"rejected/host-process-mixed.yaml": `Pod "mixed-containers" is invalid: spec: Invalid value: "": If pod contains any hostProcess containers then all containers must be HostProcess containers`,
}

func TestExamplesAreValidObjects(t *testing.T) {
	env := testenv.Start(t, testenv.WithLogger(logr.Discard()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The namespace is created for real: the other examples live in it.
	create(ctx, t, env, "namespace.yaml", nil)
	files, err := filepath.Glob("*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			want := rejectedByTheAPIServer[file]
			create(ctx, t, env, file, []client.CreateOption{client.DryRunAll}, want)
		})
	}
}

// create creates every object of file, failing the test unless the API
// server's answer is want ("" for success).
func create(ctx context.Context, t *testing.T, env *testenv.Env, file string, opts []client.CreateOption, want ...string) {
	t.Helper()
	objs, errs := manifest.ReadPaths([]string{file}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	wantErr := ""
	if len(want) > 0 {
		wantErr = want[0]
	}
	for _, o := range objs {
		obj, ok := o.Object.(client.Object)
		if !ok {
			t.Fatalf("%s: %T is not a client.Object", o.Source, o.Object)
		}
		got := ""
		if err := env.Client.Create(ctx, obj, opts...); err != nil {
			got = err.Error()
		}
		if got != wantErr {
			t.Errorf("%s: create: got error %q, want %q", o.Source, got, wantErr)
		}
	}
}
