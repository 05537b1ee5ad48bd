//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/hack/bench/internal/host"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

type options struct {
	duration      time.Duration
	warmup        time.Duration
	window        time.Duration
	sampleEvery   time.Duration
	rate          int
	missingNSRate int
	hostileRate   float64
	oversizedRate float64
	maxBody       int
	serveBinary   string
	out           string
	keep          bool
}

// Tolerances: how much the server may grow between the window after warm-up
// and the last window of the load (RSS: the highest sample of each window;
// live heap, and goroutines and fds less the webhook connections: the
// median), and between idle before the load and after it (goroutines and
// fds, once every client connection is closed).
const (
	rssGrowthMiB      = 16
	heapGrowthMiB     = 8
	rssGrowthShare    = 0.20
	countGrowth       = 20
	countGrowthShare  = 0.20
	quiescedGoroutine = 10
	quiescedFDs       = 5
)

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.DurationVar(&o.warmup, "warmup", time.Minute, "the first part of the load, not compared")
	flag.DurationVar(&o.window, "window", time.Minute, "length of the window after warm-up and of the last window, which are compared")
	flag.DurationVar(&o.sampleEvery, "sample", 5*time.Second, "how often RSS, goroutines and fds are sampled")
	flag.IntVar(&o.rate, "rate", 200, "valid reviews per second (vegeta, constant rate)")
	flag.IntVar(&o.missingNSRate, "missing-namespace-rate", 2, "valid reviews per second of a HostProcess pod in a namespace that does not exist (each one a lookup of the API server through serve's client-side rate limiter, 5 requests/s)")
	flag.Float64Var(&o.hostileRate, "hostile-rate", 5, "per second, of each hostile kind: malformed, truncated, slow, closed early")
	flag.Float64Var(&o.oversizedRate, "oversized-rate", 1, "oversized bodies per second")
	flag.IntVar(&o.maxBody, "max-body-bytes", 4<<20, "serve's --max-body-bytes; oversized bodies are 1 MiB larger")
	flag.StringVar(&o.serveBinary, "serve-binary", "", "run this hostprocess-admission binary instead of building the work tree's")
	flag.StringVar(&o.out, "out", "bench/results", "directory for soak.json (relative to the repository root)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (serve's log)")
	flag.Parse()
	if o.rate < 1 || o.missingNSRate < 1 || o.hostileRate <= 0 || o.oversizedRate <= 0 || o.sampleEvery <= 0 || o.maxBody < 1 ||
		o.duration < o.warmup+2*o.window || o.window < 2*o.sampleEvery {
		fmt.Fprintln(os.Stderr, "soak: -duration must cover -warmup and two -window, a window at least two -sample, and the rates be positive")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	rep, err := run(ctx, o)
	if rep != nil {
		fmt.Print(rep.table())
		if werr := rep.write(o.out); werr != nil {
			fmt.Fprintln(os.Stderr, "soak:", werr)
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintln(os.Stderr, "soak: FAILED:\n  "+strings.Join(rep.Failures, "\n  "))
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "soak: passed")
}

var began = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

// soakConfig allows HostProcess pods in soak-hp by name; its selector rule
// makes every HostProcess review look up its namespace (the cache, then the
// API server for a namespace the cache does not know).
const soakConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: enforce
namespaceRules:
- namespaces: [soak-hp]
- namespaceSelector:
    matchLabels: {hostprocess.dev/allowed: "true"}
`

func run(ctx context.Context, o options) (*report, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(o.out) {
		o.out = filepath.Join(root, o.out)
	}
	for _, name := range []string{testenv.KubeAPIServer, testenv.Etcd} {
		if _, err := testenv.Bin(name); err != nil {
			return nil, err
		}
	}
	work, err := os.MkdirTemp("", "hpa-soak-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		logf("work directory %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := o.serveBinary
	if bin == "" {
		logf("building serve")
		bin = filepath.Join(work, "hostprocess-admission")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
		build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %v\n%s", err, out)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	certDir, pool, err := servingCert(work)
	if err != nil {
		return nil, err
	}
	configPath := filepath.Join(work, "config.yaml")
	if err := os.WriteFile(configPath, []byte(soakConfig), 0o600); err != nil {
		return nil, err
	}

	logf("starting etcd and kube-apiserver")
	env, err := testenv.New(testenv.WithLogger(logr.Discard()))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			logf("stopping the control plane: %v", err)
		}
	}()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: allowedNamespace}}); err != nil {
		return nil, err
	}

	var ports [3]int
	for i := range ports {
		if ports[i], err = host.FreePort(); err != nil {
			return nil, err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
	srv := &process{log: filepath.Join(work, "serve.log"), cmd: exec.Command(bin, "serve",
		"--config", configPath, "--kubeconfig", env.Kubeconfig, "--cert-dir", certDir,
		"--port", strconv.Itoa(ports[0]), "--max-body-bytes", strconv.Itoa(o.maxBody),
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[2]))}
	logf("starting serve on %s", addr)
	if err := srv.start(); err != nil {
		return nil, err
	}
	defer srv.stop()

	rep := &report{Command: "make soak (go -C hack/bench run ./soak " + strings.Join(os.Args[1:], " ") + ")",
		Started: time.Now().UTC(), Machine: host.Describe(), LoadStart: host.LoadAvg(), Options: o.describe(),
		WorkTree: workTree(root), Requests: map[string]*counter{}}
	t := newTraffic(addr, pool, o, rep)
	probe := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(120 * time.Second)
	for {
		err := srv.alive()
		if err == nil {
			err = host.Ready(ctx, probe, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[2]))
		}
		if err == nil {
			err = t.checkEveryKind(ctx)
		}
		if err == nil {
			break
		}
		if srv.alive() != nil || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("serve is not ready: %v\n%s", err, tail(srv.log, 20))
		}
		time.Sleep(500 * time.Millisecond)
	}
	rep.resetCounters() // the readiness checks are not part of the figures

	m := &meter{pid: srv.pid(), port: ports[0], metricsURL: metricsURL, client: &http.Client{Timeout: 10 * time.Second}}
	logf("serve is ready; idle for 10s")
	time.Sleep(10 * time.Second)
	idle, err := m.sample("idle", 0)
	if err != nil {
		return nil, err
	}
	rep.Samples = append(rep.Samples, idle)
	logf("idle: RSS %.1f MiB (live heap %.1f), %d goroutines, %d fds", idle.RSSMiB, idle.HeapLiveMiB, idle.Goroutines, idle.FDs)

	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	loadStart := time.Now()
	var samplerWG sync.WaitGroup
	samplerWG.Add(1)
	var samplerErr error
	go func() {
		defer samplerWG.Done()
		tick := time.NewTicker(o.sampleEvery)
		defer tick.Stop()
		lastLog := time.Now()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			s, err := m.sample("load", time.Since(loadStart).Seconds())
			if err != nil {
				samplerErr = err
				stopLoad()
				return
			}
			rep.addSample(s)
			if time.Since(lastLog) >= 30*time.Second {
				lastLog = time.Now()
				logf("%4.0fs: RSS %.1f MiB (live heap %.1f), %d goroutines, %d fds, %d webhook connections; %s; load %s",
					s.T, s.RSSMiB, s.HeapLiveMiB, s.Goroutines, s.FDs, s.Conns, rep.progress(), host.LoadAvg())
			}
		}
	}()
	logf("load for %s: %d + %d valid reviews/s, %.1f/s of each hostile kind, %.1f oversized bodies/s", o.duration, o.rate, o.missingNSRate, o.hostileRate, o.oversizedRate)
	hostileDone := t.hostile(loadCtx)
	t.valid(loadCtx)
	stopLoad()
	samplerWG.Wait()
	logf("load over; waiting for the hostile clients still connected (slow clients until serve cuts them off)")
	hostileDone.Wait()
	rep.Seconds = time.Since(loadStart).Seconds()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if samplerErr != nil {
		rep.fail("sampling serve: %v", samplerErr)
	}
	if err := srv.alive(); err != nil {
		rep.fail("%v", err)
		return rep, nil
	}

	// After the load: every client connection closed, serve should go back
	// to its idle goroutines and fds.
	t.closeIdle()
	var after sample
	for i := 0; i < 60; i++ {
		time.Sleep(time.Second)
		if after, err = m.sample("after", time.Since(loadStart).Seconds()); err != nil {
			return rep, err
		}
		if after.Goroutines <= idle.Goroutines+quiescedGoroutine && after.FDs <= idle.FDs+quiescedFDs {
			break
		}
	}
	rep.Samples = append(rep.Samples, after)
	logf("after the load: RSS %.1f MiB (live heap %.1f), %d goroutines, %d fds, %d webhook connections", after.RSSMiB, after.HeapLiveMiB, after.Goroutines, after.FDs, after.Conns)
	if err := t.checkEveryKind(ctx); err != nil {
		rep.fail("a normal review after the load: %v", err)
	}
	if err := srv.alive(); err != nil {
		rep.fail("%v", err)
	}
	rep.LoadEnd = host.LoadAvg()
	rep.Finished = time.Now().UTC()
	rep.evaluate(o)
	return rep, nil
}

func (o options) describe() map[string]string {
	return map[string]string{
		"duration": o.duration.String(), "warmup": o.warmup.String(), "window": o.window.String(),
		"sample": o.sampleEvery.String(), "rate": strconv.Itoa(o.rate), "missing_namespace_rate": strconv.Itoa(o.missingNSRate),
		"hostile_rate": strconv.FormatFloat(o.hostileRate, 'g', -1, 64), "oversized_rate": strconv.FormatFloat(o.oversizedRate, 'g', -1, 64),
		"max_body_bytes": strconv.Itoa(o.maxBody), "serve_binary": o.serveBinary,
	}
}

// process is the serve process.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (p *process) start() error {
	f, err := os.Create(p.log)
	if err != nil {
		return err
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return err
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("serve exited (%v):\n%s", p.err, tail(p.log, 20))
	default:
		return nil
	}
}

// stop ends serve: SIGTERM, then SIGKILL after 40s (serve drains for up to 35s).
func (p *process) stop() {
	if p.done == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// write writes soak.json into dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "soak.json")
	if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", path)
	return nil
}

// workTree says what serve was built from: the commit and the files
// modified in the work tree.
func workTree(root string) string {
	head, _ := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	st, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	s := strings.TrimSpace(string(head))
	if m := strings.Fields(strings.ReplaceAll(string(st), " M ", " ")); len(m) > 0 {
		s += ", modified: " + strings.Join(m, " ")
	}
	return s
}

var errNotCutOff = errors.New("the server did not close the connection")
