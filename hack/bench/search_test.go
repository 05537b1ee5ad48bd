//go:build linux

package main

import (
	"testing"
	"time"
)

func TestSearch(t *testing.T) {
	o := options{startRate: 400, growth: 1.5, bisections: 3, maxRate: 12000}
	cases := []struct {
		name      string
		capacity  int
		stallAt   int // one failed step at this rate, as a stall would give
		wantLo    int
		wantSteps int
		capped    bool
	}{
		// 400 600 900 1350 2025 2025 | 1700 1875 1950
		{name: "brackets the capacity and bisects three times", capacity: 2000, wantLo: 1950, wantSteps: 9},
		// 400 400 | 200 100 150
		{name: "bisects below the first rate when it fails", capacity: 100, wantLo: 100, wantSteps: 5},
		{name: "finds nothing when every rate fails", capacity: 0, wantLo: 0, wantSteps: 5},
		{name: "stops at the maximum rate when everything is sustained", capacity: 1 << 30, wantLo: 12000, wantSteps: 10, capped: true},
		// 400 600 900 900 1350 2025 | 1700 1875 1950 (one retry per search)
		{name: "tries a failed step once more while stepping up", capacity: 2000, stallAt: 900, wantLo: 1950, wantSteps: 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSearch("A", o)
			steps := 0
			stalled := false
			for ; !s.done() && steps < 100; steps++ {
				ok := s.next <= tc.capacity
				if s.next == tc.stallAt && !stalled {
					ok, stalled = false, true
				}
				s.record(ok)
			}
			if s.lo != tc.wantLo || steps != tc.wantSteps || s.capped != tc.capped {
				t.Fatalf("sustained %d in %d steps (capped %v), want %d in %d steps (capped %v)",
					s.lo, steps, s.capped, tc.wantLo, tc.wantSteps, tc.capped)
			}
		})
	}
}

func TestStepSustained(t *testing.T) {
	base := step{Rate: 1000, Sent: 3000, OK: 3000, SentRate: 1000, P99ms: 10}
	cases := []struct {
		name string
		mod  func(*step)
		want bool
	}{
		{name: "every review allowed under 50 ms at the asked rate is sustained", mod: func(*step) {}, want: true},
		{name: "one failed review is not sustained", mod: func(s *step) { s.OK-- }},
		{name: "p99 at 50 ms is not sustained", mod: func(s *step) { s.P99ms = float64(maxP99 / time.Millisecond) }},
		{name: "sending less than 97% of the rate is not sustained", mod: func(s *step) { s.SentRate = 960 }},
		{name: "nothing sent is not sustained", mod: func(s *step) { s.Sent, s.OK = 0, 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.mod(&s)
			if got := s.sustained(); got != tc.want {
				t.Fatalf("sustained() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got := quantile(d, 0.5); got != 50*time.Millisecond {
		t.Fatalf("p50 = %v, want 50ms", got)
	}
	if got := quantile(d, 0.99); got != 99*time.Millisecond {
		t.Fatalf("p99 = %v, want 99ms", got)
	}
	if got := quantile(nil, 0.99); got != 0 {
		t.Fatalf("p99 of nothing = %v, want 0", got)
	}
}
