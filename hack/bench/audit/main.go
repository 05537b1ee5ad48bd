//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const benchConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: warn
exemptions:
  namespaces: [bench-000]
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "background" {
		if err := background(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "background:", err)
			os.Exit(1)
		}
		return
	}
	pods := flag.Int("pods", 10000, "pods in all")
	namespaces := flag.Int("namespaces", 100, "namespaces")
	hostProcessPercent := flag.Int("hostprocess-percent", 5, "share of the pods that are HostProcess pods")
	examplesDir := flag.String("examples", "", "instead of measuring, create the test fixtures (audit/audittest) and write the audit in each format, and the reports as kubectl shows them, into this directory")
	flag.Parse()
	if *examplesDir != "" {
		if err := examples(*examplesDir); err != nil {
			fmt.Fprintln(os.Stderr, "examples:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*pods, *namespaces, *hostProcessPercent); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// binaries builds the command and this program into work.
func binaries(root, work string) (bin, self string, err error) {
	bin = filepath.Join(work, "hostprocess-admission")
	fmt.Fprintln(os.Stderr, "building hostprocess-admission and the background child")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", "", err
	}
	self = filepath.Join(work, "bench-audit")
	build = exec.Command("go", "build", "-o", self, "./audit")
	build.Dir, build.Stdout, build.Stderr = filepath.Join(root, "hack", "bench"), os.Stderr, os.Stderr
	return bin, self, build.Run()
}

func run(pods, namespaces, hpPercent int) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-audit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, self, err := binaries(root, work)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(work, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(benchConfig), 0o644); err != nil {
		return err
	}

	env, err := testenv.New(testenv.WithLogger(logr.Discard()), testenv.WithAPIServerFlags("--max-requests-inflight=800", "--max-mutating-requests-inflight=400"))
	if err != nil {
		return err
	}
	defer env.Stop()
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{filepath.Join(root, "audit", "crds")}, ErrorIfPathMissing: true}); err != nil {
		return err
	}

	start := time.Now()
	hp, violating, err := populate(env, pods, namespaces, hpPercent)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created %d pods (%d HostProcess, %d of them violating) in %d namespaces in %s\n",
		pods, hp, violating, namespaces, time.Since(start).Round(time.Second))

	fmt.Printf("| Run | Wall time | Peak RSS |\n|---|--:|--:|\n")
	for _, format := range audit.Formats {
		out := filepath.Join(work, "audit."+format)
		wall, rss, code, stderr, err := measure(bin, "audit", "-A", "--kubeconfig", env.Kubeconfig, "--config", cfgPath, "-o", format, "--output-file", out)
		if err != nil {
			return err
		}
		if code != 1 {
			return fmt.Errorf("audit -o %s exited %d, want 1 (violations):\n%s", format, code, stderr)
		}
		st, _ := os.Stat(out)
		fmt.Printf("| `audit -A -o %s` (%d KiB written) | %.2f s | %.0f MiB |\n", format, st.Size()/1024, wall.Seconds(), float64(rss)/1024)
	}
	wall, rss, code, stderr, err := measure(self, "background", env.Kubeconfig, cfgPath)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("background child exited %d:\n%s", code, stderr)
	}
	fmt.Printf("| background audit: start, 3 passes (%s) | %.2f s | %.0f MiB |\n", strings.TrimSpace(stderr), wall.Seconds(), float64(rss)/1024)
	fmt.Printf("\n%d pods (%d HostProcess, %d violating) in %d namespaces; %d CPUs (GOMAXPROCS %d), %s.\n",
		pods, hp, violating, namespaces, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	return nil
}

// examples creates the fixtures of the tests, audits them with the command in every format
// and runs the background audit, writing what a user sees into dir.
func examples(dir string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "audit-examples-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, self, err := binaries(root, work)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(audittest.ConfigYAML), 0o644); err != nil {
		return err
	}
	env, err := testenv.New(testenv.WithLogger(logr.Discard()))
	if err != nil {
		return err
	}
	defer env.Stop()
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{filepath.Join(root, "audit", "crds")}, ErrorIfPathMissing: true}); err != nil {
		return err
	}
	if _, err := audittest.Create(context.Background(), env.Client); err != nil {
		return err
	}
	for _, format := range audit.Formats {
		out := filepath.Join(dir, "audit."+format)
		cmd := exec.Command(bin, "audit", "-A", "--kubeconfig", env.Kubeconfig, "--config", cfgPath, "-o", format, "--output-file", out)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 1 {
			return fmt.Errorf("audit -o %s: %w", format, err)
		}
	}
	if _, _, code, stderr, err := measure(self, "background", env.Kubeconfig, cfgPath); err != nil || code != 0 {
		return fmt.Errorf("background: exit %d, %v: %s", code, err, stderr)
	}
	ctx := context.Background()
	for name, args := range map[string][]string{
		"reports.txt":           {"get", "reports", "-A"},
		"clusterreports.txt":    {"get", "clusterreports", "-o", "wide"},
		"report-hp-system.yaml": {"get", "report", "-n", "hp-system", audit.ReportName, "-o", "yaml"},
		"clusterreport.yaml":    {"get", "clusterreport", audit.ReportName, "-o", "yaml"},
	} {
		out, err := env.Run(ctx, testenv.Kubectl, args...)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "wrote", dir)
	return nil
}

