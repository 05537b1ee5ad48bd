//go:build !windows

package leader

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// TestElectedSurvivesALostLease runs the election against a real API server:
// the work starts on the leader, stops when another holder takes the lease,
// starts again once that holder lets it expire, and Start only returns when
// its context ends, releasing the lease.
func TestElectedSurvivesALostLease(t *testing.T) {
	env := testenv.Start(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const ns, name = "leader-test", "hostprocess-admission"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lock, err := NewLeaseLock(env.Config, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	started, stopped := make(chan struct{}, 10), make(chan struct{}, 10)
	e := &Elected{Lock: lock, Log: testr.New(t),
		Timings: Timings{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 250 * time.Millisecond},
		Work: func(ctx context.Context) error {
			started <- struct{}{}
			<-ctx.Done()
			stopped <- struct{}{}
			return nil
		}}
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case err := <-done:
			t.Fatalf("Start returned (%v) while waiting for the work to %s", err, what)
		case <-time.After(30 * time.Second):
			t.Fatalf("the work did not %s within 30s", what)
		}
	}
	wait(started, "start")
	leases := cs.CoordinationV1().Leases(ns)
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != lock.Identity() {
		t.Fatalf("lease holder %q, want this replica %q", got, lock.Identity())
	}

	// Another holder takes the lease, as after a partition; it never renews.
	steal := func(l *coordinationv1.Lease) {
		l.Spec.HolderIdentity = ptr.To("thief")
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		l.Spec.AcquireTime = l.Spec.RenewTime
		l.Spec.LeaseDurationSeconds = ptr.To[int32](3)
	}
	// The holder renews every RetryPeriod, so read and write again on a
	// conflict.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		steal(l)
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wait(stopped, "stop after the lease was lost")
	wait(started, "start again once the stolen lease expired")
	if got := len(started) + len(stopped); got != 0 {
		t.Fatalf("%d unexpected starts or stops", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
	if len(stopped) != 1 {
		t.Fatalf("the work stopped %d times at shutdown, want 1", len(stopped))
	}
	lease, err = cs.CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != "" {
		t.Fatalf("lease still held by %q after shutdown, want it released", got)
	}
}
