//go:build linux

package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestServerRatios checks the per-repeat A/B ratios behind the server goals:
// the i-th run of A at 1000/s against the i-th of B, other rates and C left out.
func TestServerRatios(t *testing.T) {
	r := &report{RSS: map[string]float64{}}
	for i, cpu := range [][3]float64{{0.2, 0.16, 0.7}, {0.18, 0.2, 0.6}, {0.21, 0.15, 0.65}} {
		for j, server := range []string{"A", "B", "C"} {
			r.Fixed = append(r.Fixed,
				step{Server: server, Repeat: i + 1, Rate: 500, CPUPerRev: 9, P99ms: 9},
				step{Server: server, Repeat: i + 1, Rate: 1000, CPUPerRev: cpu[j], P99ms: 1 + float64(j)})
		}
	}
	r.summarize()
	want := spread{Median: 1.25, Min: 0.9, Max: 1.4, Values: []float64{1.25, 0.9, 1.4}}
	if got := r.ServerRatios["cpu_per_review"]; !reflect.DeepEqual(got, want) {
		t.Errorf("cpu_per_review = %+v, want %+v", got, want)
	}
	var found bool
	for _, g := range r.Goals {
		if g.Goal == "CPU per review A/B ≤ 1.15 (per-repeat ratios 0.9–1.4)" {
			found = true
			if g.Value != 1.25 || g.Met { // medians 0.2 / 0.16
				t.Errorf("goal = %+v, want value 1.25, not met", g)
			}
		}
	}
	if !found {
		t.Errorf("no CPU per review goal with the spread in %+v", r.Goals)
	}
}

// TestAccountedRatios checks the plain-pod ratio from the accounting: the
// baseline's CPU per pod plus what admission added, per repeat; runs without
// profiles are left out.
func TestAccountedRatios(t *testing.T) {
	r := &report{RSS: map[string]float64{}, E2E: []e2eRun{
		{Case: "none-plain", Repeat: 1, APIServerNetCPUPerPod: 2.5, AdmissionCPUPerPod: 0.1, AdmissionGCPerPod: 0.01, ProfiledPods: 8000},
		{Case: "plain", Repeat: 1, APIServerNetCPUPerPod: 2.9, AdmissionCPUPerPod: 0.15, AdmissionGCPerPod: 0.015, ProfiledPods: 8000},
		{Case: "none-plain", Repeat: 2, APIServerNetCPUPerPod: 2.0, AdmissionCPUPerPod: 0.1, ProfiledPods: 8000},
		{Case: "plain", Repeat: 2, APIServerNetCPUPerPod: 1.8, AdmissionCPUPerPod: 0.14, ProfiledPods: 8000},
		{Case: "none-plain", Repeat: 3, APIServerNetCPUPerPod: 2.0},
		{Case: "plain", Repeat: 3, APIServerNetCPUPerPod: 3.0},
	}}
	r.summarize()
	// (2.5 + 0.055) / 2.5 and (2.0 + 0.04) / 2.0.
	want := spread{Median: 1.021, Min: 1.02, Max: 1.022, Values: []float64{1.022, 1.02}}
	if got := r.E2ERatios["plain/apiserver_accounted_cpu"]; !reflect.DeepEqual(got, want) {
		t.Errorf("accounted = %+v, want %+v", got, want)
	}
	if got := r.E2ERatios["plain/apiserver_net_cpu"].Median; got != 1.16 { // 2.9/2.5, 1.8/2.0, 3.0/2.0
		t.Errorf("direct ratio median = %v, want 1.16", got)
	}
	var found bool
	for _, g := range r.Goals {
		if strings.HasPrefix(g.Goal, "e2e kube-apiserver CPU per plain pod, accounted from its profiles") {
			found = true
			if g.Value != 1.021 || !g.Met {
				t.Errorf("goal = %+v, want value 1.021, met", g)
			}
		}
	}
	if !found {
		t.Errorf("no accounted plain-pod goal in %+v", r.Goals)
	}
}
