package audit

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// lister lists one page of one resource.
type lister struct {
	resource string
	list     func(ctx context.Context, opts metav1.ListOptions) ([]client.Object, string, error)
}

// listers returns a lister for each of WorkloadKinds, in that order, then for Pods.
func listers(cs Clients, ns string) []lister {
	apps, batch, core := cs.AppsV1(), cs.BatchV1(), cs.CoreV1()
	return []lister{
		{"deployments", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := apps.Deployments(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"cronjobs", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := batch.CronJobs(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"statefulsets", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := apps.StatefulSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"daemonsets", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := apps.DaemonSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"replicationcontrollers", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := core.ReplicationControllers(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"podtemplates", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := core.PodTemplates(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"replicasets", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := apps.ReplicaSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"jobs", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := batch.Jobs(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
		{"pods", func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			l, err := core.Pods(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return ptrs(l.Items), l.Continue, nil
		}},
	}
}

// ptrs returns pointers to the items of a list, as client.Objects.
func ptrs[T any, PT interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}
