package audit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// Names used in the reports.
const (
	// ReportName is the name of the Report in each namespace and of the ClusterReport.
	ReportName = "hostprocess-admission"
	// ReportSource is the source of the reports and their results.
	ReportSource = "hostprocess-admission"
	// ReportPolicy is the policy name of every result.
	ReportPolicy = "hostprocess"
	// ReportCategory is the category of every result.
	ReportCategory = "Windows HostProcess"
	// RuleHostProcess is the rule of the result of a HostProcess object that breaks no rule
	// (pass) or is exempt (skip).
	RuleHostProcess = "hostProcess"
	// RuleNamespaceSummary is the rule of the ClusterReport's one result per namespace.
	RuleNamespaceSummary = "namespaceSummary"
	// RuleWarnings is the rule of an object's "warn" result: the policy's
	// warnings, such as a runAsUserName the runtime will fail to log on.
	RuleWarnings = "warnings"
	// RuleExceptionExpired is the rule of the "fail" result of an object
	// still running after the HostProcessException that admitted it expired.
	RuleExceptionExpired = "exceptionExpired"
	// ManagedByLabel marks the reports the background audit owns; it deletes those no longer
	// needed and never touches others.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "hostprocess-admission"
)

// severity is the report's severity of a broken rule (policy.RuleTable).
func severity(rule string) openreports.ResultSeverity {
	return openreports.ResultSeverity(policy.SeverityOf(rule))
}

// namespaceReports returns the desired Report of each namespace with HostProcess objects,
// without timestamps.
func namespaceReports(res *Result) map[string]*openreports.Report {
	out := map[string]*openreports.Report{}
	for i := range res.Objects {
		o := &res.Objects[i]
		r := out[o.Namespace]
		if r == nil {
			r = &openreports.Report{
				ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: o.Namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
				Source:     ReportSource,
			}
			out[o.Namespace] = r
		}
		r.Results = append(r.Results, objectResults(o)...)
	}
	for _, r := range out {
		r.Summary = summarize(r.Results)
	}
	return out
}

// objectResults are an object's results: one fail per broken rule, naming every container
// and field that breaks it; else one pass, or one skip in an exempt namespace.
func objectResults(o *Object) []openreports.ReportResult {
	base := openreports.ReportResult{
		Source:   ReportSource,
		Policy:   ReportPolicy,
		Category: ReportCategory,
		Subjects: []corev1.ObjectReference{{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, UID: o.UID}},
		Properties: map[string]string{
			"mode":               o.Mode,
			"runAsUserNames":     strings.Join(o.RunAsUserNames, ", "),
			"images":             strings.Join(o.Images, ", "),
			"podSecurityEnforce": o.PodSecurityEnforce,
			"hostProcessPods":    strconv.Itoa(o.podCount()),
		},
	}
	if len(o.Nodes) > 0 {
		base.Properties["nodes"] = strings.Join(o.Nodes, ", ")
	}
	if o.Owner != "" {
		base.Properties["owner"] = o.Owner
	}
	if len(o.Exceptions) > 0 {
		base.Properties["exceptions"] = exceptionList(o.Exceptions, "expires")
	}
	var warn []openreports.ReportResult
	if len(o.Warnings) > 0 {
		r := base
		r.Properties = make(map[string]string, len(base.Properties))
		for k, v := range base.Properties {
			r.Properties[k] = v
		}
		r.Rule, r.Result, r.Severity = RuleWarnings, "warn", "low"
		r.Description = strings.Join(o.Warnings, "; ")
		warn = append(warn, r)
	}
	switch o.Status {
	case StatusExempt:
		r := base
		r.Rule, r.Result, r.Severity = RuleHostProcess, "skip", "info"
		r.Description = fmt.Sprintf("HostProcess %s in exempt namespace %s, not evaluated; runs as %s",
			strings.ToLower(o.Kind), o.Namespace, strings.Join(o.RunAsUserNames, ", "))
		return []openreports.ReportResult{r}
	case StatusCompliant:
		r := base
		r.Rule, r.Result, r.Severity, r.Scored = RuleHostProcess, "pass", "info", true
		r.Description = fmt.Sprintf("HostProcess %s runs as %s and breaks no rule",
			strings.ToLower(o.Kind), strings.Join(o.RunAsUserNames, ", "))
		if len(o.Exceptions) > 0 {
			r.Description += " under " + exceptionList(o.Exceptions, "expires")
		}
		return append([]openreports.ReportResult{r}, warn...)
	}
	var out []openreports.ReportResult
	byRule := map[string][]string{}
	var order []string
	for _, v := range o.Violations {
		if _, ok := byRule[v.Rule]; !ok {
			order = append(order, v.Rule)
		}
		byRule[v.Rule] = append(byRule[v.Rule], v.Message)
	}
	for _, rule := range order {
		r := base
		r.Properties = make(map[string]string, len(base.Properties))
		for k, v := range base.Properties {
			r.Properties[k] = v
		}
		r.Rule, r.Result, r.Severity, r.Scored = rule, "fail", severity(rule), true
		r.Description = strings.Join(byRule[rule], "; ")
		out = append(out, r)
	}
	if len(o.ExpiredExceptions) > 0 {
		r := base
		r.Properties = make(map[string]string, len(base.Properties)+1)
		for k, v := range base.Properties {
			r.Properties[k] = v
		}
		r.Properties["expiredExceptions"] = exceptionList(o.ExpiredExceptions, "expired")
		r.Rule, r.Result, r.Severity, r.Scored = RuleExceptionExpired, "fail", "high", true
		r.Description = fmt.Sprintf("HostProcess %s still runs after %s", strings.ToLower(o.Kind), exceptionList(o.ExpiredExceptions, "expired"))
		out = append(out, r)
	}
	return append(out, warn...)
}

