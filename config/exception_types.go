package config

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The HostProcessException API: a cluster-scoped object that grants, for a
// limited time, what the configuration does not allow to chosen pods
// (docs/exceptions.md). It is served by the CRD in the chart
// (charts/hostprocess-admission/files/crds/hostprocess.dev_hostprocessexceptions.yaml).
const (
	// ExceptionKind is the kind of the exception object.
	ExceptionKind = "HostProcessException"
	// ExceptionResource is its resource name.
	ExceptionResource = "hostprocessexceptions"
	// Group is the API group of the project's objects.
	Group = "hostprocess.dev"
	// CreatedByAnnotation records the user who created an exception. The
	// admission webhook (or, in native mode, the generated policies) sets and
	// checks it; nobody can change it afterwards.
	CreatedByAnnotation = "hostprocess.dev/created-by"
)

// GroupVersion is hostprocess.dev/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

// AddExceptionsToScheme registers HostProcessException and its list.
func AddExceptionsToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &HostProcessException{}, &HostProcessExceptionList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// HostProcessException grants chosen HostProcess pods, until ExpiresAt,
// accounts, local groups, images or the inherit-user annotation that the
// configuration does not allow. It never relaxes the rules hostNetwork,
// hostProcessMixed, runAsNonRoot and windowsOS.
type HostProcessException struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ExceptionSpec `json:"spec"`
}

// ExceptionSpec says which pods the exception applies to, what it grants,
// until when and why.
type ExceptionSpec struct {
	// Namespaces the exception applies in, by name. At least one.
	Namespaces []string `json:"namespaces"`
	// Pods narrows the pods of those namespaces; every field set must match.
	// Absent: every HostProcess pod of the namespaces.
	Pods *ExceptionPods `json:"pods,omitempty"`
	// Grants is what the exception allows beyond the configuration.
	Grants ExceptionGrants `json:"grants"`
	// ExpiresAt is when the exception stops applying: it applies only while
	// the current time is before it. At most exceptions.maxLifetime after the
	// exception's creation.
	ExpiresAt metav1.Time `json:"expiresAt"`
	// Reason says why the exception exists, for whoever reads the reports.
	Reason string `json:"reason"`
	// Ticket optionally refers to the change or incident that approved it.
	Ticket string `json:"ticket,omitempty"`
}

// ExceptionPods selects pods in the exception's namespaces.
type ExceptionPods struct {
	// NamePrefix matches pods whose name starts with it. For a workload's
	// pod template it is matched against the workload's name, which starts
	// the name of every pod the workload creates.
	NamePrefix string `json:"namePrefix,omitempty"`
	// ServiceAccountName matches pods that run as this service account
	// ("default" when the pod sets none).
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Selector matches the pods' labels (a workload's template labels).
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ExceptionGrants is what an exception allows beyond the configuration.
type ExceptionGrants struct {
	// Accounts are runAsUserName values allowed in addition to the allowed
	// users of the pod's scope. Refused as in allowedUsers: administrative
	// groups and names Windows cannot accept.
	Accounts []string `json:"accounts,omitempty"`
	// LocalGroups are local group names allowed in addition, refused as in
	// allowedLocalGroups.
	LocalGroups []string `json:"localGroups,omitempty"`
	// Images are image patterns allowed in addition to the allowedImages of
	// the pod's namespace rule, in the same syntax.
	Images []string `json:"images,omitempty"`
	// InheritUser allows the annotation microsoft.com/hostprocess-inherit-user,
	// which makes every container run as NT AUTHORITY\SYSTEM.
	InheritUser bool `json:"inheritUser,omitempty"`
}

// HostProcessExceptionList is a list of exceptions.
type HostProcessExceptionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []HostProcessException `json:"items"`
}

// DeepCopyObject implements runtime.Object.
func (e *HostProcessException) DeepCopyObject() runtime.Object { return e.DeepCopy() }

// DeepCopy returns a copy of e that shares nothing with it.
func (e *HostProcessException) DeepCopy() *HostProcessException {
	if e == nil {
		return nil
	}
	out := &HostProcessException{TypeMeta: e.TypeMeta}
	e.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = e.Spec
	out.Spec.Namespaces = append([]string(nil), e.Spec.Namespaces...)
	if e.Spec.Pods != nil {
		p := *e.Spec.Pods
		p.Selector = e.Spec.Pods.Selector.DeepCopy()
		out.Spec.Pods = &p
	}
	g := &out.Spec.Grants
	g.Accounts = append([]string(nil), e.Spec.Grants.Accounts...)
	g.LocalGroups = append([]string(nil), e.Spec.Grants.LocalGroups...)
	g.Images = append([]string(nil), e.Spec.Grants.Images...)
	e.Spec.ExpiresAt.DeepCopyInto(&out.Spec.ExpiresAt)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *HostProcessExceptionList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &HostProcessExceptionList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]HostProcessException, len(l.Items))
		for i := range l.Items {
			out.Items[i] = *l.Items[i].DeepCopy()
		}
	}
	return out
}
