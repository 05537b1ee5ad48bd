//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/hack/bench/internal/host"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/nativepolicy"
)

type options struct {
	repeats       int
	fixedRates    []int
	fixedDuration time.Duration
	stepDuration  time.Duration
	startRate     int
	growth        float64
	bisections    int
	maxRate       int
	e2ePods       int
	e2eRepeats    int
	e2ePlainOnly  bool
	e2eNative     bool
	e2eBare       bool
	e2eFloor      bool
	e2eUndefault  bool
	searchRepeats int
	profileSecs   int
	e2eWorkers    int
	skipLoad      bool
	skipSearch    bool
	skipE2E       bool
	e2eProfile    bool
	skipGoBench   bool
	skipAudit     bool
	auditTimeout  time.Duration
	serveBinary   string
	out           string
	keep          bool
}

func main() {
	var o options
	var rates string
	flag.IntVar(&o.repeats, "repeats", 3, "repeats of the constant-rate runs; figures are medians")
	flag.IntVar(&o.searchRepeats, "search-repeats", 1, "repeats of the maximum-rate search")
	flag.IntVar(&o.e2eRepeats, "e2e-repeats", 5, "repeats of the end-to-end runs")
	flag.BoolVar(&o.e2ePlainOnly, "e2e-plain-only", false, "only the plain-pod cases (none-plain, plain and, with -e2e-native, native-plain), for more repeats of them in the same time")
	flag.BoolVar(&o.e2eNative, "e2e-native", true, "the native-policy cases (native, native-plain): 2 more runs per repeat")
	flag.BoolVar(&o.e2eBare, "e2e-bare", true, "the chart's configurations calling B, which answers without decoding, with HostProcess pods (bare): what kube-apiserver spends on the calls whatever the server, the baseline of the HostProcess pods/s goal; 1 more run per repeat")
	flag.BoolVar(&o.e2eFloor, "e2e-floor", false, "also the chart's configurations with every pod webhook's matchConditions replaced by 'false', with plain pods (floor-plain): what any pod webhook costs a pod it is never called for; 1 more run per repeat")
	flag.BoolVar(&o.e2eUndefault, "e2e-undefaulted", false, "HostProcess pods without the nodeSelector kubernetes.io/os=windows, so that the mutating webhook is called and patches each one (by default they carry it, as DaemonSet pods do, and the chart's condition skips that call)")
	flag.StringVar(&rates, "rates", "500,1000", "constant rates (requests/s) for the latency figures")
	flag.DurationVar(&o.fixedDuration, "fixed-duration", 4*time.Second, "length of each constant-rate run")
	flag.DurationVar(&o.stepDuration, "step-duration", 2*time.Second, "length of each step of the maximum-rate search")
	flag.IntVar(&o.startRate, "start-rate", 400, "first rate of the maximum-rate search")
	flag.Float64Var(&o.growth, "growth", 1.5, "factor between rates while stepping up")
	flag.IntVar(&o.bisections, "bisections", 3, "bisections between the last sustained and the first failed rate")
	flag.IntVar(&o.maxRate, "max-rate", 12000, "the search stops here")
	flag.IntVar(&o.e2ePods, "e2e-pods", 10000, "pods created per end-to-end run")
	flag.IntVar(&o.e2eWorkers, "e2e-workers", 8, "concurrent clients creating pods")
	flag.BoolVar(&o.skipLoad, "skip-load", false, "skip the webhook load tests")
	flag.BoolVar(&o.skipSearch, "skip-search", false, "skip the maximum-rate search (constant rates only)")
	flag.BoolVar(&o.skipE2E, "skip-e2e", false, "skip the end-to-end pod creation runs")
	flag.BoolVar(&o.e2eProfile, "e2e-profile", false, "also write each end-to-end run's CPU profile of kube-apiserver to the -out directory (e2e-CASE-REPEAT.pprof)")
	flag.IntVar(&o.profileSecs, "e2e-profile-seconds", 15, "length of each end-to-end run's CPU profile of kube-apiserver (the accounting of admission), from the start of the run; shorter than the run, so that it sees the run's steady state only")
	flag.BoolVar(&o.skipGoBench, "skip-gobench", false, "skip the Go benchmarks (BenchmarkEvaluate, BenchmarkValidateHandler)")
	flag.BoolVar(&o.skipAudit, "skip-audit", false, "skip the audit scale test (hack/bench/audit)")
	flag.DurationVar(&o.auditTimeout, "audit-timeout", 6*time.Minute, "bound on the audit scale test")
	flag.StringVar(&o.serveBinary, "serve-binary", "", "run this hostprocess-admission binary as A instead of building the work tree's (to compare a change)")
	flag.StringVar(&o.out, "out", "bench/results", "directory for latest.json, latest.md and handler-profile.txt")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (server logs)")
	summarizeFile := flag.String("summarize", "", "measure nothing: recompute the summary and goals of this latest.json (after a change to the report) and write latest.json and latest.md to -out")
	flag.Parse()
	if *summarizeFile != "" {
		if err := resummarize(*summarizeFile, o.out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: bad -rates %q\n", rates)
			os.Exit(2)
		}
		o.fixedRates = append(o.fixedRates, n)
	}
	if o.repeats < 1 || o.searchRepeats < 0 || o.e2eRepeats < 1 || o.growth <= 1 || o.startRate < 1 || o.maxRate < o.startRate {
		fmt.Fprintln(os.Stderr, "bench: -repeats ≥ 1, -growth > 1 and -start-rate ≤ -max-rate are required")
		os.Exit(2)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var began = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs load %s] %s\n", time.Since(began).Seconds(), host.LoadAvg(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	for _, name := range []string{testenv.KubeAPIServer, testenv.Etcd, testenv.Helm, testenv.PodSecurityWebhook} {
		if _, err := testenv.Bin(name); err != nil {
			return err
		}
	}
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	rep := &report{Command: "make bench (go -C hack/bench run . " + strings.Join(os.Args[1:], " ") + ")", Started: began.UTC(),
		Machine: host.Describe(), LoadStart: host.LoadAvg(), Options: o.describe()}

	work, err := os.MkdirTemp("", "hpa-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work directory %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	logf("building serve (A) and the bare server (B)")
	// serve from the product's module, the bare server from this one (hack/bench/go.mod).
	for _, dir := range []string{root, filepath.Join(root, "hack", "bench")} {
		pkg := "."
		if dir != root {
			pkg = "./bareserver"
		}
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", work+"/", pkg)
		build.Dir, build.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}

	body, err := reviewBody(hostProcessPod(benchNamespace))
	if err != nil {
		return err
	}
	if err := checkReviewSize(body); err != nil {
		return err
	}
	rep.ReviewBytes = len(body)

	pk, err := newPKI(work)
	if err != nil {
		return err
	}

	logf("starting etcd and kube-apiserver")
	// More delete-collection workers only speed up the untimed clean-up
	// between end-to-end runs.
	env, err := testenv.New(testenv.WithLogger(logr.Discard()), testenv.WithAPIServerFlags("--delete-collection-workers=8"))
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			logf("stopping the control plane: %v", err)
		}
	}()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace, Labels: map[string]string{
		"pod-security.kubernetes.io/warn":  "restricted",
		"pod-security.kubernetes.io/audit": "restricted",
	}}}
	if err := env.Client.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", benchNamespace, err)
	}

	serveBin := filepath.Join(work, "hostprocess-admission")
	if o.serveBinary != "" {
		if serveBin, err = filepath.Abs(o.serveBinary); err != nil {
			return err
		}
		rep.Options["serve_binary"] = serveBin
	}
	servers, err := startServers(ctx, work, serveBin, env.Kubeconfig, pk, body)
	for _, s := range servers {
		defer s.stop()
	}
	if err != nil {
		return err
	}
	byName := map[string]*server{}
	for _, s := range servers {
		byName[s.name] = s
	}

	// Idle memory and CPU, once every server is ready and has settled.
	idle0 := map[string]time.Duration{}
	for _, s := range servers {
		idle0[s.name], _ = cpuTime(s.pid())
	}
	const idleFor = 3 * time.Second
	time.Sleep(idleFor)
	rep.RSS, rep.IdleCPU = map[string]float64{}, map[string]float64{}
	for _, s := range servers {
		if t, err := cpuTime(s.pid()); err == nil {
			rep.IdleCPU[s.name] = ms(t-idle0[s.name]) / idleFor.Seconds()
		}
		m, err := memoryDetail(s.pid())
		if err != nil {
			return err
		}
		rep.RSS[s.name+"_idle"] = mib(m["VmRSS"])
		rep.RSS[s.name+"_idle_anon"] = mib(m["RssAnon"])
		rep.RSS[s.name+"_idle_file"] = mib(m["RssFile"])
	}
	logf("idle: RSS A %.1f MiB (anon %.1f), B %.1f MiB (anon %.1f), C %.1f MiB (anon %.1f); CPU A %.0f, B %.0f, C %.0f ms/s",
		rep.RSS["A_idle"], rep.RSS["A_idle_anon"], rep.RSS["B_idle"], rep.RSS["B_idle_anon"], rep.RSS["C_idle"], rep.RSS["C_idle_anon"],
		rep.IdleCPU["A"], rep.IdleCPU["B"], rep.IdleCPU["C"])

	if !o.skipLoad {
		targets := make([]*loadTarget, len(servers))
		for i, s := range servers {
			targets[i] = newLoadTarget(s, pk.client(), body)
		}
		if err := loadTests(ctx, o, targets, rep); err != nil {
			return err
		}
		for _, s := range servers {
			_, hwm, err := memory(s.pid())
			if err == nil {
				rep.RSS[s.name+"_hwm"] = mib(hwm)
			}
		}
	}

	if !o.skipE2E {
		if err := e2eTests(ctx, o, env, root, byName["A"], byName["B"], pk, rep); err != nil {
			return err
		}
	}
	for _, s := range servers {
		if err := s.alive(); err != nil {
			return err
		}
	}

	if !o.skipAudit {
		rep.Audit = auditScale(ctx, root, o.auditTimeout)
		logf("audit scale test: %s", rep.Audit.Status)
	}
	if !o.skipGoBench {
		if err := goBenchmarks(ctx, root, work, out, rep); err != nil {
			return err
		}
	}

	rep.LoadEnd = host.LoadAvg()
	rep.Finished = time.Now().UTC()
	if err := rep.write(out); err != nil {
		return err
	}
	logf("wrote %s and latest.md in %s", filepath.Join(out, "latest.json"), time.Since(began).Round(time.Second))
	return nil
}

