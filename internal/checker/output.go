package checker

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// violationLabel is how a violation is introduced in text output, by mode.
var violationLabel = map[config.Mode]string{
	config.ModeEnforce: "violation",
	config.ModeWarn:    "warning",
	config.ModeAudit:   "audit",
}

// WriteText writes one line per Pod or workload, its details indented below
// it, then the summary:
//
//	DENIED Pod default/bad-user (examples/rejected/bad-user.yaml)
//	  violation runAsUserName: container "agent": ...
//	  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
//	1 object: 0 admitted, 1 denied, 0 skipped
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for i := range r.Results {
		res := &r.Results[i]
		verdict := "ADMITTED"
		if !res.Allowed {
			verdict = "DENIED"
		}
		fmt.Fprintf(&b, "%s %s %s/%s (%s)\n", verdict, res.Kind, res.Namespace, res.Name, res.where)
		if res.Exempt {
			fmt.Fprintf(&b, "  exempt: namespace %s is exempt\n", res.Namespace)
		}
		for _, v := range res.Violations {
			fmt.Fprintf(&b, "  %s %s: %s\n", violationLabel[res.Mode], v.Rule, v.Message)
		}
		for _, warning := range res.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", warning)
		}
		for _, op := range res.Patch {
			fmt.Fprintf(&b, "  default: %s\n", op)
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "%d %s: %d admitted, %d denied, %d skipped\n",
		s.Objects, plural(s.Objects, "object", "objects"), s.Admitted, s.Denied, s.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Messages quote Windows account names; keep < > & readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteNotes writes a line to w for each skipped object and each note, e.g.
//
//	note: skipped ConfigMap kube-system/foo (file.yaml, document 2): not a pod or workload
func (r *Report) WriteNotes(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Skipped {
		what := s.Kind
		switch {
		case s.Namespace != "":
			what += " " + s.Namespace + "/" + s.Name
		case s.Name != "":
			what += " " + s.Name
		}
		fmt.Fprintf(&b, "note: skipped %s (%s): %s\n", what, s.where, s.Reason)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
