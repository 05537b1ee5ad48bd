package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// DefaultInterval is the time between passes when the configuration does not say.
const DefaultInterval = 5 * time.Minute

// Background is the background audit: a manager.Runnable that, on the elected leader only,
// evaluates every Pod and workload in the manager's informer cache at the configured
// interval, sets the audit metrics, and writes one OpenReports Report per namespace with
// HostProcess objects and a ClusterReport summary. A report is written only when its content
// changed; reports of namespaces without HostProcess objects (or being deleted) are deleted.
//
// The configuration is read before every pass, so a reloaded audit.enabled or
// audit.interval applies from the next pass. While disabled, no pass runs, the reports
// are left as they were, and until the first enabled pass nothing is watched.
type Background struct {
	cache  cache.Cache
	client client.Client
	policy func() *policy.Policy
	m      *metrics
	log    logr.Logger
	now    func() time.Time

	crdsMissing bool
}

var _ manager.LeaderElectionRunnable = (*Background)(nil)

// NewBackground returns the background audit for mgr. Add it with mgr.Add. The manager's
// cache should be configured with CacheByObject; its scheme needs the built-in kinds only
// (reports are written with a client of the audit's own scheme). The metrics are registered
// with reg.
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
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("audit: registering metrics: %w", err)
	}
	return &Background{cache: mgr.GetCache(), client: c, policy: pol, m: m, log: log, now: time.Now}, nil
}

// NeedLeaderElection makes only the elected replica run the audit and write reports.
func (b *Background) NeedLeaderElection() bool { return true }

// Start watches the Pods and workloads (the informers start here, on the leader, so that
// other replicas hold no such cache), waits for the cache, then runs a pass every interval
// until ctx ends. While the audit is disabled nothing is watched: the informers start with
// the first pass, since a watch of every Pod costs the API server and serve something for
// every Pod event in the cluster.
func (b *Background) Start(ctx context.Context) error {
	watching := false
	for {
		p := b.policy()
		interval := auditInterval(p.Config())
		if auditEnabled(p.Config()) {
			if !watching {
				if err := b.watch(ctx); err != nil || ctx.Err() != nil {
					return err
				}
				watching = true
				b.log.Info("background audit started")
			}
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

// watch starts the informers of the audited kinds and waits for their first lists.
func (b *Background) watch(ctx context.Context) error {
	for _, obj := range append(watchedObjects(), namespaceMetadata()) {
		if _, err := b.cache.GetInformer(ctx, obj); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("audit: watching %T: %w", obj, err)
		}
	}
	b.cache.WaitForCacheSync(ctx)
	return nil
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

// namespaceMetadata is the metadata-only Namespace the cache holds (as serve's namespace
// lookups do), which is all the audit needs: labels and the deletion timestamp.
func namespaceMetadata() *metav1.PartialObjectMetadata {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return obj
}

// RunOnce runs one pass: it reads the cache, sets the metrics and writes the reports. The
// cache must have synced (Start does that), and RunOnce must not run concurrently with Start.
func (b *Background) RunOnce(ctx context.Context) error {
	start := b.now()
	s := NewScanner(b.policy())
	if err := b.scan(ctx, s); err != nil {
		return err
	}
	res := s.Result()
	res.GeneratedAt = start.UTC()
	err := b.writeReports(ctx, res)
	finished := b.now()
	b.m.record(res, s.podUsers, finished, finished.Sub(start))
	b.log.V(1).Info("audit pass", "objects", res.Summary.Objects, "violating", res.Summary.Violating,
		"pods", res.Summary.Scanned.Pods, "took", finished.Sub(start).String())
	return err
}

// scan feeds the cache's namespaces, workloads (in the order of WorkloadKinds) and Pods to s.
// The objects are not copied: the scanner only reads them.
func (b *Background) scan(ctx context.Context, s *Scanner) error {
	nsList := &metav1.PartialObjectMetadataList{}
	nsList.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := b.cache.List(ctx, nsList, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing namespaces from the cache: %w", err)
	}
	for i := range nsList.Items {
		ns := &nsList.Items[i]
		s.AddNamespace(ns.Name, ns.Labels, ns.DeletionTimestamp != nil)
	}
	lists := []struct {
		list  client.ObjectList
		items func(client.ObjectList) []client.Object
	}{
		{&appsv1.DeploymentList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*appsv1.DeploymentList).Items) }},
		{&batchv1.CronJobList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*batchv1.CronJobList).Items) }},
		{&appsv1.StatefulSetList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*appsv1.StatefulSetList).Items) }},
		{&appsv1.DaemonSetList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*appsv1.DaemonSetList).Items) }},
		{&corev1.ReplicationControllerList{}, func(l client.ObjectList) []client.Object {
			return ptrs(l.(*corev1.ReplicationControllerList).Items)
		}},
		{&corev1.PodTemplateList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*corev1.PodTemplateList).Items) }},
		{&appsv1.ReplicaSetList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*appsv1.ReplicaSetList).Items) }},
		{&batchv1.JobList{}, func(l client.ObjectList) []client.Object { return ptrs(l.(*batchv1.JobList).Items) }},
	}
	for _, l := range lists {
		if err := b.cache.List(ctx, l.list, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("listing %T from the cache: %w", l.list, err)
		}
		for _, obj := range l.items(l.list) {
			if err := s.AddWorkload(obj); err != nil {
				return err
			}
		}
	}
	pods := &corev1.PodList{}
	if err := b.cache.List(ctx, pods, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing pods from the cache: %w", err)
	}
	for i := range pods.Items {
		s.AddPod(&pods.Items[i])
	}
	return nil
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
