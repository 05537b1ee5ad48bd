package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// DefaultInterval is the time between passes when the configuration does not say.
const DefaultInterval = 5 * time.Minute

// Background is the background audit: a manager.Runnable that, on the elected leader only,
// reads every Pod and workload with paginated lists at the configured interval, as the audit
// command does, evaluates them, sets the audit metrics, and writes one OpenReports Report per
// namespace with HostProcess objects and a ClusterReport summary. A report is written only
// when its content changed; reports of namespaces without HostProcess objects (or being
// deleted) are deleted.
//
// The configuration is read before every pass, so a reloaded audit.enabled or
// audit.interval applies from the next pass. While disabled, no pass runs and the reports
// are left as they were.
//
// It watches nothing: a watch of every Pod would cost the API server and serve something
// for every Pod event in the cluster, where a pass costs a list of each kind once per
// interval, a page of 500 objects at a time, and no cache of them stays in memory
// (docs/performance.md).
type Background struct {
	lists  Clients
	client client.Client
	policy func() *policy.Policy
	m      *metrics
	log    logr.Logger
	now    func() time.Time

	// Exceptions, when set, returns the HostProcessExceptions each pass
	// evaluates under (Scanner.SetExceptions).
	Exceptions func() []*policy.Exception

	crdsMissing bool
}

var _ manager.LeaderElectionRunnable = (*Background)(nil)

// NewBackground returns the background audit for mgr. Add it with mgr.Add. It lists with
// the manager's configuration and HTTP client, built-in kinds as protobuf; reports are
// written with a client of the audit's own scheme. The metrics are registered with reg.
func NewBackground(mgr manager.Manager, pol func() *policy.Policy, reg prometheus.Registerer, log logr.Logger) (*Background, error) {
	// The report client writes reports only.
	scheme := runtime.NewScheme()
	if err := openreports.Install(scheme); err != nil {
		return nil, err
	}
	// The first pass creates a report in every namespace with HostProcess objects; client-go's
	// default of 5 requests a second would stretch that to minutes on a large cluster.
	cfg := rest.CopyConfig(mgr.GetConfig())
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg.QPS, cfg.Burst = 50, 100
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: mgr.GetHTTPClient()})
	if err != nil {
		return nil, fmt.Errorf("audit: report client: %w", err)
	}
	lists, err := newClients(cfg, mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("audit: list clients: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("audit: registering metrics: %w", err)
	}
	return &Background{lists: lists, client: c, policy: pol, m: m, log: log, now: time.Now}, nil
}

// NeedLeaderElection makes only the elected replica run the audit and write reports.
func (b *Background) NeedLeaderElection() bool { return true }