// write summarizes the report, prints its table and writes latest.json and
// latest.md to out.
func (rep *report) write(out string) error {
	rep.summarize()
	md := rep.markdown()
	fmt.Println(md)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "latest.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "latest.md"), []byte(md), 0o644)
}

// resummarize rewrites the summary of a stored run from its measurements.
func resummarize(file, out string) error {
	js, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(js, &rep); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return rep.write(out)
}

// startServers starts A, B and C and waits until each answers the review.
func startServers(ctx context.Context, work, serveBin, kubeconfig string, pk *pki, body []byte) ([]*server, error) {
	psa, err := testenv.Bin(testenv.PodSecurityWebhook)
	if err != nil {
		return nil, err
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = host.FreePort(); err != nil {
			return nil, err
		}
	}
	probe := pk.client()
	a := &server{name: "A", label: "serve (A)", port: ports[0], paths: []string{"/validate", "/mutate"},
		cmd: exec.Command(serveBin, "serve",
			"--kubeconfig", kubeconfig, "--cert-dir", pk.certDir, "--port", strconv.Itoa(ports[0]),
			"--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(ports[3])),
		log: filepath.Join(work, "serve.log")}
	b := &server{name: "B", label: "bare server (B)", port: ports[1], paths: []string{"/validate", "/mutate"},
		cmd: exec.Command(filepath.Join(work, "bareserver"), "--cert-dir", pk.certDir, "--port", strconv.Itoa(ports[1])),
		log: filepath.Join(work, "bareserver.log")}
	c := &server{name: "C", label: "pod-security-webhook (C)", port: ports[2], paths: []string{"/"},
		cmd: exec.Command(psa, "--kubeconfig", kubeconfig,
			"--tls-cert-file", filepath.Join(pk.certDir, "tls.crt"), "--tls-private-key-file", filepath.Join(pk.certDir, "tls.key"),
			"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2])),
		log: filepath.Join(work, "pod-security-webhook.log")}
	a.ready = all(httpReady(probe, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[3])), reviewReady(probe, a.urls()[0], body), reviewReady(probe, a.urls()[1], body))
	b.ready = reviewReady(probe, b.urls()[0], body)
	// PSA answers with the restricted level's warnings only when it decoded
	// the pod and ran its checks.
	c.ready = all(httpReady(probe, fmt.Sprintf("https://127.0.0.1:%d/readyz", ports[2])),
		reviewReady(probe, c.urls()[0], body, `"warnings":[`, "violate PodSecurity", "restricted:latest"))
	servers := []*server{a, b, c}
	for i, s := range servers {
		logf("starting %s on 127.0.0.1:%d", s.label, s.port)
		if err := s.start(ctx, 60*time.Second); err != nil {
			return servers[:i+1], err
		}
	}
	return servers, nil
}

func all(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, c := range checks {
			if err := c(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// loadTests runs the constant-rate runs and the maximum-rate search,
// interleaving the servers.
func loadTests(ctx context.Context, o options, targets []*loadTarget, rep *report) error {
	pause := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
			return nil
		}
	}
	logf("warming up")
	for _, t := range targets {
		t.attack(500, 3*time.Second)
		if err := pause(); err != nil {
			return err
		}
	}
	for rep1 := 1; rep1 <= o.repeats; rep1++ {
		for _, rate := range o.fixedRates {
			for _, t := range targets {
				s := t.attack(rate, o.fixedDuration)
				s.Repeat = rep1
				rep.Fixed = append(rep.Fixed, s)
				s.Repeat = rep1
				logf("repeat %d: %s at %d/s: sent %d ok %d, p50 %.2f ms p99 %.2f ms max %.1f ms, CPU %.3f ms/review (client %.3f), RSS %.1f MiB %s",
					rep1, s.Server, rate, s.Sent, s.OK, s.P50ms, s.P99ms, s.MaxMs, s.CPUPerRev, s.ClientCPUPerRev, s.PeakRSSMiB, s.Error)
				if err := pause(); err != nil {
					return err
				}
				if err := t.srv.alive(); err != nil {
					return err
				}
			}
		}
	}
	for rep1 := 1; rep1 <= o.searchRepeats && !o.skipSearch; rep1++ {
		searches := make([]*search, len(targets))
		for i, t := range targets {
			searches[i] = newSearch(t.srv.name, o)
		}
		// Each round gives every server still searching one step; the number
		// of rounds is bounded by the stepping and the bisections.
		for round := 0; round < 64; round++ {
			active := false
			for i, t := range targets {
				s := searches[i]
				if s.done() {
					continue
				}
				active = true
				st := t.attack(s.next, o.stepDuration)
				st.Repeat = rep1
				rep.Search = append(rep.Search, st)
				s.record(st.sustained())
				logf("search %d: %s at %d/s: sent %d ok %d, p99 %.1f ms -> %v %s", rep1, st.Server, st.Rate, st.Sent, st.OK, st.P99ms, st.sustained(), st.Error)
				if err := pause(); err != nil {
					return err
				}
				if err := t.srv.alive(); err != nil {
					return err
				}
			}
			if !active {
				break
			}
		}
		for _, s := range searches {
			rep.MaxRates = append(rep.MaxRates, maxRate{Server: s.server, Repeat: rep1, Rate: s.lo, Capped: s.capped})
			logf("search %d: %s sustains %d/s", rep1, s.server, s.lo)
		}
	}
	return nil
}

// search steps the rate up by a factor until the first rate that is not
// sustained (tried twice), then bisects between the last sustained and that
// one.
type search struct {
	server     string
	next       int
	lo, hi     int // highest sustained, lowest failed (0: none yet)
	growth     float64
	max        int
	bisections int
	capped     bool
	retried    bool
	finished   bool
}

func newSearch(server string, o options) *search {
	return &search{server: server, next: o.startRate, growth: o.growth, max: o.maxRate, bisections: o.bisections}
}

func (s *search) done() bool { return s.finished }

func (s *search) record(ok bool) {
	// The first failure while stepping up is tried once more, so that one
	// stall on a shared machine does not end the ascent.
	if !ok && s.hi == 0 && !s.retried {
		s.retried = true
		return
	}
	if ok {
		s.lo = s.next
	} else {
		s.hi = s.next
	}
	switch {
	case s.hi == 0 && s.lo >= s.max:
		s.capped, s.finished = true, true
	case s.hi == 0:
		s.next = min(s.max, roundRate(float64(s.lo)*s.growth))
	case s.lo == 0 && s.hi > 0 && s.hi <= 50:
		s.finished = true
	case s.bisections == 0:
		s.finished = true
	default:
		s.bisections--
		mid := roundRate(float64(s.lo+s.hi) / 2)
		if mid <= s.lo || mid >= s.hi {
			s.finished = true
			return
		}
		s.next = mid
	}
}

// roundRate rounds to a multiple of 25 requests/s.
func roundRate(r float64) int { return max(25, int(r/25+0.5)*25) }

func reversed[S ~[]E, E any](s S) S {
	c := slices.Clone(s)
	slices.Reverse(c)
	return c
}

// e2eTests creates pods through the API server: without webhooks, with the
// chart's webhook configurations for HostProcess pods, and for plain pods.
func e2eTests(ctx context.Context, o options, env *testenv.Env, root string, a, b *server, pk *pki, rep *report) error {
	logf("rendering the chart's webhook configurations")
	chart := filepath.Join(root, "charts", "hostprocess-admission")
	vwc, mwc, err := chartWebhooks(ctx, env, chart, fmt.Sprintf("https://127.0.0.1:%d", a.port), pk.caPEM)
	if err != nil {
		return err
	}
	e, err := newE2E(ctx, env, "bench-e2e", vwc, mwc)
	if err != nil {
		return err
	}
	// The same configurations calling B, which answers without decoding:
	// what kube-apiserver spends on a webhook call whatever the server.
	if e.bareVWC, e.bareMWC, err = chartWebhooks(ctx, env, chart, fmt.Sprintf("https://127.0.0.1:%d", b.port), pk.caPEM); err != nil {
		return err
	}
	if e.native, err = nativepolicy.Generate(config.Default(), nativepolicy.Options{}); err != nil {
		return err
	}
	hp, plain := e2ePod(hostProcessPod(e.namespace)), e2ePod(plainPod(e.namespace))
	if o.e2eUndefault {
		hp.Spec.NodeSelector = nil
	}
	// Each case is measured against the baseline without any enforcement that
	// creates the same pods in the same repeat: none for hostprocess and
	// native, none-plain for plain and native-plain. The cases come in groups
	// of a baseline and its cases (2 or 3).
	type e2eCase struct {
		name string
		mode enforcement
		pod  *corev1.Pod
	}
	var hpGroup, plainGroup []e2eCase
	if !o.e2ePlainOnly {
		hpGroup = []e2eCase{{"none", enforceNone, hp}, {"hostprocess", enforceWebhooks, hp}}
		if o.e2eBare {
			hpGroup = append(hpGroup, e2eCase{"bare", enforceBare, hp})
		}
		if o.e2eNative {
			hpGroup = append(hpGroup, e2eCase{"native", enforceNative, hp})
		}
	}
	plainGroup = []e2eCase{{"none-plain", enforceNone, plain}, {"plain", enforceWebhooks, plain}}
	if o.e2eFloor {
		plainGroup = append(plainGroup, e2eCase{"floor-plain", enforceFloor, plain})
	}
	if o.e2eNative {
		plainGroup = append(plainGroup, e2eCase{"native-plain", enforceNative, plain})
	}
	// Warm the API server (and the webhook connection) up, unmeasured.
	if err := e.setEnforcement(ctx, enforceWebhooks); err != nil {
		return err
	}
	if _, err := e.run(ctx, "warmup", hp, 200, o.e2eWorkers, a.pid(), nil); err != nil {
		return err
	}
	for r := 1; r <= o.e2eRepeats; r++ {
		// Every run leaves deleted pods in etcd's history until the next
		// compaction, so later runs of a repeat tend to be slower: odd
		// repeats run each baseline before its cases, even ones after them.
		order := slices.Concat(hpGroup, plainGroup)
		if r%2 == 0 {
			order = slices.Concat(reversed(hpGroup), reversed(plainGroup))
		}
		for _, c := range order {
			t0 := time.Now()
			if err := e.clean(ctx); err != nil {
				return err
			}
			logf("e2e: pods deleted in %.1fs", time.Since(t0).Seconds())
			if err := e.setEnforcement(ctx, c.mode); err != nil {
				return err
			}
			prof := &profiling{seconds: o.profileSecs}
			if o.e2eProfile {
				prof.keep = filepath.Join(o.out, fmt.Sprintf("e2e-%s-%d.pprof", c.name, r))
			}
			res, err := e.run(ctx, c.name, c.pod, o.e2ePods, o.e2eWorkers, a.pid(), prof)
			if err != nil {
				return fmt.Errorf("e2e %s: %w", c.name, err)
			}
			res.Repeat = r
			rep.E2E = append(rep.E2E, res)
			logf("e2e %d: %s: %d pods in %.1fs = %.0f pods/s, p50 %.1f ms p99 %.1f ms, CPU per pod: kube-apiserver %.3f ms (%.3f less idle %.0f ms/s), etcd %.3f ms, webhook %.3f ms, machine %.2f ms, %d failed %s",
				r, c.name, res.Pods, res.Seconds, res.PodsPerS, res.P50ms, res.P99ms, res.APIServerCPUPerPod, res.APIServerNetCPUPerPod, res.APIServerIdleMsPerS, res.EtcdCPUPerPod,
				res.WebhookCPUPerPod, res.MachineCPUPerPod, res.Failed, res.FirstFail)
			if res.Failed > 0 {
				return fmt.Errorf("e2e %s: %d of %d pods failed: %s", c.name, res.Failed, res.Pods, res.FirstFail)
			}
		}
	}
	if err := e.clean(ctx); err != nil {
		return err
	}
	return e.setEnforcement(ctx, enforceNone)
}
