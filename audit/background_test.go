//go:build !windows

package audit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/audit/audittest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// eventually retries check until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reportLines summarises a report's results as "Kind/name rule result severity: message".
func reportLines(results []openreports.ReportResult) []string {
	var out []string
	for _, r := range results {
		s := r.Subjects[0]
		out = append(out, fmt.Sprintf("%s/%s %s %s %s: %s", s.Kind, s.Name, r.Rule, r.Result, r.Severity, r.Description))
	}
	return out
}

// startBackground runs the background audit in a manager of its own, configured as serve
// configures its manager: the audit's cache settings and leader election.
func startBackground(t *testing.T, env *testenv.Env, p *policy.Policy, reg *prometheus.Registry) {
	t.Helper()
	startBackgroundWith(t, env.Config, p, reg)
}

// startBackgroundWith runs the background audit in a manager of its own with cfg.
func startBackgroundWith(t *testing.T, cfg *rest.Config, p *policy.Policy, reg *prometheus.Registry) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                true,
		LeaderElectionID:              "hostprocess-admission",
		LeaderElectionNamespace:       "default",
		LeaderElectionReleaseOnCancel: true,
		Logger:                        zap.New(zap.UseDevMode(true)),
	})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := audit.NewBackground(mgr, func() *policy.Policy { return p }, reg, zap.New(zap.UseDevMode(true)).WithName("audit"))
	if err != nil {
		t.Fatal(err)
	}
	if !bg.NeedLeaderElection() {
		t.Error("NeedLeaderElection = false, want true")
	}
	if err := mgr.Add(bg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// passes returns how many audit passes have finished (the duration histogram's count).
func passes(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	for _, mf := range gather(t, reg) {
		if mf.GetName() == "hostprocess_audit_duration_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// gauges returns the series of a gauge as "label=value,label=value value".
func gauges(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	var out []string
	for _, mf := range gather(t, reg) {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s %g", strings.Join(labels, ","), m.GetGauge().GetValue()))
		}
	}
	sort.Strings(out)
	return out
}

func TestBackgroundAuditWritesReportsAndKeepsThemCurrent(t *testing.T) {
	env := testenv.Start(t)
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{"crds"}, ErrorIfPathMissing: true}); err != nil {
		t.Fatalf("installing the OpenReports CRDs: %v", err)
	}
	ctx := context.Background()
	if _, err := audittest.Create(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	cfg := audittest.Config()
	cfg.Audit.Interval = &metav1.Duration{Duration: 300 * time.Millisecond}
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	startBackground(t, env, p, reg)

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = openreports.Install(scheme)
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	reports := func() (map[string][]string, map[string]string, error) {
		list := &openreports.ReportList{}
		if err := c.List(ctx, list); err != nil {
			return nil, nil, err
		}
		lines, versions := map[string][]string{}, map[string]string{}
		for _, r := range list.Items {
			lines[r.Namespace+"/"+r.Name] = reportLines(r.Results)
			versions[r.Namespace+"/"+r.Name] = r.ResourceVersion
		}
		cr := &openreports.ClusterReport{}
		if err := c.Get(ctx, client.ObjectKey{Name: audit.ReportName}, cr); err != nil {
			return nil, nil, err
		}
		lines["ClusterReport"] = reportLines(cr.Results)
		versions["ClusterReport"] = cr.ResourceVersion
		return lines, versions, nil
	}
	const (
		agentUser  = `Deployment/agent runAsUserName fail high: container "c0": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM)`
		agentImage = `Deployment/agent image fail high: container "c0": image "docker.io/example/agent:1.0" is not allowed (allowed: mcr.microsoft.com/*)`
		notAllowed = `namespace fail high: pod: namespace "hp-other" is not allowed to run HostProcess pods (allowed: hp-system, namespaces with labels hostprocess.dev/allowed=true)`
	)
	want := map[string][]string{
		"hp-apps/hostprocess-admission": {
			`CronJob/log-cleanup hostProcess pass info: HostProcess cronjob runs as NT AUTHORITY\Local service and breaks no rule`,
			`Pod/debug runAsNonRoot fail medium: container "c0": securityContext.runAsNonRoot is true (allowed: unset or false)`,
			`Pod/debug windowsOS fail low: pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)`,
			`Pod/gone-6d5f-k2m4n hostProcess pass info: HostProcess pod runs as NT AUTHORITY\SYSTEM and breaks no rule`,
		},
		"hp-exempt/hostprocess-admission": {
			`Pod/tool hostProcess skip info: HostProcess pod in exempt namespace hp-exempt, not evaluated; runs as NT AUTHORITY\ANONYMOUS LOGON`,
		},
		"hp-other/hostprocess-admission": {
			"Pod/node-agent-win-node-3 " + notAllowed,
			"StatefulSet/stray " + notAllowed,
		},
		"hp-system/hostprocess-admission": {
			`DaemonSet/csi-proxy hostProcess pass info: HostProcess daemonset runs as NT AUTHORITY\SYSTEM and breaks no rule`,
			agentUser,
			agentImage,
		},
		"ClusterReport": {
			"Namespace/hp-apps namespaceSummary fail high: 3 HostProcess objects, 1 violating (2 violations)",
			"Namespace/hp-exempt namespaceSummary skip info: exempt namespace: 1 HostProcess object not evaluated",
			"Namespace/hp-other namespaceSummary fail high: 2 HostProcess objects, 2 violating (2 violations)",
			"Namespace/hp-system namespaceSummary fail high: 2 HostProcess objects, 1 violating (2 violations)",
		},
	}
	var versions map[string]string
	eventually(t, 2*time.Minute, "reports of the fixtures", func() error {
		got, v, err := reports()
		if err != nil {
			return err
		}
		versions = v
		if diff := cmp.Diff(want, got); diff != "" {
			return errors.New("reports (-want +got):\n" + diff)
		}
		return nil
	})

	t.Run("metrics count violations by namespace and rule, and HostProcess pods by user", func(t *testing.T) {
		wantViolations := []string{
			"namespace=hp-apps,rule=runAsNonRoot 1", "namespace=hp-apps,rule=windowsOS 1",
			"namespace=hp-other,rule=namespace 2",
			"namespace=hp-system,rule=image 1", "namespace=hp-system,rule=runAsUserName 1",
		}
		if diff := cmp.Diff(wantViolations, gauges(t, reg, "hostprocess_audit_violations")); diff != "" {
			t.Errorf("hostprocess_audit_violations (-want +got):\n%s", diff)
		}
		wantPods := []string{
			`namespace=hp-apps,user=NT AUTHORITY\Local service 1`, `namespace=hp-apps,user=NT AUTHORITY\NetworkService 1`,
			`namespace=hp-apps,user=NT AUTHORITY\SYSTEM 1`, `namespace=hp-exempt,user=NT AUTHORITY\ANONYMOUS LOGON 1`,
			`namespace=hp-other,user=NT AUTHORITY\SYSTEM 1`, `namespace=hp-system,user=NT AUTHORITY\ANONYMOUS LOGON 1`,
			`namespace=hp-system,user=NT AUTHORITY\SYSTEM 2`,
		}
		if diff := cmp.Diff(wantPods, gauges(t, reg, "hostprocess_audit_hostprocess_pods")); diff != "" {
			t.Errorf("hostprocess_audit_hostprocess_pods (-want +got):\n%s", diff)
		}
		if last := gauges(t, reg, "hostprocess_audit_last_run_timestamp_seconds"); len(last) != 1 || last[0] == " 0" {
			t.Errorf("hostprocess_audit_last_run_timestamp_seconds = %v", last)
		}
	})

	t.Run("passes without changes write nothing", func(t *testing.T) {
		start := passes(t, reg)
		eventually(t, time.Minute, "two more passes", func() error {
			if n := passes(t, reg); n < start+2 {
				return fmt.Errorf("%d passes, want at least %d", n, start+2)
			}
			return nil
		})
		_, now, err := reports()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(versions, now); diff != "" {
			t.Errorf("resource versions changed without a change of content (-before +after):\n%s", diff)
		}
	})

	t.Run("fixing a workload replaces its failures by a pass on the next pass", func(t *testing.T) {
		dep := &appsv1.Deployment{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "hp-system", Name: "agent"}, dep); err != nil {
			t.Fatal(err)
		}
		dep.Spec.Template.Spec.Containers[0].SecurityContext = nil
		dep.Spec.Template.Spec.Containers[0].Image = audittest.CSIProxyImage
		if err := env.Client.Update(ctx, dep); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "the fixed Deployment's results", func() error {
			got, _, err := reports()
			if err != nil {
				return err
			}
			want := []string{
				`DaemonSet/csi-proxy hostProcess pass info: HostProcess daemonset runs as NT AUTHORITY\SYSTEM and breaks no rule`,
				`Deployment/agent hostProcess pass info: HostProcess deployment runs as NT AUTHORITY\SYSTEM and breaks no rule`,
			}
			if diff := cmp.Diff(want, got["hp-system/hostprocess-admission"]); diff != "" {
				return errors.New("hp-system report (-want +got):\n" + diff)
			}
			if s := got["ClusterReport"][3]; s != "Namespace/hp-system namespaceSummary pass info: 2 HostProcess objects, none violating" {
				return errors.New("cluster report result for hp-system: " + s)
			}
			return nil
		})
		if v := gauges(t, reg, "hostprocess_audit_violations"); strings.Contains(strings.Join(v, "\n"), "hp-system") {
			t.Errorf("hostprocess_audit_violations still has hp-system series: %v", v)
		}
	})

	t.Run("deleting a namespace removes its report", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hp-other"}}
		if err := env.Client.Delete(ctx, ns, &client.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
			t.Fatal(err)
		}
		// Without kube-controller-manager the namespace stays Terminating; the audit treats it
		// as gone and deletes the report itself.
		eventually(t, time.Minute, "the report of hp-other is deleted", func() error {
			err := c.Get(ctx, client.ObjectKey{Namespace: "hp-other", Name: audit.ReportName}, &openreports.Report{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("get report: %v", err)
			}
			got, _, err := reports()
			if err != nil {
				return err
			}
			for _, line := range got["ClusterReport"] {
				if strings.HasPrefix(line, "Namespace/hp-other ") {
					return errors.New("the cluster report still lists hp-other")
				}
			}
			return nil
		})
	})
}

