//go:build linux

package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/hack/bench/internal/host"
)

// report is everything one run measured; it is written as latest.json.
type report struct {
	Command     string            `json:"command"`
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	Machine     host.Machine      `json:"machine"`
	LoadStart   string            `json:"load_average_start"`
	LoadEnd     string            `json:"load_average_end"`
	Options     map[string]string `json:"options"`
	ReviewBytes int               `json:"review_bytes"`

	// Summary figures, each the median over the repeats.
	MaxRateRPS   map[string]float64            `json:"max_rate_rps"`
	P99At1000    map[string]float64            `json:"p99_ms_at_1000"`
	Latency      map[string]map[string]float64 `json:"latency_ms"` // "500" -> "A_p50" ...
	CPUPerReview map[string]float64            `json:"cpu_ms_per_review"`
	ClientCPU    map[string]float64            `json:"client_cpu_ms_per_review"`
	RSS          map[string]float64            `json:"rss_mib"`
	IdleCPU      map[string]float64            `json:"idle_cpu_ms_per_s"`
	E2EPodsPerS  map[string]float64            `json:"e2e_pods_per_s"`
	E2EP50       map[string]float64            `json:"e2e_p50_ms"`
	E2EP99       map[string]float64            `json:"e2e_p99_ms"`
	// CPU per pod created: kube-apiserver, etcd, the webhook process (A) and
	// the whole machine.
	E2EAPIServerCPU map[string]float64 `json:"e2e_apiserver_cpu_ms_per_pod"`
	E2EAPIServerNet map[string]float64 `json:"e2e_apiserver_net_cpu_ms_per_pod"`
	E2EEtcdCPU      map[string]float64 `json:"e2e_etcd_cpu_ms_per_pod"`
	E2EWebhookCPU   map[string]float64 `json:"e2e_webhook_cpu_ms_per_pod"`
	E2EMachineCPU   map[string]float64 `json:"e2e_machine_cpu_ms_per_pod"`
	// What kube-apiserver's profiles attribute to admission per pod: its own
	// CPU and its share of the background garbage collection (accounting.go).
	E2EAdmissionCPU map[string]float64 `json:"e2e_apiserver_admission_cpu_ms_per_pod,omitempty"`
	E2EAdmissionGC  map[string]float64 `json:"e2e_apiserver_admission_gc_ms_per_pod,omitempty"`
	// Each case against its baseline of the same repeat ("plain/apiserver_cpu"
	// ...): the median and spread of the per-repeat ratios. The accounted
	// ratio ("plain/apiserver_accounted_cpu") is the baseline's CPU per pod
	// (less idle) plus the difference in what the profiles attribute to
	// admission, over the baseline's.
	E2ERatios map[string]spread `json:"e2e_ratios"`
	// A against B in the same repeat at 1000/s ("cpu_per_review",
	// "p99_at_1000"): the spread behind the goals' ratios of medians.
	ServerRatios map[string]spread  `json:"server_ratios,omitempty"`
	GoBench      map[string]goBench `json:"go_benchmarks,omitempty"`
	// Instructions per review of the handler benchmarks (callgrind).
	Instructions map[string]float64 `json:"handler_instructions_per_review,omitempty"`
	Audit        *auditResult       `json:"audit_scale,omitempty"`
	Goals        []goal             `json:"goals"`

	// Every measurement the summary comes from.
	Fixed    []step    `json:"fixed_rate_runs"`
	Search   []step    `json:"search_steps"`
	MaxRates []maxRate `json:"max_rates"`
	E2E      []e2eRun  `json:"e2e_runs"`
}

type maxRate struct {
	Server string `json:"server"`
	Repeat int    `json:"repeat"`
	Rate   int    `json:"rate"`
	Capped bool   `json:"capped,omitempty"` // sustained up to -max-rate
}

