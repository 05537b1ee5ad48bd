// Package config holds the hostprocess.dev/v1alpha1 AdmissionConfiguration: the
// user-facing, versioned configuration of the admission webhook, the check
// command, the audit scanner and the node executor.
package config

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// APIVersion is the only configuration version this build understands.
	APIVersion = "hostprocess.dev/v1alpha1"
	// Kind is the configuration kind.
	Kind = "AdmissionConfiguration"
)

// Mode says what happens to an object that violates the policy.
type Mode string

const (
	// ModeEnforce denies violating objects.
	ModeEnforce Mode = "enforce"
	// ModeWarn admits violating objects with one admission warning per violation.
	ModeWarn Mode = "warn"
	// ModeAudit admits violating objects silently; violations are still recorded.
	ModeAudit Mode = "audit"
)

// AdmissionConfiguration is the whole configuration file.
type AdmissionConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	// Mode applies to Pods. Default enforce.
	Mode Mode `json:"mode,omitempty"`
	// WorkloadMode applies to the pod templates of workloads. Default warn.
	WorkloadMode Mode `json:"workloadMode,omitempty"`
	// AllowedUsers are the runAsUserName values a HostProcess container may use.
	// Default, when absent (nil): NT AUTHORITY\SYSTEM, NT AUTHORITY\Local service,
	// NT AUTHORITY\NetworkService. An explicit empty list allows no users, and
	// survives marshaling (no omitempty), so it never turns back into the default.
	AllowedUsers []string `json:"allowedUsers"`
	// AllowedLocalGroups are local user group names allowed as runAsUserName.
	// Built-in groups with administrative rights are refused.
	AllowedLocalGroups []string `json:"allowedLocalGroups,omitempty"`
	// NamespaceRules, when not empty, restrict HostProcess pods to the namespaces
	// they match; the first matching rule's users, groups and images apply.
	NamespaceRules []NamespaceRule `json:"namespaceRules,omitempty"`
	// Exemptions skip evaluation.
	Exemptions Exemptions `json:"exemptions"`
	// Defaults configures the mutating webhook.
	Defaults Defaults `json:"defaults"`
	// Audit configures the background audit that writes reports.
	Audit Audit `json:"audit"`
	// Exceptions configures HostProcessException objects.
	Exceptions Exceptions `json:"exceptions"`
}

// NamespaceRule selects namespaces by name and/or labels and narrows what
// HostProcess pods in them may use.
type NamespaceRule struct {
	// Namespaces are namespace names this rule matches.
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector matches namespaces by label. A namespace matches the rule
	// when its name is listed or the selector matches its labels.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// AllowedUsers, when set, replaces the top-level allowedUsers for these
	// namespaces. Every entry must also be in the top-level list.
	AllowedUsers []string `json:"allowedUsers,omitempty"`
	// AllowedLocalGroups, when set, replaces the top-level allowedLocalGroups for
	// these namespaces. Every entry must also be in the top-level list.
	AllowedLocalGroups []string `json:"allowedLocalGroups,omitempty"`
	// AllowedImages, when set, are patterns every container image must match.
	// '*' matches any sequence of characters, '/' included; everything else is
	// literal. An explicit empty list is a validation error.
	AllowedImages []string `json:"allowedImages,omitempty"`
}

// Exemptions list requests that are not evaluated.
type Exemptions struct {
	// Namespaces whose objects are not evaluated.
	Namespaces []string `json:"namespaces,omitempty"`
	// Usernames of requesting users whose requests are not evaluated.
	Usernames []string `json:"usernames,omitempty"`
}

// Defaults configures what the mutating webhook adds to HostProcess pods.
type Defaults struct {
	// NodeSelector adds nodeSelector kubernetes.io/os=windows when scheduling does
	// not already constrain kubernetes.io/os. Default true.
	NodeSelector *bool `json:"nodeSelector,omitempty"`
	// Tolerations are added to HostProcess pods that lack them.
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// LocalGroupNodeAffinity makes pods whose runAsUserName is an allowed local
	// group require nodes labelled hostprocess.dev/local-groups-ready=true.
	LocalGroupNodeAffinity bool `json:"localGroupNodeAffinity,omitempty"`
	// WorkloadTemplates applies NodeSelector and Tolerations to the pod
	// templates of the workload kinds on CREATE too, so that a DaemonSet's
	// controller places its pods on the Windows nodes. Default false.
	WorkloadTemplates bool `json:"workloadTemplates,omitempty"`
}

// Audit configures the background audit in serve.
type Audit struct {
	// Enabled turns the background audit on. Default true.
	Enabled *bool `json:"enabled,omitempty"`
	// Interval between audit passes. Default 5m.
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// Exceptions configures HostProcessException objects (docs/exceptions.md).
type Exceptions struct {
	// MaxLifetime is the longest a HostProcessException may last: its
	// expiresAt is at most this long after its creation. Default 24h.
	MaxLifetime *metav1.Duration `json:"maxLifetime,omitempty"`
}
