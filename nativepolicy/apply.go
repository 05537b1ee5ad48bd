package nativepolicy

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	admissionregistrationv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
)

// Apply creates the policies and bindings of p, or updates the ones that
// exist, policies before their bindings (what kubectl apply of the rendered
// YAML does). hack/bench and the tests use it.
func Apply(ctx context.Context, c admissionregistrationv1client.AdmissionregistrationV1Interface, p *Policies) error {
	for i := range p.Validating {
		if err := upsert(ctx, c.ValidatingAdmissionPolicies(), p.Validating[i].DeepCopy()); err != nil {
			return err
		}
		if err := upsert(ctx, c.ValidatingAdmissionPolicyBindings(), p.ValidatingBindings[i].DeepCopy()); err != nil {
			return err
		}
	}
	for i := range p.Mutating {
		if err := upsert(ctx, c.MutatingAdmissionPolicies(), p.Mutating[i].DeepCopy()); err != nil {
			return err
		}
		if err := upsert(ctx, c.MutatingAdmissionPolicyBindings(), p.MutatingBindings[i].DeepCopy()); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the policies and bindings of p; absent ones are not an error.
func Delete(ctx context.Context, c admissionregistrationv1client.AdmissionregistrationV1Interface, p *Policies) error {
	del := func(kind, name string, f func(context.Context, string, metav1.DeleteOptions) error) error {
		if err := f(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s %s: %w", kind, name, err)
		}
		return nil
	}
	for i := range p.Validating {
		if err := del("ValidatingAdmissionPolicyBinding", p.ValidatingBindings[i].Name, c.ValidatingAdmissionPolicyBindings().Delete); err != nil {
			return err
		}
		if err := del("ValidatingAdmissionPolicy", p.Validating[i].Name, c.ValidatingAdmissionPolicies().Delete); err != nil {
			return err
		}
	}
	for i := range p.Mutating {
		if err := del("MutatingAdmissionPolicyBinding", p.MutatingBindings[i].Name, c.MutatingAdmissionPolicyBindings().Delete); err != nil {
			return err
		}
		if err := del("MutatingAdmissionPolicy", p.Mutating[i].Name, c.MutatingAdmissionPolicies().Delete); err != nil {
			return err
		}
	}
	return nil
}

// object is an admission policy or binding.
type object[T any] interface {
	*T
	GetName() string
	GetResourceVersion() string
	SetResourceVersion(string)
}

// client is the part of a typed client that upsert uses.
type client[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*T, error)
	Create(ctx context.Context, obj *T, opts metav1.CreateOptions) (*T, error)
	Update(ctx context.Context, obj *T, opts metav1.UpdateOptions) (*T, error)
}

func upsert[T any, P object[T]](ctx context.Context, c client[T], obj P) error {
	old, err := c.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.Create(ctx, (*T)(obj), metav1.CreateOptions{})
	case err == nil:
		obj.SetResourceVersion(P(old).GetResourceVersion())
		_, err = c.Update(ctx, (*T)(obj), metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("applying %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}