// spread is the median, minimum and maximum of per-repeat values.
type spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	rounded := make([]float64, len(xs))
	for i, x := range xs {
		rounded[i] = round(x, 3)
	}
	return spread{Median: round(median(xs), 3), Min: slices.Min(rounded), Max: slices.Max(rounded), Values: rounded}
}

// e2eMetrics are the per-run figures whose case/baseline ratios are reported.
var e2eMetrics = []struct {
	name, label string
	get         func(e2eRun) float64
}{
	{"pods_per_s", "pods/s", func(e e2eRun) float64 { return e.PodsPerS }},
	{"apiserver_net_cpu", "kube-apiserver CPU per pod, less idle", func(e e2eRun) float64 { return e.APIServerNetCPUPerPod }},
	{"apiserver_cpu", "kube-apiserver CPU per pod", func(e e2eRun) float64 { return e.APIServerCPUPerPod }},
	{"etcd_cpu", "etcd CPU per pod", func(e e2eRun) float64 { return e.EtcdCPUPerPod }},
	{"machine_cpu", "machine CPU per pod", func(e e2eRun) float64 { return e.MachineCPUPerPod }},
	{"p99", "p99 latency", func(e e2eRun) float64 { return e.P99ms }},
}

// e2eBaseline is the case without webhooks that creates the same pods.
var e2eBaseline = map[string]string{"hostprocess": "none", "bare": "none", "plain": "none-plain", "floor-plain": "none-plain", "native": "none", "native-plain": "none-plain"}

type goal struct {
	Goal   string  `json:"goal"`
	Value  float64 `json:"value"`
	Target float64 `json:"target"`
	Met    bool    `json:"met"`
	// Informational goals are reported but decide nothing: the server-level
	// ratios measure only the webhook's own decoding, which the end-to-end
	// figures judge.
	Informational bool `json:"informational,omitempty"`
}

