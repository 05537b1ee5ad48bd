// Package leader runs work on one replica at a time, elected through a
// coordination.k8s.io Lease, without ever ending the process.
//
// controller-runtime's manager exits when its leader loses the lease, which
// is right for a controller but wrong for an admission webhook: an API
// server outage of a few seconds would take the elected replica, and with
// it half of the webhook's capacity, down while the other replicas keep
// answering from their caches. Here, losing the lease only stops the work;
// the replica keeps serving and campaigns again.
package leader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Timings are the lease timings; the defaults are controller-runtime's.
type Timings struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultTimings are controller-runtime's defaults.
var DefaultTimings = Timings{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// Elected is a manager.Runnable that runs Work while this replica holds the
// Lease Namespace/Name and campaigns again whenever it loses it.
type Elected struct {
	Lock    resourcelock.Interface
	Timings Timings
	Log     logr.Logger
	// Work runs while the lease is held; its context ends when the lease is
	// lost or the process stops. It is never run twice at once.
	Work func(ctx context.Context) error
}

// NewLeaseLock returns a Lease lock for namespace/name with a unique
// identity (host name and a random suffix). An empty namespace means the
// pod's own, from its service account.
func NewLeaseLock(cfg *rest.Config, namespace, name string) (resourcelock.Interface, error) {
	if namespace == "" {
		data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return nil, errors.New("--leader-election-namespace is required when not running in a pod")
		}
		namespace = strings.TrimSpace(string(data))
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	c, err := coordinationv1client.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, err
	}
	return &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     c,
		LockConfig: resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())},
	}, nil
}

// NeedLeaderElection is false: the election is this runnable's own.
func (e *Elected) NeedLeaderElection() bool { return false }

// Start campaigns until ctx ends.
func (e *Elected) Start(ctx context.Context) error {
	t := e.Timings
	if t == (Timings{}) {
		t = DefaultTimings
	}
	// Work holds working while it runs, so that a new term's work waits for
	// the last one's to end.
	var working sync.Mutex
	defer func() { working.Lock(); working.Unlock() }()
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            e.Lock,
			LeaseDuration:   t.LeaseDuration,
			RenewDeadline:   t.RenewDeadline,
			RetryPeriod:     t.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            e.Lock.Describe(),
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					working.Lock()
					defer working.Unlock()
					if ctx.Err() != nil {
						return
					}
					e.Log.Info("became the leader", "lease", e.Lock.Describe(), "identity", e.Lock.Identity())
					if err := e.Work(ctx); err != nil && ctx.Err() == nil {
						e.Log.Error(err, "leader work failed")
					}
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return err
		}
		// Run returns when the lease is lost (or ctx ends), cancelling the
		// work's context.
		le.Run(ctx)
		if ctx.Err() == nil {
			e.Log.Info("lost the lease; the work stopped and this replica campaigns again", "lease", e.Lock.Describe())
		}
	}
	return nil
}
