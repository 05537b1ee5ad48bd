package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Output formats of Write.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// Formats lists the output formats.
var Formats = []string{FormatTable, FormatJSON, FormatMarkdown, FormatHTML}

// Write renders res in format.
func Write(w io.Writer, res *Result, format string) error {
	switch format {
	case FormatTable:
		return writeTable(w, res)
	case FormatJSON:
		return writeJSON(w, res)
	case FormatMarkdown:
		return writeMarkdown(w, res)
	case FormatHTML:
		return writeHTML(w, res)
	}
	return fmt.Errorf("unknown output format %q (known: %s)", format, strings.Join(Formats, ", "))
}

func writeJSON(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// scope names what was audited.
func (r *Result) scope() string {
	if r.Namespace == "" {
		return "all namespaces"
	}
	return "namespace " + r.Namespace
}

// headline is the one-sentence outcome.
func (r *Result) headline() string {
	s := &r.Summary
	if s.Objects == 0 {
		return "No HostProcess pods or workloads found."
	}
	return fmt.Sprintf("%s: %d violating, %d compliant, %d exempt; %s, %s.",
		plural(s.Objects, "HostProcess object"), s.Violating, s.Compliant, s.Exempt,
		plural(s.HostProcessPods, "HostProcess pod"), plural(s.Violations, "violation"))
}

func (r *Result) scannedLine() string {
	s := r.Summary.Scanned
	return fmt.Sprintf("Scanned %s, %s and %s at %s.",
		plural(s.Namespaces, "namespace"), plural(s.Workloads, "workload"), plural(s.Pods, "pod"),
		r.GeneratedAt.UTC().Format(time.RFC3339))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// ref is an object's Kind/name.
func (o *Object) ref() string { return o.Kind + "/" + o.Name }

// nodesShort lists up to three nodes and how many more there are.
func (o *Object) nodesShort() string {
	if len(o.Nodes) == 0 {
		return "-"
	}
	if len(o.Nodes) <= 3 {
		return strings.Join(o.Nodes, ", ")
	}
	return strings.Join(o.Nodes[:3], ", ") + fmt.Sprintf(" (+%d)", len(o.Nodes)-3)
}

// podCount is the number of HostProcess pods of the object: its grouped pods, or 1 for a Pod.
func (o *Object) podCount() int {
	if o.Kind == "Pod" {
		return 1
	}
	return len(o.Pods)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeTable(w io.Writer, res *Result) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "HostProcess audit of %s\n%s\n%s\n", res.scope(), res.scannedLine(), res.headline())
	if len(res.Objects) > 0 {
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMESPACE\tOBJECT\tOWNER\tSTATUS\tMODE\tPSA ENFORCE\tRUN AS\tPODS\tNODES\tIMAGES")
		for i := range res.Objects {
			o := &res.Objects[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", o.Namespace, o.ref(), dash(o.Owner), o.Status, o.Mode,
				o.PodSecurityEnforce, strings.Join(o.RunAsUserNames, ", "), o.podCount(), o.nodesShort(), strings.Join(o.Images, ", "))
		}
		_ = tw.Flush()
	}
	writeObjectLines(bw, res, "Violations", func(o *Object) []string {
		lines := make([]string, len(o.Violations))
		for i, v := range o.Violations {
			lines[i] = v.Rule + ": " + v.Message
		}
		return lines
	})
	writeObjectLines(bw, res, "Warnings", func(o *Object) []string { return o.Warnings })
	if len(res.Summary.ByUser) > 0 {
		fmt.Fprintln(bw, "\nBy user:")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  RUN AS\tOBJECTS\tPODS")
		for _, u := range res.Summary.ByUser {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", u.User, u.Objects, u.Pods)
		}
		_ = tw.Flush()
	}
	if len(res.Summary.ByNamespace) > 0 {
		fmt.Fprintln(bw, "\nBy namespace:")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAMESPACE\tOBJECTS\tVIOLATING\tVIOLATIONS\tEXEMPT")
		for _, n := range res.Summary.ByNamespace {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\n", n.Namespace, n.Objects, n.Violating, n.Violations, yesNo(n.Exempt))
		}
		_ = tw.Flush()
	}
	if len(res.Summary.ByRule) > 0 {
		fmt.Fprintln(bw, "\nBy rule:")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  RULE\tOBJECTS\tVIOLATIONS")
		for _, r := range res.Summary.ByRule {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", r.Rule, r.Objects, r.Violations)
		}
		_ = tw.Flush()
	}
	return bw.err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// errWriter keeps the first write error, so that the renderers can write freely.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}

// writeObjectLines writes a section headed title that lists, under each object
// with any, the lines of that object; nothing when no object has one.
func writeObjectLines(w io.Writer, res *Result, title string, lines func(*Object) []string) {
	header := false
	for i := range res.Objects {
		o := &res.Objects[i]
		ls := lines(o)
		if len(ls) == 0 {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n%s:\n", title)
			header = true
		}
		fmt.Fprintf(w, "  %s/%s\n", o.Namespace, o.ref())
		for _, l := range ls {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}