// podRequests counts the list and the watch requests for Pods that pass through it.
type podRequests struct {
	rt             http.RoundTripper
	lists, watches atomic.Int64
}

func (c *podRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/pods") {
		if r.URL.Query().Get("watch") == "true" {
			c.watches.Add(1)
		} else {
			c.lists.Add(1)
		}
	}
	return c.rt.RoundTrip(r)
}

// A watch of every Pod would cost the API server and serve something for every
// Pod event in the cluster: the audit lists Pods once per pass, and a disabled
// audit reads none.
func TestBackgroundAuditListsPodsAndNeverWatchesThem(t *testing.T) {
	env, _ := fixtureCluster(t)
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("audit.enabled=%t", enabled), func(t *testing.T) {
			cfg := audittest.Config()
			cfg.Audit.Enabled = &enabled
			p, err := policy.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			counter := &podRequests{}
			rc := rest.CopyConfig(env.Config)
			rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter }
			startBackgroundWith(t, rc, p, reg)
			if enabled {
				eventually(t, time.Minute, "the first pass", func() error {
					if passes(t, reg) == 0 {
						return errors.New("no pass yet")
					}
					return nil
				})
				if counter.lists.Load() == 0 {
					t.Error("the enabled audit ran a pass without listing Pods")
				}
				if n := counter.watches.Load(); n != 0 {
					t.Errorf("the audit watched Pods %d times", n)
				}
				return
			}
			// Once this manager leads, its audit runs; give it 2 s more.
			eventually(t, time.Minute, "the lease", func() error {
				lease := &coordinationv1.Lease{}
				if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "hostprocess-admission"}, lease); err != nil {
					return err
				}
				if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
					return errors.New("no holder")
				}
				return nil
			})
			time.Sleep(2 * time.Second)
			if n := counter.lists.Load() + counter.watches.Load(); n != 0 {
				t.Errorf("the disabled audit listed or watched Pods %d times", n)
			}
			if n := passes(t, reg); n != 0 {
				t.Errorf("the disabled audit ran %d passes", n)
			}
		})
	}
}
