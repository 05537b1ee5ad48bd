package audit

import (
	"fmt"
	"io"
	"strings"
)

// mdEscaper escapes text for a GitHub-flavoured Markdown table cell: backslashes first, so
// that NT AUTHORITY\SYSTEM keeps its backslash, then the characters that would start
// emphasis, code, links, HTML or a new cell.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `~`, `\~`, "\n", " ",
)

func md(s string) string { return mdEscaper.Replace(s) }

func mdList(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = md(s)
	}
	return strings.Join(out, "<br>")
}

func writeMarkdown(w io.Writer, res *Result) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "# HostProcess audit of %s\n\n%s\n\n**%s**\n", md(res.scope()), md(res.scannedLine()), md(res.headline()))
	if len(res.Objects) > 0 {
		fmt.Fprint(bw, "\n## Inventory\n\n")
		fmt.Fprintln(bw, "| Namespace | Object | Owner | Status | Mode | PSA enforce | Run as | Pods | Nodes | Images |")
		fmt.Fprintln(bw, "|---|---|---|---|---|---|---|--:|---|---|")
		for i := range res.Objects {
			o := &res.Objects[i]
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |\n",
				md(o.Namespace), md(o.ref()), md(dash(o.Owner)), statusMark(o.Status), o.Mode, o.PodSecurityEnforce,
				mdList(o.RunAsUserNames), o.podCount(), md(o.nodesShort()), mdList(o.Images))
		}
	}
	if res.Summary.Violations > 0 {
		fmt.Fprint(bw, "\n## Violations\n\n")
		fmt.Fprintln(bw, "| Namespace | Object | Rule | Message |")
		fmt.Fprintln(bw, "|---|---|---|---|")
		for i := range res.Objects {
			o := &res.Objects[i]
			for _, v := range o.Violations {
				fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", md(o.Namespace), md(o.ref()), md(v.Rule), md(v.Message))
			}
		}
	}
	if res.hasWarnings() {
		fmt.Fprint(bw, "\n## Warnings\n\n")
		fmt.Fprintln(bw, "| Namespace | Object | Warning |")
		fmt.Fprintln(bw, "|---|---|---|")
		for i := range res.Objects {
			o := &res.Objects[i]
			for _, w := range o.Warnings {
				fmt.Fprintf(bw, "| %s | %s | %s |\n", md(o.Namespace), md(o.ref()), md(w))
			}
		}
	}
	if len(res.Summary.ByUser) > 0 {
		fmt.Fprint(bw, "\n## By user\n\n| Run as | Objects | Pods |\n|---|--:|--:|\n")
		for _, u := range res.Summary.ByUser {
			fmt.Fprintf(bw, "| %s | %d | %d |\n", md(u.User), u.Objects, u.Pods)
		}
	}
	if len(res.Summary.ByNamespace) > 0 {
		fmt.Fprint(bw, "\n## By namespace\n\n| Namespace | Objects | Violating | Violations | Exempt |\n|---|--:|--:|--:|---|\n")
		for _, n := range res.Summary.ByNamespace {
			fmt.Fprintf(bw, "| %s | %d | %d | %d | %s |\n", md(n.Namespace), n.Objects, n.Violating, n.Violations, yesNo(n.Exempt))
		}
	}
	if len(res.Summary.ByRule) > 0 {
		fmt.Fprint(bw, "\n## By rule\n\n| Rule | Objects | Violations |\n|---|--:|--:|\n")
		for _, r := range res.Summary.ByRule {
			fmt.Fprintf(bw, "| %s | %d | %d |\n", md(r.Rule), r.Objects, r.Violations)
		}
	}
	return bw.err
}

// statusMark makes a violating object stand out in a review.
func statusMark(status string) string {
	if status == StatusViolating {
		return "**violating**"
	}
	return status
}
