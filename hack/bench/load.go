//go:build linux

package main

import (
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Sustainable is what a rate must achieve to count as sustained.
const (
	maxP99         = 50 * time.Millisecond
	minRateReached = 0.97 // share of the asked rate actually sent
)

// step is one constant-rate attack on one server.
type step struct {
	Server    string  `json:"server"`
	Repeat    int     `json:"repeat,omitempty"`
	Rate      int     `json:"rate"`
	Seconds   float64 `json:"seconds"`
	Sent      int     `json:"sent"`
	OK        int     `json:"ok"`
	SentRate  float64 `json:"sent_rate"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	CPUms     float64 `json:"cpu_ms"`
	CPUPerRev float64 `json:"cpu_ms_per_review"`
	// ClientCPUPerRev is the load generator's (this process's) CPU time.
	ClientCPUPerRev float64 `json:"client_cpu_ms_per_review"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	Error           string  `json:"first_error,omitempty"`
}

// sustained reports whether the step met the sustainable-rate criteria:
// every review answered and allowed, p99 under 50 ms, the rate reached.
func (s step) sustained() bool {
	return s.Sent > 0 && s.OK == s.Sent && s.P99ms < float64(maxP99)/float64(time.Millisecond) &&
		s.SentRate >= minRateReached*float64(s.Rate)
}

// loadTarget is a server with its HTTP client and request.
type loadTarget struct {
	srv     *server
	client  *http.Client
	targets []vegeta.Target
}

func newLoadTarget(srv *server, client *http.Client, body []byte) *loadTarget {
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	t := &loadTarget{srv: srv, client: client}
	for _, u := range srv.urls() {
		t.targets = append(t.targets, vegeta.Target{Method: http.MethodPost, URL: u, Body: body, Header: hdr})
	}
	return t
}

// attack sends rate requests per second for d with vegeta, alternating
// between the server's paths, and measures latency, the server's CPU time
// and its RSS.
func (t *loadTarget) attack(rate int, d time.Duration) step {
	pid := t.srv.pid()
	res := step{Server: t.srv.name, Rate: rate, Seconds: d.Seconds()}

	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _, err := memory(pid); err == nil && rss > peak {
				peak = rss
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()

	cpu0, _ := cpuTime(pid)
	self0, _ := cpuTime(os.Getpid())
	atk := vegeta.NewAttacker(vegeta.Client(t.client), vegeta.Workers(16), vegeta.MaxWorkers(1024))
	lat := make([]time.Duration, 0, int(float64(rate)*d.Seconds())+16)
	for r := range atk.Attack(vegeta.NewStaticTargeter(t.targets...), vegeta.Rate{Freq: rate, Per: time.Second}, d, t.srv.name) {
		res.Sent++
		lat = append(lat, r.Latency)
		if r.Error == "" && reviewOK(int(r.Code), r.Body) {
			res.OK++
		} else if res.Error == "" {
			res.Error = r.Error
			if res.Error == "" {
				res.Error = "response is not an allowed review: " + truncate(string(r.Body), 200)
			}
		}
	}
	cpu1, _ := cpuTime(pid)
	self1, _ := cpuTime(os.Getpid())
	close(stopSampling)
	wg.Wait()

	res.SentRate = float64(res.Sent) / d.Seconds()
	res.CPUms = float64(cpu1-cpu0) / float64(time.Millisecond)
	if res.OK > 0 {
		res.CPUPerRev = res.CPUms / float64(res.OK)
		res.ClientCPUPerRev = float64(self1-self0) / float64(time.Millisecond) / float64(res.OK)
	}
	res.PeakRSSMiB = mib(peak)
	slices.Sort(lat)
	res.P50ms = ms(quantile(lat, 0.50))
	res.P99ms = ms(quantile(lat, 0.99))
	if len(lat) > 0 {
		res.MaxMs = ms(lat[len(lat)-1])
	}
	return res
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
