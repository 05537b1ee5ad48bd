package audit

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// lister lists one page of one resource.
type lister struct {
	resource string
	list     func(ctx context.Context, opts metav1.ListOptions) ([]client.Object, string, error)
}

// listers returns a lister for each kind of policy.Kinds: the WorkloadKinds, in that order,
// then Pods.
func listers(cs Clients, ns string) []lister {
	groups := map[string]func() rest.Interface{
		"":      func() rest.Interface { return cs.CoreV1().RESTClient() },
		"apps":  func() rest.Interface { return cs.AppsV1().RESTClient() },
		"batch": func() rest.Interface { return cs.BatchV1().RESTClient() },
	}
	out := make([]lister, 0, len(policy.Kinds))
	for _, k := range policy.Kinds {
		rc := groups[k.Group]
		out = append(out, lister{k.Resource, func(ctx context.Context, o metav1.ListOptions) ([]client.Object, string, error) {
			if rc == nil {
				return nil, "", fmt.Errorf("audit: no client for API group %q", k.Group)
			}
			list := k.NewList()
			err := rc().Get().NamespaceIfScoped(ns, ns != "").Resource(k.Resource).
				VersionedParams(&o, scheme.ParameterCodec).Do(ctx).Into(list)
			if err != nil {
				return nil, "", err
			}
			items, err := meta.ExtractList(list)
			if err != nil {
				return nil, "", err
			}
			objs := make([]client.Object, len(items))
			for i, item := range items {
				objs[i] = item.(client.Object)
			}
			l, _ := meta.ListAccessor(list)
			return objs, l.GetContinue(), nil
		}})
	}
	return out
}