func (o options) describe() map[string]string {
	return map[string]string{
		"repeats":        fmt.Sprint(o.repeats),
		"search_repeats": fmt.Sprint(o.searchRepeats),
		"e2e_repeats":    fmt.Sprint(o.e2eRepeats),
		"rates":          fmt.Sprint(o.fixedRates),
		"fixed_duration": o.fixedDuration.String(),
		"step_duration":  o.stepDuration.String(),
		"search":         fmt.Sprintf("from %d/s ×%.2f until a rate is not sustained, then %d bisections; at most %d/s", o.startRate, o.growth, o.bisections, o.maxRate),
		"sustained":      fmt.Sprintf("100%% allowed responses, p99 < %s, ≥ %.0f%% of the rate sent", maxP99, minRateReached*100),
		"e2e":            fmt.Sprintf("%d pods, %d workers", o.e2ePods, o.e2eWorkers),
		"e2e_native":     fmt.Sprint(o.e2eNative),
		"e2e_bare":       fmt.Sprint(o.e2eBare),
		"e2e_floor":      fmt.Sprint(o.e2eFloor),
		"e2e_hostprocess_pod": map[bool]string{false: "with nodeSelector kubernetes.io/os=windows, as DaemonSet pods are: the chart's condition skips the mutating webhook",
			true: "without nodeSelector (-e2e-undefaulted): both webhooks are called and the mutating one patches each pod"}[o.e2eUndefault],
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var serverNames = []string{"A", "B", "C"}

// summarize computes the medians and checks the goals.
func (r *report) summarize() {
	r.MaxRateRPS = map[string]float64{}
	r.P99At1000 = map[string]float64{}
	r.Latency = map[string]map[string]float64{}
	r.CPUPerReview = map[string]float64{}
	r.ClientCPU = map[string]float64{}
	r.E2EPodsPerS, r.E2EP50, r.E2EP99 = map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, s := range serverNames {
		var rates []float64
		for _, m := range r.MaxRates {
			if m.Server == s {
				rates = append(rates, float64(m.Rate))
			}
		}
		if len(rates) > 0 {
			r.MaxRateRPS[s] = median(rates)
		}
	}
	rates := map[int]bool{}
	for _, f := range r.Fixed {
		rates[f.Rate] = true
	}
	for rate := range rates {
		lat := map[string]float64{}
		for _, s := range serverNames {
			var p50, p99, mx, cpu, client, rss []float64
			for _, f := range r.Fixed {
				if f.Server == s && f.Rate == rate {
					p50, p99, mx = append(p50, f.P50ms), append(p99, f.P99ms), append(mx, f.MaxMs)
					cpu, client, rss = append(cpu, f.CPUPerRev), append(client, f.ClientCPUPerRev), append(rss, f.PeakRSSMiB)
				}
			}
			if len(p50) == 0 {
				continue
			}
			lat[s+"_p50"], lat[s+"_p99"], lat[s+"_max"] = median(p50), median(p99), median(mx)
			lat[s+"_cpu_ms_per_review"] = median(cpu)
			lat[s+"_peak_rss_mib"] = median(rss)
			if rate == 1000 {
				r.P99At1000[s] = median(p99)
				r.CPUPerReview[s] = median(cpu)
				r.ClientCPU[s] = median(client)
				r.RSS[s+"_load"] = median(rss)
				r.RSS[s+"_load_max"] = slices.Max(rss)
			}
		}
		r.Latency[fmt.Sprint(rate)] = lat
	}
	r.ServerRatios = map[string]spread{}
	for key, of := range map[string]func(step) float64{
		"cpu_per_review": func(f step) float64 { return f.CPUPerRev },
		"p99_at_1000":    func(f step) float64 { return f.P99ms },
	} {
		// The i-th run of A at 1000/s and the i-th of B are of the same repeat.
		var a, b []float64
		for _, f := range r.Fixed {
			switch {
			case f.Rate != 1000:
			case f.Server == "A":
				a = append(a, of(f))
			case f.Server == "B":
				b = append(b, of(f))
			}
		}
		var ratios []float64
		for i := range min(len(a), len(b)) {
			if a[i] > 0 && b[i] > 0 {
				ratios = append(ratios, a[i]/b[i])
			}
		}
		if len(ratios) > 0 {
			r.ServerRatios[key] = spreadOf(ratios)
		}
	}
	r.E2EWebhookCPU, r.E2EMachineCPU = map[string]float64{}, map[string]float64{}
	r.E2EAPIServerCPU, r.E2EEtcdCPU, r.E2EAPIServerNet = map[string]float64{}, map[string]float64{}, map[string]float64{}
	r.E2EAdmissionCPU, r.E2EAdmissionGC = map[string]float64{}, map[string]float64{}
	for _, c := range e2eCases {
		var adm, gc []float64
		for _, e := range r.E2E {
			if e.Case == c && e.ProfiledPods > 0 {
				adm, gc = append(adm, e.AdmissionCPUPerPod), append(gc, e.AdmissionGCPerPod)
			}
		}
		if len(adm) > 0 {
			r.E2EAdmissionCPU[c], r.E2EAdmissionGC[c] = median(adm), median(gc)
		}
		var pps, p50, p99, api, apiNet, etcd, hook, machine []float64
		for _, e := range r.E2E {
			if e.Case == c {
				pps, p50, p99 = append(pps, e.PodsPerS), append(p50, e.P50ms), append(p99, e.P99ms)
				api, etcd = append(api, e.APIServerCPUPerPod), append(etcd, e.EtcdCPUPerPod)
				apiNet = append(apiNet, e.APIServerNetCPUPerPod)
				hook, machine = append(hook, e.WebhookCPUPerPod), append(machine, e.MachineCPUPerPod)
			}
		}
		if len(pps) > 0 {
			r.E2EPodsPerS[c], r.E2EP50[c], r.E2EP99[c] = median(pps), median(p50), median(p99)
			r.E2EAPIServerCPU[c], r.E2EEtcdCPU[c], r.E2EAPIServerNet[c] = median(api), median(etcd), median(apiNet)
			r.E2EWebhookCPU[c], r.E2EMachineCPU[c] = median(hook), median(machine)
		}
	}
	r.E2ERatios = map[string]spread{}
	for c, base := range e2eBaseline {
		for _, m := range e2eMetrics {
			var ratios []float64
			for _, e := range r.E2E {
				if e.Case != c {
					continue
				}
				for _, b := range r.E2E {
					if b.Case == base && b.Repeat == e.Repeat && m.get(b) > 0 {
						ratios = append(ratios, m.get(e)/m.get(b))
					}
				}
			}
			if len(ratios) > 0 {
				r.E2ERatios[c+"/"+m.name] = spreadOf(ratios)
			}
		}
		if ratios := accountedRatios(r.E2E, c, base); len(ratios) > 0 {
			r.E2ERatios[c+"/apiserver_accounted_cpu"] = spreadOf(ratios)
		}
	}
	// HostProcess pods/s with serve against the same configurations calling
	// B, which decodes nothing, in the same repeat.
	var bare []float64
	for _, e := range r.E2E {
		for _, b := range r.E2E {
			if e.Case == "hostprocess" && b.Case == "bare" && b.Repeat == e.Repeat && b.PodsPerS > 0 {
				bare = append(bare, e.PodsPerS/b.PodsPerS)
			}
		}
	}
	if len(bare) > 0 {
		r.E2ERatios["hostprocess/bare_pods_per_s"] = spreadOf(bare)
	}
	// kube-apiserver CPU per HostProcess pod with the native policies
	// against the webhooks' case counting serve's own CPU, in the same
	// repeat (both less idle).
	var native []float64
	for _, e := range r.E2E {
		for _, w := range r.E2E {
			if e.Case == "native" && w.Case == "hostprocess" && w.Repeat == e.Repeat && w.APIServerNetCPUPerPod+w.WebhookCPUPerPod > 0 {
				native = append(native, e.APIServerNetCPUPerPod/(w.APIServerNetCPUPerPod+w.WebhookCPUPerPod))
			}
		}
	}
	if len(native) > 0 {
		r.E2ERatios["native/webhooks_with_serve_cpu"] = spreadOf(native)
	}
	r.checkGoals()
}

// accountedRatios are, per repeat, the baseline's kube-apiserver CPU per pod
// (less idle) plus the difference between what the profiles attribute to
// admission in the case and in the baseline, over the baseline's CPU per pod.
func accountedRatios(runs []e2eRun, c, base string) []float64 {
	var ratios []float64
	for _, e := range runs {
		if e.Case != c || e.ProfiledPods == 0 {
			continue
		}
		for _, b := range runs {
			if b.Case == base && b.Repeat == e.Repeat && b.ProfiledPods > 0 && b.APIServerNetCPUPerPod > 0 {
				added := e.AdmissionCPUPerPod + e.AdmissionGCPerPod - b.AdmissionCPUPerPod - b.AdmissionGCPerPod
				ratios = append(ratios, (b.APIServerNetCPUPerPod+added)/b.APIServerNetCPUPerPod)
			}
		}
	}
	return ratios
}

func (r *report) checkGoals() {
	r.Goals = nil
	ratio := func(name string, num, den, target float64, atLeast bool) {
		if num == 0 || den == 0 || math.IsNaN(num) || math.IsNaN(den) {
			return
		}
		v := num / den
		met := v <= target
		if atLeast {
			met = v >= target
		}
		r.Goals = append(r.Goals, goal{Goal: name, Value: round(v, 3), Target: target, Met: met})
	}
	abs := func(name string, v, target float64) {
		if v == 0 || math.IsNaN(v) {
			return
		}
		r.Goals = append(r.Goals, goal{Goal: name, Value: round(v, 3), Target: target, Met: v <= target})
	}
	// The server-level ratios measure only the webhook's own decoding:
	// informational (issue 22); the end-to-end goals decide.
	informational := func(n int) {
		for i := len(r.Goals) - n; i < len(r.Goals); i++ {
			if i >= 0 {
				r.Goals[i].Informational = true
			}
		}
	}
	n := len(r.Goals)
	ratio("max sustainable rate A/B ≥ 0.9", r.MaxRateRPS["A"], r.MaxRateRPS["B"], 0.9, true)
	ratio("max sustainable rate A/C ≥ 1.5", r.MaxRateRPS["A"], r.MaxRateRPS["C"], 1.5, true)
	perRepeat := func(key string) string {
		if sp, ok := r.ServerRatios[key]; ok && len(sp.Values) > 1 {
			return fmt.Sprintf(" (per-repeat ratios %.3g–%.3g)", sp.Min, sp.Max)
		}
		return ""
	}
	ratio("CPU per review A/B ≤ 1.15"+perRepeat("cpu_per_review"), r.CPUPerReview["A"], r.CPUPerReview["B"], 1.15, false)
	ratio("p99 at 1000/s A/B ≤ 1.25"+perRepeat("p99_at_1000"), r.P99At1000["A"], r.P99At1000["B"], 1.25, false)
	informational(len(r.Goals) - n)
	abs("RSS of A idle ≤ 40 MiB", r.RSS["A_idle"], 40)
	abs("RSS of A at 1000/s ≤ 80 MiB", r.RSS["A_load"], 80)
	// The end-to-end goals are on the median of the per-repeat ratios.
	e2e := func(name, key string, target float64, atLeast bool) {
		sp, ok := r.E2ERatios[key]
		if !ok || math.IsNaN(sp.Median) {
			return
		}
		met := sp.Median <= target
		if atLeast {
			met = sp.Median >= target
		}
		r.Goals = append(r.Goals, goal{Goal: fmt.Sprintf("%s (per-repeat ratios %.3g–%.3g)", name, sp.Min, sp.Max), Value: sp.Median, Target: target, Met: met})
	}
	e2e("e2e kube-apiserver CPU per plain pod (less idle), chart configurations / none ≤ 1.03", "plain/apiserver_net_cpu", 1.03, false)
	// The same, resolved by the profiles: what the configurations add to
	// admission, against the baseline's CPU per pod.
	e2e("e2e kube-apiserver CPU per plain pod, accounted from its profiles, chart configurations / none ≤ 1.03", "plain/apiserver_accounted_cpu", 1.03, false)
	e2e("e2e kube-apiserver CPU per HostProcess pod (less idle), webhooks / none ≤ 1.3", "hostprocess/apiserver_net_cpu", 1.3, false)
	e2e("e2e HostProcess pods/s, webhooks calling serve / the same calling B (bare) ≥ 0.97", "hostprocess/bare_pods_per_s", 0.97, true)
	n = len(r.Goals)
	e2e("e2e HostProcess pods/s, webhooks / none ≥ 0.8", "hostprocess/pods_per_s", 0.8, true)
	informational(len(r.Goals) - n)
	e2e("e2e plain pods/s, chart configurations / none ≥ 0.97", "plain/pods_per_s", 0.97, true)
	// The native policies (issues 14 and 23): cheaper than the webhooks.
	e2e("e2e kube-apiserver CPU per plain pod (less idle), native policies / none ≤ 1.02", "native-plain/apiserver_net_cpu", 1.02, false)
	e2e("e2e kube-apiserver CPU per HostProcess pod (less idle), native policies / none ≤ 1.15", "native/apiserver_net_cpu", 1.15, false)
	e2e("e2e kube-apiserver CPU per HostProcess pod (less idle), native policies / webhooks' case with serve's CPU < 1", "native/webhooks_with_serve_cpu", 0.9999, false)
	e2e("e2e HostProcess pods/s, native policies / none ≥ 0.95", "native/pods_per_s", 0.95, true)
	if b, ok := r.GoBench["BenchmarkEvaluate"]; ok {
		abs("BenchmarkEvaluate ≤ 2 µs/op", b.NsPerOp/1000, 2)
		r.Goals = append(r.Goals, goal{Goal: "BenchmarkEvaluate ≤ 10 allocs/op", Value: b.AllocsPerOp, Target: 10, Met: b.AllocsPerOp <= 10})
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// markdown renders the summary: absolute figures with the A/B and A/C ratios,
// the end-to-end runs, the Go benchmarks and the goals.
func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	num := func(v float64, format string) string {
		if v == 0 || math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf(format, v)
	}
	rat := func(a, b float64) string {
		if a == 0 || b == 0 || math.IsNaN(a) || math.IsNaN(b) {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	w("Webhook servers (median of %s; A = serve, B = same server with a non-decoding handler, C = PSA webhook)\n\n", r.Options["repeats"])
	w("| figure | A | B | C | A/B | A/C |\n|---|---:|---:|---:|---:|---:|\n")
	row := func(name string, vals map[string]float64, format string) {
		w("| %s | %s | %s | %s | %s | %s |\n", name, num(vals["A"], format), num(vals["B"], format), num(vals["C"], format),
			rat(vals["A"], vals["B"]), rat(vals["A"], vals["C"]))
	}
	zero := func(name string, vals map[string]float64, format string) {
		w("| %s | "+format+" | "+format+" | "+format+" | – | – |\n", name, vals["A"], vals["B"], vals["C"])
	}
	row("max sustainable rate (req/s)", r.MaxRateRPS, "%.0f")
	var rates []string
	for k := range r.Latency {
		rates = append(rates, k)
	}
	slices.SortFunc(rates, func(a, b string) int { return atoi(a) - atoi(b) })
	for _, rate := range rates {
		lat := r.Latency[rate]
		for _, q := range []string{"p50", "p99", "max"} {
			row(fmt.Sprintf("%s latency at %s/s (ms)", q, rate), map[string]float64{"A": lat["A_"+q], "B": lat["B_"+q], "C": lat["C_"+q]}, "%.2f")
		}
	}
	row("CPU per review at 1000/s (ms)", r.CPUPerReview, "%.3f")
	row("load generator CPU per review at 1000/s (ms)", r.ClientCPU, "%.3f")
	zero("CPU while idle (ms/s)", r.IdleCPU, "%.1f")
	row("RSS idle (MiB)", map[string]float64{"A": r.RSS["A_idle"], "B": r.RSS["B_idle"], "C": r.RSS["C_idle"]}, "%.1f")
	row("RSS idle, anonymous (MiB)", map[string]float64{"A": r.RSS["A_idle_anon"], "B": r.RSS["B_idle_anon"], "C": r.RSS["C_idle_anon"]}, "%.1f")
	row("RSS peak at 1000/s (MiB)", map[string]float64{"A": r.RSS["A_load"], "B": r.RSS["B_load"], "C": r.RSS["C_load"]}, "%.1f")
	row("RSS high-water mark, whole run (MiB)", map[string]float64{"A": r.RSS["A_hwm"], "B": r.RSS["B_hwm"], "C": r.RSS["C_hwm"]}, "%.1f")

	if len(r.E2EPodsPerS) > 0 {
		w("\nEnd to end: kube-apiserver creating pods (%s; median of %s repeats)\n\n", r.Options["e2e"], r.Options["e2e_repeats"])
		w("| run | pods/s | p50 (ms) | p99 (ms) | kube-apiserver CPU per pod, less idle (ms) | kube-apiserver CPU per pod (ms) | of which admission (µs) | admission's share of GC (µs) | etcd CPU per pod (ms) | webhook CPU per pod (ms) | machine CPU per pod (ms) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range e2eCases {
			if _, ran := r.E2EPodsPerS[c]; !ran {
				continue
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", e2eLabel[c], num(r.E2EPodsPerS[c], "%.0f"),
				num(r.E2EP50[c], "%.1f"), num(r.E2EP99[c], "%.1f"), num(r.E2EAPIServerNet[c], "%.3f"), num(r.E2EAPIServerCPU[c], "%.3f"),
				num(r.E2EAdmissionCPU[c]*1000, "%.0f"), num(r.E2EAdmissionGC[c]*1000, "%.0f"), num(r.E2EEtcdCPU[c], "%.3f"),
				fmt.Sprintf("%.3f", r.E2EWebhookCPU[c]), num(r.E2EMachineCPU[c], "%.2f"))
		}
		w("\nRatios to the baseline of the same repeat: median (min–max)\n\n| case |")
		for _, m := range e2eMetrics {
			w(" %s |", m.label)
		}
		w(" kube-apiserver CPU per pod, accounted |")
		var ratioKeys []string
		for _, m := range e2eMetrics {
			ratioKeys = append(ratioKeys, m.name)
		}
		ratioKeys = append(ratioKeys, "apiserver_accounted_cpu")
		w("\n|---|%s\n", strings.Repeat("---:|", len(e2eMetrics)+1))
		for _, c := range []string{"hostprocess", "bare", "native", "plain", "floor-plain", "native-plain"} {
			if _, ran := r.E2EPodsPerS[c]; !ran {
				continue
			}
			w("| %s |", e2eLabel[c])
			for _, m := range ratioKeys {
				sp, ok := r.E2ERatios[c+"/"+m]
				if !ok {
					w(" – |")
					continue
				}
				w(" %.3f (%.3f–%.3f) |", sp.Median, sp.Min, sp.Max)
			}
			w("\n")
		}
	}
	if len(r.GoBench) > 0 {
		w("\nGo benchmarks (median of 3)\n\n| benchmark | ns/op | B/op | allocs/op |\n|---|---:|---:|---:|\n")
		names := make([]string, 0, len(r.GoBench))
		for k := range r.GoBench {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			g := r.GoBench[k]
			w("| %s | %.0f | %.0f | %.0f |\n", k, g.NsPerOp, g.BytesPerOp, g.AllocsPerOp)
		}
	}
	if len(r.Instructions) > 0 {
		w("\nInstructions per review (valgrind --tool=callgrind, GOMAXPROCS=1; independent of the machine's load)\n\n| benchmark | instructions |\n|---|---:|\n")
		for _, k := range []string{"BenchmarkValidateHandler", "BenchmarkMutateHandler"} {
			if v, ok := r.Instructions[k]; ok {
				w("| %s | %.0f |\n", k, v)
			}
		}
	}
	if r.Audit != nil {
		w("\nAudit scale test: %s\n", r.Audit.Status)
		if r.Audit.Output != "" {
			w("\n%s\n", r.Audit.Output)
		}
	}
	w("\nGoals\n\n| goal | value | met |\n|---|---:|---|\n")
	for _, g := range r.Goals {
		met := "met"
		if !g.Met {
			met = "**not met**"
		}
		if g.Informational {
			met = "informational: " + strings.Trim(met, "*")
		}
		w("| %s | %.3g | %s |\n", g.Goal, g.Value, met)
	}
	w("\nMachine: %d CPUs (%s), %.0f GiB, Linux %s, %s; load average %s at start, %s at end. Review: %d bytes. %s.\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemGiB, r.Machine.Kernel, r.Machine.GoVersion, r.LoadStart, r.LoadEnd,
		r.ReviewBytes, r.Finished.Sub(r.Started).Round(time.Second))
	return b.String()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

var e2eCases = []string{"none", "hostprocess", "bare", "native", "none-plain", "plain", "floor-plain", "native-plain"}

var e2eLabel = map[string]string{
	"none":         "no webhooks, HostProcess pods",
	"hostprocess":  "chart webhooks, HostProcess pods",
	"bare":         "chart webhooks calling B (no decoding), HostProcess pods",
	"none-plain":   "no webhooks, plain Linux pods",
	"plain":        "chart webhooks, plain Linux pods",
	"floor-plain":  "chart webhooks with matchConditions 'false', plain Linux pods",
	"native":       "native policies, HostProcess pods",
	"native-plain": "native policies, plain Linux pods",
}
