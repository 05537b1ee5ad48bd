package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// DefaultChunkSize is how many objects one list request returns.
const DefaultChunkSize = 500

// PermissionsHint says what the audit may read; it ends every permission error.
const PermissionsHint = `the audit needs get and list on namespaces, pods, replicationcontrollers and podtemplates, ` +
	`on deployments, replicasets, statefulsets and daemonsets (apps), and on jobs and cronjobs (batch); ` +
	`see "Permissions" in docs/audit.md`

// CollectOptions configure Collect.
type CollectOptions struct {
	// Namespace limits the audit to one namespace; empty means all namespaces.
	Namespace string
	// ChunkSize is the page size of list requests; DefaultChunkSize when 0.
	ChunkSize int64
	// Progress, when set, receives a progress line while the audit runs longer than
	// ProgressAfter, at most every ProgressEvery (defaults 1s and 2s).
	Progress io.Writer
	// ProgressTTY rewrites the progress line in place (Progress is a terminal) and clears it
	// at the end, instead of writing one line each time.
	ProgressTTY   bool
	ProgressAfter time.Duration
	ProgressEvery time.Duration
	// Now returns the time recorded in the result; time.Now when nil.
	Now func() time.Time
}

// Collect reads the namespaces, workloads and Pods of the cluster with paginated lists, so
// that only one page of objects is held at a time, and evaluates them under p.
func Collect(ctx context.Context, cs Clients, p *policy.Policy, o CollectOptions) (*Result, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	s := NewScanner(p)
	if err := collectInto(ctx, cs, s, o); err != nil {
		return nil, err
	}
	res := s.Result()
	res.Namespace = o.Namespace
	res.GeneratedAt = now().UTC().Truncate(time.Second)
	return res, nil
}

// collectInto feeds the namespaces, workloads (in the order of WorkloadKinds) and Pods that
// paginated lists return to s, one page at a time.
func collectInto(ctx context.Context, cs Clients, s *Scanner, o CollectOptions) error {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	prog := newProgress(o)
	defer prog.done()
	where := "in all namespaces"
	if o.Namespace != "" {
		where = "in namespace " + o.Namespace
		ns, err := cs.CoreV1().Namespaces().Get(ctx, o.Namespace, metav1.GetOptions{})
		if err != nil {
			return readError(err, "reading namespace "+o.Namespace)
		}
		s.AddNamespace(ns.Name, ns.Labels, ns.DeletionTimestamp != nil)
	} else {
		err := eachPage(ctx, o.ChunkSize, func(opts metav1.ListOptions) (string, error) {
			list, err := cs.CoreV1().Namespaces().List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range list.Items {
				ns := &list.Items[i]
				s.AddNamespace(ns.Name, ns.Labels, ns.DeletionTimestamp != nil)
			}
			prog.add("namespaces", len(list.Items))
			return list.Continue, nil
		})
		if err != nil {
			return readError(err, "listing namespaces")
		}
	}
	for _, l := range listers(cs, o.Namespace) {
		err := eachPage(ctx, o.ChunkSize, func(opts metav1.ListOptions) (string, error) {
			items, cont, err := l.list(ctx, opts)
			if err != nil {
				return "", err
			}
			for _, obj := range items {
				if l.resource == "pods" {
					s.AddPod(obj.(*corev1.Pod))
				} else if err := s.AddWorkload(obj); err != nil {
					return "", err
				}
			}
			if l.resource == "pods" {
				prog.add("pods", len(items))
			} else {
				prog.add("workloads", len(items))
			}
			return cont, nil
		})
		if err != nil {
			return readError(err, "listing "+l.resource+" "+where)
		}
	}
	return nil
}

// eachPage calls list with Limit and Continue until the last page.
func eachPage(ctx context.Context, limit int64, list func(metav1.ListOptions) (string, error)) error {
	opts := metav1.ListOptions{Limit: limit}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cont, err := list(opts)
		if err != nil {
			return err
		}
		if cont == "" {
			return nil
		}
		opts.Continue = cont
	}
}

// readError says what failed in terms of the audit: a denied read names the permissions the
// audit needs, and an error that is no API status says the API server could not be reached.
func readError(err error, what string) error {
	var status apierrors.APIStatus
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return &AccessError{What: what, Err: err}
	case apierrors.IsResourceExpired(err):
		return fmt.Errorf("%s: the list expired while it was read page by page (the cluster changed too much); run the audit again: %w", what, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case errors.As(err, &status):
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("cannot reach the API server: %s: %w", what, err)
}

// AccessError is a read that the API server refused.
type AccessError struct {
	What string
	Err  error
}

func (e *AccessError) Error() string {
	msg := e.Err.Error()
	if apierrors.IsUnauthorized(e.Err) {
		return fmt.Sprintf("%s: not authenticated: %s (check the credentials in the kubeconfig)", e.What, msg)
	}
	return fmt.Sprintf("%s: %s (%s)", e.What, strings.TrimSuffix(msg, "."), PermissionsHint)
}

func (e *AccessError) Unwrap() error { return e.Err }
