package policy

// PodTarget is the Container value of a violation that concerns the pod as a
// whole rather than one container.
const PodTarget = "pod"

// Violation is one broken rule.
type Violation struct {
	// Rule is the stable rule ID.
	Rule string `json:"rule"`
	// Container is the container name, or "pod".
	Container string `json:"container"`
	// Field is the full field path in the object, e.g.
	// spec.template.spec.containers[0].securityContext.windowsOptions.runAsUserName.
	Field string `json:"field"`
	// Message is the human-readable message, naming the container and field
	// and saying what is allowed.
	Message string `json:"message"`
}

// Result is the outcome of evaluating one pod spec.
type Result struct {
	// HostProcess is true when the pod is a HostProcess pod. When false, the pod
	// is outside the policy and Violations is empty.
	HostProcess bool
	// Violations lists every violation, in rule order, then container order.
	Violations []Violation
	// Warnings are notes that do not affect the verdict, such as fields that
	// have no effect on HostProcess containers.
	Warnings []string
	// Exceptions are the HostProcessExceptions under which the pod was
	// evaluated: each spared it at least one violation (exception.go).
	Exceptions []AppliedException
	// ExpiredExceptions are the expired HostProcessExceptions that select
	// the pod and would spare it a violation that it still has.
	ExpiredExceptions []AppliedException
}

// Allowed reports whether the pod has no violations.
func (r *Result) Allowed() bool { return len(r.Violations) == 0 }