// measure runs a child and returns its wall time, peak RSS in KiB, exit code and stderr.
func measure(path string, args ...string) (time.Duration, int64, int, string, error) {
	cmd := exec.Command(path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, 0, 0, "", err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return wall, ru.Maxrss, cmd.ProcessState.ExitCode(), stderr.String(), nil
}

// populate creates the namespaces, and in each a plain Deployment with a ReplicaSet owning
// most pods, a HostProcess DaemonSet owning some HostProcess pods, and standalone HostProcess
// pods of which every other one runs as a user the policy does not allow.
func populate(env *testenv.Env, pods, namespaces, hpPercent int) (hp, violating int, err error) {
	cfg := *env.Config
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := client.New(&cfg, client.Options{})
	if err != nil {
		return 0, 0, err
	}
	ctx := context.Background()
	perNS := pods / namespaces
	hpPerNS := max(1, perNS*hpPercent/100)
	jobs := make(chan client.Object, 256)
	var (
		wg      sync.WaitGroup
		created atomic.Int64
		firstMu sync.Mutex
		first   error
	)
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for obj := range jobs {
				if err := c.Create(ctx, obj); err != nil {
					firstMu.Lock()
					if first == nil {
						first = err
					}
					firstMu.Unlock()
				}
				if n := created.Add(1); n%1000 == 0 {
					fmt.Fprintf(os.Stderr, "  %d objects created\n", n)
				}
			}
		}()
	}
	for i := 0; i < namespaces; i++ {
		ns := fmt.Sprintf("bench-%03d", i)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return 0, 0, err
		}
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: webSpec("")}}}
		if err := c.Create(ctx, dep); err != nil {
			return 0, 0, err
		}
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-6b7c", OwnerReferences: controller(dep, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
			Spec: appsv1.ReplicaSetSpec{Selector: dep.Spec.Selector, Template: dep.Spec.Template}}
		if err := c.Create(ctx, rs); err != nil {
			return 0, 0, err
		}
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "node-agent"},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-agent"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "node-agent"}},
					Spec: audittest.HostProcessSpec(audittest.System, "", audittest.CSIProxyImage)}}}
		if err := c.Create(ctx, ds); err != nil {
			return 0, 0, err
		}
		dsPods := hpPerNS / 2
		for j := 0; j < perNS; j++ {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: map[string]string{"app": "web", "pod-template-hash": "6b7c"},
				Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "web"}}}
			node := fmt.Sprintf("node-%03d", j%150)
			switch {
			case j < dsPods:
				pod.Name = fmt.Sprintf("node-agent-%05d", j)
				pod.OwnerReferences = controller(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
				pod.Spec = audittest.HostProcessSpec(audittest.System, "win-"+node, audittest.CSIProxyImage)
				hp++
			case j < hpPerNS:
				pod.Name = fmt.Sprintf("debug-%05d", j)
				user := audittest.NetworkService
				if j%2 == 0 {
					user = audittest.Anonymous
					if ns != "bench-000" {
						violating++
					}
				}
				pod.Spec = audittest.HostProcessSpec(user, "win-"+node, audittest.PowerShellImage)
				hp++
			default:
				pod.Name = fmt.Sprintf("web-6b7c-%05d", j)
				pod.OwnerReferences = controller(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
				pod.Spec = webSpec(node)
			}
			jobs <- pod
		}
	}
	close(jobs)
	wg.Wait()
	return hp, violating, first
}

func controller(owner client.Object, gvk schema.GroupVersionKind) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}
}

// webSpec is a pod of the size of a typical application pod: environment, probes, volumes,
// resources.
func webSpec(node string) corev1.PodSpec {
	env := make([]corev1.EnvVar, 12)
	for i := range env {
		env[i] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%02d", i), Value: strings.Repeat("v", 24)}
	}
	return corev1.PodSpec{
		NodeName: node,
		Containers: []corev1.Container{{
			Name: "web", Image: "registry.example.com/team/web:1.4.2", Env: env,
			Args:  []string{"--listen=:8080", "--log-level=info"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web"}},
		}},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}}},
	}
}

// background runs the background audit as serve does (cache settings, leader election) until
// three passes have finished, and prints the first and last pass durations on stderr.
func background(kubeconfig, cfgPath string) error {
	ctrl.SetLogger(logr.Discard())
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	cfg.Audit.Interval = &metav1.Duration{Duration: time.Second}
	p, err := policy.New(cfg)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restCfg, manager.Options{
		Scheme:                  clientgoscheme.Scheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        "hostprocess-admission-bench",
		LeaderElectionNamespace: "default",
		Logger:                  logr.Discard(),
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	bg, err := audit.NewBackground(mgr, func() *policy.Policy { return p }, reg, logr.Discard())
	if err != nil {
		return err
	}
	if err := mgr.Add(bg); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- mgr.Start(ctx) }()
	var durations []float64
	for len(durations) < 3 {
		select {
		case err := <-done:
			return fmt.Errorf("manager stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		mfs, err := reg.Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			if mf.GetName() == "hostprocess_audit_duration_seconds" {
				h := mf.GetMetric()[0].GetHistogram()
				if int(h.GetSampleCount()) > len(durations) {
					// The histogram keeps a sum; the pass just finished took the difference.
					sum := 0.0
					for _, d := range durations {
						sum += d
					}
					durations = append(durations, h.GetSampleSum()-sum)
					if len(durations) == 1 {
						fmt.Fprintf(os.Stderr, "first reports after %.1f s; ", time.Since(start).Seconds())
					}
				}
			}
		}
	}
	// The reports exist.
	c, err := client.New(restCfg, client.Options{Scheme: reportScheme()})
	if err != nil {
		return err
	}
	list := &openreports.ReportList{}
	if err := c.List(ctx, list); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "passes %.2f s, %.2f s, %.2f s; %d reports", durations[0], durations[1], durations[2], len(list.Items))
	cancel()
	return <-done
}

func reportScheme() *kruntime.Scheme {
	s := kruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = openreports.Install(s)
	return s
}
