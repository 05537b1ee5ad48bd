//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// stacks makes a profile of the given sample types whose samples have the
// given stacks (function names, innermost first) and values.
func stacks(types []string, samples ...struct {
	stack []string
	value []int64
}) *profile.Profile {
	p := &profile.Profile{}
	for _, t := range types {
		p.SampleType = append(p.SampleType, &profile.ValueType{Type: t})
	}
	funcs := map[string]*profile.Function{}
	for _, s := range samples {
		var locs []*profile.Location
		for _, name := range s.stack {
			f, ok := funcs[name]
			if !ok {
				f = &profile.Function{ID: uint64(len(funcs) + 1), Name: name}
				funcs[name] = f
				p.Function = append(p.Function, f)
			}
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: s.value})
	}
	return p
}

type sample = struct {
	stack []string
	value []int64
}

const (
	admit    = "k8s.io/apiserver/pkg/admission.chainAdmissionHandler.Admit"
	validate = "k8s.io/apiserver/pkg/admission.chainAdmissionHandler.Validate"
)

func TestCPUAccount(t *testing.T) {
	ms := int64(time.Millisecond)
	p := stacks([]string{"samples", "cpu"},
		sample{[]string{"k8s.io/apiserver/pkg/admission/plugin/webhook/generic.(*Webhook).ShouldCallHook", admit, "main"}, []int64{3, 30 * ms}},
		sample{[]string{"runtime.mallocgc", validate, "main"}, []int64{1, 10 * ms}},
		// A webhook called from both chains (reinvocation) counts once.
		sample{[]string{"crypto/tls.(*Conn).Write", validate, admit, "main"}, []int64{1, 10 * ms}},
		// A validating webhook's call, in goroutines of its own.
		sample{[]string{"encoding/json.Marshal", "k8s.io/apiserver/pkg/admission/plugin/webhook/validating.(*validatingDispatcher).callHook",
			"k8s.io/apiserver/pkg/admission/plugin/webhook/validating.(*validatingDispatcher).Dispatch.func1"}, []int64{2, 20 * ms}},
		sample{[]string{"crypto/tls.(*Conn).Write", "net/http.(*persistConn).writeLoop"}, []int64{1, 5 * ms}},
		sample{[]string{"crypto/tls.(*Conn).Read", "net/http.(*persistConn).readLoop"}, []int64{1, 5 * ms}},
		// The API server's own HTTP/2 server is not admission.
		sample{[]string{"crypto/tls.(*Conn).Write", "golang.org/x/net/http2.(*serverConn).writeFrameAsync"}, []int64{7, 70 * ms}},
		sample{[]string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker.func2", "runtime.gcBgMarkWorker"}, []int64{4, 40 * ms}},
		sample{[]string{"etcd3.(*store).Create", "main"}, []int64{9, 90 * ms}},
	)
	adm, gc, err := cpuAccount(p)
	if err != nil {
		t.Fatal(err)
	}
	if adm != 80*time.Millisecond || gc != 40*time.Millisecond {
		t.Errorf("admission %v, GC %v; want 80ms and 40ms", adm, gc)
	}
	if _, _, err := cpuAccount(stacks([]string{"alloc_space"})); err == nil || !strings.Contains(err.Error(), `no "cpu" samples`) {
		t.Errorf("a profile without CPU samples: err = %v", err)
	}
}

func TestAllocShare(t *testing.T) {
	types := []string{"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"}
	snapshot := func(adm, other int64) *profile.Profile {
		return stacks(types,
			sample{[]string{"k8s.io/apiserver/pkg/admission/plugin/cel.(*filterCompiler).Compile", admit, "main"}, []int64{1, adm, 0, 0}},
			sample{[]string{"encoding/json.Marshal", "main"}, []int64{1, other, 0, 7}})
	}
	// 1 MiB of admission and 3 MiB of the rest allocated in between: 1/4.
	share, err := allocShare(snapshot(5<<20, 10<<20), snapshot(6<<20, 13<<20))
	if err != nil {
		t.Fatal(err)
	}
	if share != 0.25 {
		t.Errorf("share = %v, want 0.25", share)
	}
	if _, err := allocShare(snapshot(1, 1), snapshot(1, 1)); err == nil || !strings.Contains(err.Error(), "no allocation") {
		t.Errorf("no allocation between the snapshots: err = %v", err)
	}
}

func TestAccountPerPod(t *testing.T) {
	a := account{Admission: 500 * time.Millisecond, GC: 2 * time.Second, Pods: 5000, AllocShare: 0.02}
	adm, gc := a.perPod()
	if adm != 0.1 || gc != 0.008 {
		t.Errorf("per pod: admission %v ms, GC %v ms; want 0.1 and 0.008", adm, gc)
	}
	if adm, gc := (account{Admission: time.Second}).perPod(); adm != 0 || gc != 0 {
		t.Errorf("no pods: %v, %v; want 0, 0", adm, gc)
	}
}
