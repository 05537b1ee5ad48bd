package audit

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// Status of an Object in the inventory.
const (
	// StatusViolating is an object that breaks at least one rule.
	StatusViolating = "violating"
	// StatusCompliant is a HostProcess object that breaks no rule.
	StatusCompliant = "compliant"
	// StatusExempt is a HostProcess object in an exempt namespace: it is not evaluated.
	StatusExempt = "exempt"
)

// UnsetUser stands for a container without an effective runAsUserName.
const UnsetUser = "(unset)"

// Result is the outcome of one audit: the HostProcess inventory, with violations, and the
// summary counts.
type Result struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// GeneratedAt is when the audit ran.
	GeneratedAt time.Time `json:"generatedAt"`
	// Namespace is the namespace audited; empty for all namespaces.
	Namespace string `json:"namespace,omitempty"`
	// Objects are the HostProcess workloads and standalone HostProcess Pods, sorted by
	// namespace, kind and name.
	Objects []Object `json:"objects"`
	Summary Summary  `json:"summary"`
}

// ResultAPIVersion and ResultKind identify the JSON form of a Result.
const (
	ResultAPIVersion = "hostprocess.dev/v1alpha1"
	ResultKind       = "AuditResult"
)

// Object is one top-level HostProcess object: a workload whose pod template is a HostProcess
// pod, or a Pod without a workload owner.
type Object struct {
	Namespace  string    `json:"namespace"`
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid,omitempty"`
	// Owner is set on a Pod reported as itself although it has a controller, named as
	// Kind/name: one whose pod template cannot be evaluated (a Node for a static pod, a custom
	// resource), that no longer exists, or whose template is no longer a HostProcess pod.
	Owner string `json:"owner,omitempty"`
	// Status is violating, compliant or exempt.
	Status string `json:"status"`
	// Mode is the policy mode for the object (the pod mode or the workload mode); what
	// admission would do to it today.
	Mode string `json:"mode"`
	// PodSecurityEnforce is the namespace's pod-security.kubernetes.io/enforce level:
	// privileged, baseline or restricted; "unset" without the label, "invalid" when the label
	// holds something else.
	PodSecurityEnforce string `json:"podSecurityEnforce"`
	// RunAsUserNames are the distinct effective runAsUserName values of the HostProcess
	// containers, sorted; UnsetUser for a container without one.
	RunAsUserNames []string `json:"runAsUserNames"`
	// Images are the distinct container images, sorted.
	Images []string `json:"images"`
	// Nodes are the distinct nodes the object's HostProcess pods are bound to, sorted.
	Nodes []string `json:"nodes,omitempty"`
	// Pods are the HostProcess Pods grouped under a workload (empty for a Pod).
	Pods []PodRef `json:"pods,omitempty"`
	// Violations of the policy, in rule order; empty for exempt objects.
	Violations []policy.Violation `json:"violations,omitempty"`
	// Warnings are the policy's notes, such as fields that have no effect.
	Warnings []string `json:"warnings,omitempty"`
	// Exceptions are the active HostProcessExceptions the object is
	// admitted under: each spares it a violation.
	Exceptions []policy.AppliedException `json:"exceptions,omitempty"`
	// ExpiredExceptions are expired HostProcessExceptions that would spare
	// the object a violation it has: it outlived its grant.
	ExpiredExceptions []policy.AppliedException `json:"expiredExceptions,omitempty"`
}

// PodRef is a HostProcess Pod grouped under its top-level owner.
type PodRef struct {
	Name string `json:"name"`
	Node string `json:"node,omitempty"`
}

// Summary counts the inventory.
type Summary struct {
	// Scanned counts what was read.
	Scanned Scanned `json:"scanned"`
	// Objects is the number of HostProcess objects (len(Result.Objects)).
	Objects int `json:"objects"`
	// Violating, Compliant and Exempt count the objects by status.
	Violating int `json:"violating"`
	Compliant int `json:"compliant"`
	Exempt    int `json:"exempt"`
	// HostProcessPods is the number of HostProcess Pods, grouped or not.
	HostProcessPods int `json:"hostProcessPods"`
	// Violations is the number of violations of all objects.
	Violations int `json:"violations"`
	// ByUser counts, for each effective runAsUserName, the objects and pods that run as it.
	ByUser []UserCount `json:"byUser"`
	// ByNamespace counts the objects and violations of each namespace with HostProcess objects.
	ByNamespace []NamespaceCount `json:"byNamespace"`
	// ByRule counts, for each rule with violations, the objects breaking it and the violations.
	ByRule []RuleCount `json:"byRule"`
}

// Scanned counts the objects read.
type Scanned struct {
	Namespaces int `json:"namespaces"`
	Pods       int `json:"pods"`
	Workloads  int `json:"workloads"`
}

// UserCount is the use of one runAsUserName.
type UserCount struct {
	User string `json:"user"`
	// Objects is the number of objects with a container running as User.
	Objects int `json:"objects"`
	// Pods is the number of HostProcess Pods with a container running as User.
	Pods int `json:"pods"`
}

// NamespaceCount summarises one namespace.
type NamespaceCount struct {
	Namespace  string `json:"namespace"`
	Objects    int    `json:"objects"`
	Violating  int    `json:"violating"`
	Violations int    `json:"violations"`
	Exempt     bool   `json:"exempt,omitempty"`
}

// RuleCount summarises one rule.
type RuleCount struct {
	Rule       string `json:"rule"`
	Objects    int    `json:"objects"`
	Violations int    `json:"violations"`
}

// HasViolations reports whether any object breaks a rule.
func (r *Result) HasViolations() bool { return r.Summary.Violating > 0 }

// hasWarnings reports whether any object has a policy warning.
func (r *Result) hasWarnings() bool {
	for i := range r.Objects {
		if len(r.Objects[i].Warnings) > 0 {
			return true
		}
	}
	return false
}
