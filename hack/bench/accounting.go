//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/pprof/profile"
)

// The accounting attributes kube-apiserver's CPU to admission from its own
// profiles, which resolves what the chart's configurations cost a pod much
// finer than the CPU time per pod does on a shared machine: every run's CPU
// profile gives the CPU spent under the admission chain, and two snapshots
// of its allocation profile give the admission's share of the bytes
// allocated, hence of the garbage collector's background work.

// admissionFrames are the functions that run the mutating and validating
// admission chains (k8s.io/apiserver/pkg/admission/chain.go), and those that
// run outside them for a webhook call: the validating dispatcher calls each
// webhook in a goroutine of its own, and the HTTP client's transport reads
// and writes in goroutines of each connection (kube-apiserver's other HTTP
// clients, to etcd and to itself, use gRPC and HTTP/2).
var admissionFrames = map[string]bool{
	"k8s.io/apiserver/pkg/admission.chainAdmissionHandler.Admit":                                      true,
	"k8s.io/apiserver/pkg/admission.chainAdmissionHandler.Validate":                                   true,
	"k8s.io/apiserver/pkg/admission/plugin/webhook/validating.(*validatingDispatcher).Dispatch.func1": true,
	"net/http.(*persistConn).readLoop":                                                                true,
	"net/http.(*persistConn).writeLoop":                                                               true,
}

// gcFrames are the garbage collector's background worker; its assists run
// in the allocating goroutines and count there.
var gcFrames = map[string]bool{"runtime.gcBgMarkWorker": true}

// account is what one run's profiles attribute to admission.
type account struct {
	Admission time.Duration // CPU under the admission chain
	GC        time.Duration // CPU of the background garbage collector
	Pods      int           // pods created while the CPU profile ran
	// AllocShare is the admission chain's share of the bytes allocated
	// during the run.
	AllocShare float64
}

// perPod returns what admission costs a pod, in milliseconds: its own CPU,
// and its share of the background garbage collection.
func (a account) perPod() (admission, gc float64) {
	if a.Pods == 0 {
		return 0, 0
	}
	return ms(a.Admission) / float64(a.Pods), ms(a.GC) * a.AllocShare / float64(a.Pods)
}

// valueIndex returns the index of the sample type named typ.
func valueIndex(p *profile.Profile, typ string) (int, error) {
	for i, st := range p.SampleType {
		if st.Type == typ {
			return i, nil
		}
	}
	return 0, fmt.Errorf("profile has no %q samples", typ)
}

// under reports whether any frame of s is one of frames.
func under(s *profile.Sample, frames map[string]bool) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function != nil && frames[line.Function.Name] {
				return true
			}
		}
	}
	return false
}

// cpuAccount sums a CPU profile's samples under admissionFrames, each once,
// and under the garbage collector's background worker.
func cpuAccount(p *profile.Profile) (admission, gc time.Duration, err error) {
	i, err := valueIndex(p, "cpu")
	if err != nil {
		return 0, 0, err
	}
	for _, s := range p.Sample {
		v := time.Duration(s.Value[i])
		if under(s, admissionFrames) {
			admission += v
		}
		if under(s, gcFrames) {
			gc += v
		}
	}
	return admission, gc, nil
}

// allocated returns the bytes an allocation profile records allocated since
// the process started, in all and under admissionFrames.
func allocated(p *profile.Profile) (all, admission int64, err error) {
	i, err := valueIndex(p, "alloc_space")
	if err != nil {
		return 0, 0, err
	}
	for _, s := range p.Sample {
		all += s.Value[i]
		if under(s, admissionFrames) {
			admission += s.Value[i]
		}
	}
	return all, admission, nil
}

// allocShare is the admission chain's share of the bytes allocated between
// two snapshots of the allocation profile.
func allocShare(before, after *profile.Profile) (float64, error) {
	all0, adm0, err := allocated(before)
	if err != nil {
		return 0, err
	}
	all1, adm1, err := allocated(after)
	if err != nil {
		return 0, err
	}
	if all1 <= all0 {
		return 0, fmt.Errorf("the allocation profile recorded no allocation between its snapshots (%d then %d bytes)", all0, all1)
	}
	return float64(adm1-adm0) / float64(all1-all0), nil
}

// accounting is one run's accounting in progress.
type accounting struct {
	e       *e2eBench
	prof    profiling
	allocs0 *profile.Profile
	// pods is the pods created when the CPU profile ended, -1 until then.
	pods     atomic.Int64
	created  *atomic.Int64
	end      *time.Timer
	profiled chan struct{}
	cpu      *profile.Profile
	err      error
}

// beginAccount takes the first snapshot of the allocation profile.
func (e *e2eBench) beginAccount(ctx context.Context, prof profiling) (*accounting, error) {
	allocs0, err := e.fetchProfile(ctx, "allocs", 0, "")
	if err != nil {
		return nil, err
	}
	a := &accounting{e: e, prof: prof, allocs0: allocs0, profiled: make(chan struct{})}
	a.pods.Store(-1)
	return a, nil
}

// start starts the CPU profile at the start of the run; created counts the
// pods the run creates.
func (a *accounting) start(ctx context.Context, created *atomic.Int64) {
	a.created = created
	go func() {
		defer close(a.profiled)
		a.cpu, a.err = a.e.fetchProfile(ctx, "profile", a.prof.seconds, a.prof.keep)
	}()
	a.end = time.AfterFunc(time.Duration(a.prof.seconds)*time.Second, func() { a.pods.Store(created.Load()) })
}

// finish waits for the CPU profile, takes the second snapshot of the
// allocation profile and returns what they attribute to admission over the
// pods created while the CPU profile ran (all of them when the run ended
// first).
func (a *accounting) finish(ctx context.Context) (account, error) {
	<-a.profiled
	a.end.Stop()
	if a.err != nil {
		return account{}, a.err
	}
	allocs1, err := a.e.fetchProfile(ctx, "allocs", 0, "")
	if err != nil {
		return account{}, err
	}
	acc := account{Pods: int(a.pods.Load())}
	if acc.Pods < 0 {
		acc.Pods = int(a.created.Load())
	}
	if acc.Admission, acc.GC, err = cpuAccount(a.cpu); err != nil {
		return account{}, err
	}
	if acc.AllocShare, err = allocShare(a.allocs0, allocs1); err != nil {
		return account{}, err
	}
	return acc, nil
}

// fetchProfile gets a profile from kube-apiserver's /debug/pprof endpoint:
// "profile" (CPU, for seconds) or "allocs" (cumulative). With keep, the raw
// profile is also written there.
func (e *e2eBench) fetchProfile(ctx context.Context, kind string, seconds int, keep string) (*profile.Profile, error) {
	req := e.cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/" + kind).Timeout(time.Duration(seconds+30) * time.Second)
	if seconds > 0 {
		req = req.Param("seconds", strconv.Itoa(seconds))
	}
	data, err := req.DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver's /debug/pprof/%s: %w", kind, err)
	}
	if keep != "" {
		if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			return nil, err
		}
	}
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver's /debug/pprof/%s: %w", kind, err)
	}
	return p, nil
}