// exceptionList names exceptions with their expiry, e.g.
// HostProcessException "debug" (expires at 2026-12-08T02:00:00Z); verb is
// "expires" or "expired".
func exceptionList(as []policy.AppliedException, verb string) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("HostProcessException %q (%s at %s)", a.Name, verb, a.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

func summarize(results []openreports.ReportResult) openreports.ReportSummary {
	var s openreports.ReportSummary
	for i := range results {
		switch results[i].Result {
		case "pass":
			s.Pass++
		case "fail":
			s.Fail++
		case "warn":
			s.Warn++
		case "error":
			s.Error++
		case "skip":
			s.Skip++
		}
	}
	return s
}

// clusterReport returns the desired ClusterReport: one result per namespace with HostProcess
// objects, failing when any of them violates the policy.
func clusterReport(res *Result) *openreports.ClusterReport {
	r := &openreports.ClusterReport{
		ObjectMeta: metav1.ObjectMeta{Name: ReportName, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Source:     ReportSource,
	}
	for _, n := range res.Summary.ByNamespace {
		result := openreports.ReportResult{
			Source:   ReportSource,
			Policy:   ReportPolicy,
			Rule:     RuleNamespaceSummary,
			Category: ReportCategory,
			Subjects: []corev1.ObjectReference{{APIVersion: "v1", Kind: "Namespace", Name: n.Namespace}},
			Properties: map[string]string{
				"objects":    strconv.Itoa(n.Objects),
				"violating":  strconv.Itoa(n.Violating),
				"violations": strconv.Itoa(n.Violations),
			},
		}
		switch {
		case n.Exempt:
			result.Result, result.Severity = "skip", "info"
			result.Description = fmt.Sprintf("exempt namespace: %s not evaluated", plural(n.Objects, "HostProcess object"))
		case n.Violating > 0:
			result.Result, result.Severity, result.Scored = "fail", "high", true
			result.Description = fmt.Sprintf("%s, %d violating (%s)", plural(n.Objects, "HostProcess object"), n.Violating, plural(n.Violations, "violation"))
		default:
			result.Result, result.Severity, result.Scored = "pass", "info", true
			result.Description = fmt.Sprintf("%s, none violating", plural(n.Objects, "HostProcess object"))
		}
		r.Results = append(r.Results, result)
	}
	r.Summary = summarize(r.Results)
	return r
}

// resultKey identifies a result across passes, to keep the time it was first found.
func resultKey(r *openreports.ReportResult) string {
	var b strings.Builder
	b.WriteString(r.Policy + "\x00" + r.Rule + "\x00" + string(r.Result))
	for _, s := range r.Subjects {
		b.WriteString("\x00" + s.Kind + "/" + s.Namespace + "/" + s.Name + "/" + string(s.UID))
	}
	return b.String()
}

// keepTimestamps gives each desired result the timestamp of the same result in the existing
// report, or now for a new one, so that an unchanged report stays byte-for-byte the same.
func keepTimestamps(desired, existing []openreports.ReportResult, now metav1.Timestamp) {
	old := make(map[string]metav1.Timestamp, len(existing))
	for i := range existing {
		old[resultKey(&existing[i])] = existing[i].Timestamp
	}
	for i := range desired {
		if ts, ok := old[resultKey(&desired[i])]; ok {
			desired[i].Timestamp = ts
		} else {
			desired[i].Timestamp = now
		}
	}
}

// sortResults orders results by subject, then rule order.
func sortResults(results []openreports.ReportResult) {
	rank := map[string]int{}
	for i, r := range policy.Rules {
		rank[r] = i + 1
	}
	sort.SliceStable(results, func(i, j int) bool {
		a, b := subjectName(&results[i]), subjectName(&results[j])
		if a != b {
			return a < b
		}
		return rank[results[i].Rule] < rank[results[j].Rule]
	})
}

func subjectName(r *openreports.ReportResult) string {
	if len(r.Subjects) == 0 {
		return ""
	}
	s := r.Subjects[0]
	return s.Namespace + "/" + s.Kind + "/" + s.Name
}