// Start runs a pass every interval until ctx ends.
func (b *Background) Start(ctx context.Context) error {
	b.log.Info("background audit started")
	for {
		p := b.policy()
		interval := auditInterval(p.Config())
		if auditEnabled(p.Config()) {
			if err := b.RunOnce(ctx); err != nil && ctx.Err() == nil {
				b.log.Error(err, "audit pass failed")
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func auditEnabled(cfg *config.AdmissionConfiguration) bool {
	return cfg == nil || cfg.Audit.Enabled == nil || *cfg.Audit.Enabled
}

func auditInterval(cfg *config.AdmissionConfiguration) time.Duration {
	if cfg == nil || cfg.Audit.Interval == nil || cfg.Audit.Interval.Duration <= 0 {
		return DefaultInterval
	}
	return cfg.Audit.Interval.Duration
}

// RunOnce runs one pass: it lists the objects, sets the metrics and writes the reports. It
// must not run concurrently with Start.
func (b *Background) RunOnce(ctx context.Context) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			b.m.passErrors.Inc()
		}
	}()
	start := b.now()
	s := NewScanner(b.policy())
	if b.Exceptions != nil {
		s.SetExceptions(b.Exceptions(), start)
	}
	if err := collectInto(ctx, b.lists, s, CollectOptions{}); err != nil {
		return err
	}
	res := s.Result()
	res.GeneratedAt = start.UTC()
	err = b.writeReports(ctx, res)
	finished := b.now()
	b.m.record(res, s.podUsers, finished, finished.Sub(start))
	b.log.V(1).Info("audit pass", "objects", res.Summary.Objects, "violating", res.Summary.Violating,
		"pods", res.Summary.Scanned.Pods, "took", finished.Sub(start).String())
	return err
}

// writeReports brings the reports in line with res, writing only those whose content changed.
func (b *Background) writeReports(ctx context.Context, res *Result) error {
	existing := &openreports.ReportList{}
	err := b.client.List(ctx, existing, client.MatchingLabels{ManagedByLabel: ManagedByValue})
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		if !b.crdsMissing {
			b.log.Info("the OpenReports CRDs (openreports.io/v1alpha1) are not installed; reports are not written, metrics are")
			b.crdsMissing = true
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing reports: %w", err)
	}
	b.crdsMissing = false
	now := metav1.Timestamp{Seconds: b.now().Unix()}
	desired := namespaceReports(res)
	var errs []error
	for i := range existing.Items {
		old := &existing.Items[i]
		want, ok := desired[old.Namespace]
		if !ok || old.Name != ReportName {
			if err := b.client.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting report %s/%s: %w", old.Namespace, old.Name, err))
			}
			continue
		}
		delete(desired, old.Namespace)
		keepTimestamps(want.Results, old.Results, now)
		sortResults(want.Results)
		if reportUnchanged(old.Labels, old.Source, old.Scope, old.Summary, old.Results, want.Labels, want.Source, want.Summary, want.Results) {
			continue
		}
		upd := old.DeepCopy()
		upd.Labels = mergeLabels(upd.Labels, want.Labels)
		upd.Source, upd.Scope, upd.Summary, upd.Results = want.Source, nil, want.Summary, want.Results
		if err := b.client.Update(ctx, upd); err != nil {
			errs = append(errs, fmt.Errorf("updating report %s/%s: %w", upd.Namespace, upd.Name, err))
		}
	}
	for _, want := range desired {
		keepTimestamps(want.Results, nil, now)
		sortResults(want.Results)
		if err := b.client.Create(ctx, want); err != nil {
			errs = append(errs, fmt.Errorf("creating report %s/%s: %w", want.Namespace, want.Name, err))
		}
	}
	if err := b.writeClusterReport(ctx, res, now); err != nil {
		errs = append(errs, err)
	}
	return utilerrors.NewAggregate(errs)
}

func (b *Background) writeClusterReport(ctx context.Context, res *Result, now metav1.Timestamp) error {
	want := clusterReport(res)
	old := &openreports.ClusterReport{}
	err := b.client.Get(ctx, client.ObjectKey{Name: ReportName}, old)
	if apierrors.IsNotFound(err) {
		keepTimestamps(want.Results, nil, now)
		if err := b.client.Create(ctx, want); err != nil {
			return fmt.Errorf("creating cluster report %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading cluster report %s: %w", want.Name, err)
	}
	keepTimestamps(want.Results, old.Results, now)
	if reportUnchanged(old.Labels, old.Source, old.Scope, old.Summary, old.Results, want.Labels, want.Source, want.Summary, want.Results) {
		return nil
	}
	upd := old.DeepCopy()
	upd.Labels = mergeLabels(upd.Labels, want.Labels)
	upd.Source, upd.Scope, upd.Summary, upd.Results = want.Source, nil, want.Summary, want.Results
	if err := b.client.Update(ctx, upd); err != nil {
		return fmt.Errorf("updating cluster report %s: %w", upd.Name, err)
	}
	return nil
}

// reportUnchanged compares the parts of a report the audit writes.
func reportUnchanged(oldLabels map[string]string, oldSource string, oldScope *corev1.ObjectReference, oldSummary openreports.ReportSummary,
	oldResults []openreports.ReportResult, wantLabels map[string]string, wantSource string, wantSummary openreports.ReportSummary,
	wantResults []openreports.ReportResult) bool {
	for k, v := range wantLabels {
		if oldLabels[k] != v {
			return false
		}
	}
	if len(oldResults) == 0 && len(wantResults) == 0 {
		oldResults, wantResults = nil, nil
	}
	return oldSource == wantSource && oldScope == nil && oldSummary == wantSummary &&
		equality.Semantic.DeepEqual(oldResults, wantResults)
}

func mergeLabels(into, from map[string]string) map[string]string {
	if into == nil {
		into = map[string]string{}
	}
	for k, v := range from {
		into[k] = v
	}
	return into
}
