//go:build linux

package main

import (
	"reflect"
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
