// Package policy evaluates the HostProcess admission policy of
// ../shared/spec/hostprocess-policy.md: pod spec in, violations and defaults
// out. It does no I/O and knows nothing about HTTP or AdmissionReview; the
// webhook, the check command and the audit scanner all call it.
//
// Each rule lives in its own rule_<id>.go file. Inheritance of Windows
// security fields from pod level is resolved in exactly one place: resolve in
// visitor.go.
package policy
