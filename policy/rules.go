package policy

// Severity grades a broken rule in the audit's reports. An unexpected
// account, a namespace where HostProcess pods are not allowed, or an image
// from outside the allowed registries each hand the node to something
// unvetted (high); the other rules concern how the pod is scheduled and
// described.
type Severity string

const (
	SeverityHigh   Severity = "high"
	SeverityMedium Severity = "medium"
	SeverityLow    Severity = "low"
)

// Rule is one rule of the policy.
type Rule struct {
	// ID is the rule's stable ID (the constant in its policy/rule_<id>.go).
	ID       string
	Severity Severity
	check    func(*evaluation)
}

// RuleTable lists every rule in evaluation order. Adding a rule is one
// policy/rule_<id>.go file, its CEL builder nativepolicy/rule_<id>.go and
// one row here (docs/policy.md, "Adding a rule").
var RuleTable = []Rule{
	{RuleHostProcessMixed, SeverityMedium, checkHostProcessMixed},
	{RuleHostNetwork, SeverityMedium, checkHostNetwork},
	{RuleRunAsUserName, SeverityHigh, checkRunAsUserName},
	{RuleInheritUser, SeverityHigh, checkInheritUser},
	{RuleRunAsNonRoot, SeverityMedium, checkRunAsNonRoot},
	{RuleWindowsOS, SeverityLow, checkWindowsOS},
	{RuleNamespace, SeverityHigh, checkNamespace},
	{RuleImage, SeverityHigh, checkImage},
}

// Rules lists every rule ID in evaluation order.
var Rules = func() []string {
	ids := make([]string, len(RuleTable))
	for i, r := range RuleTable {
		ids[i] = r.ID
	}
	return ids
}()

// SeverityOf returns the severity of rule id, medium for an unknown ID.
func SeverityOf(id string) Severity {
	for _, r := range RuleTable {
		if r.ID == id {
			return r.Severity
		}
	}
	return SeverityMedium
}
