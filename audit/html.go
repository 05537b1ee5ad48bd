package audit

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// The HTML report is written by hand rather than with html/template: executing a template
// makes reflect.Value.MethodByName reachable, and the linker then keeps every exported method
// of every reachable type, which made the binary about 10 MB larger. The output is the same,
// byte for byte, as the template's (testdata/html).

// htmlEscaper escapes text for element content, RCDATA (title) and quoted attribute values as
// html/template did: the same seven characters, NUL as U+FFFD, other bytes (invalid UTF-8
// too) unchanged.
var htmlEscaper = strings.NewReplacer(
	"\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;",
)

// htmlWriter writes the page; bufio.Writer keeps the first error, which Flush returns.
type htmlWriter struct{ *bufio.Writer }

// s writes literal markup.
func (w htmlWriter) s(parts ...string) {
	for _, p := range parts {
		w.WriteString(p)
	}
}

// text writes s escaped.
func (w htmlWriter) text(s string) { htmlEscaper.WriteString(w, s) }

// n writes an integer.
func (w htmlWriter) n(i int) {
	var buf [20]byte
	w.Write(strconv.AppendInt(buf[:0], int64(i), 10))
}

// chart is a horizontal bar chart drawn as inline SVG, so that it needs no script and shows
// in any browser, printed too.
type chart struct {
	title, class, empty string
	width, height       int
	bars                []bar
}

type bar struct {
	label, shortLabel string
	value             int
	x, y, w, h        int
	textY, valueX     int
}

const (
	chartLabelWidth = 230
	chartBarWidth   = 260
	chartRow        = 26
)

func newChart(title, class, empty string, labels []string, values []int) chart {
	c := chart{title: title, class: class, empty: empty, width: chartLabelWidth + chartBarWidth + 50}
	most := 0
	for _, v := range values {
		most = max(most, v)
	}
	for i, label := range labels {
		b := bar{label: label, shortLabel: label, value: values[i], x: chartLabelWidth, y: i*chartRow + 4, h: chartRow - 8}
		if r := []rune(label); len(r) > 32 {
			b.shortLabel = string(r[:31]) + "…"
		}
		if most > 0 {
			b.w = max(2, values[i]*chartBarWidth/most)
		}
		b.textY = b.y + b.h - 5
		b.valueX = b.x + b.w + 6
		c.bars = append(c.bars, b)
	}
	c.height = len(labels)*chartRow + 4
	return c
}

func (w htmlWriter) chart(c chart) {
	w.s(`<div class="chart">`+"\n<h2>", c.title, "</h2>\n")
	if len(c.bars) == 0 {
		w.s(`<p class="empty">`, c.empty, "</p>\n</div>")
		return
	}
	w.s(`<svg class="chart `, c.class, `" id="chart-`, c.class, `" role="img" aria-label="`, c.title, `" width="`)
	w.n(c.width)
	w.s(`" height="`)
	w.n(c.height)
	w.s(`" viewBox="0 0 `)
	w.n(c.width)
	w.s(" ")
	w.n(c.height)
	w.s(`" xmlns="http://www.w3.org/2000/svg">` + "\n")
	for _, b := range c.bars {
		w.s(`<g class="row" data-label="`)
		w.text(b.label)
		w.s(`" data-value="`)
		w.n(b.value)
		w.s("\">\n<title>")
		w.text(b.label)
		w.s(": ")
		w.n(b.value)
		w.s("</title>\n" + `<text x="0" y="`)
		w.n(b.textY)
		w.s(`">`)
		w.text(b.shortLabel)
		w.s("</text>\n" + `<rect class="bar" x="`)
		w.n(b.x)
		w.s(`" y="`)
		w.n(b.y)
		w.s(`" width="`)
		w.n(b.w)
		w.s(`" height="`)
		w.n(b.h)
		w.s(`" rx="2"></rect>` + "\n" + `<text x="`)
		w.n(b.valueX)
		w.s(`" y="`)
		w.n(b.textY)
		w.s(`">`)
		w.n(b.value)
		w.s("</text>\n</g>\n")
	}
	w.s("</svg>\n</div>")
}

// list writes items separated by <br>, each between open and close; dash when there are none
// and dash is set.
func (w htmlWriter) list(items []string, open, close string, dash bool) {
	if len(items) == 0 && dash {
		w.s("-")
	}
	for i, item := range items {
		if i > 0 {
			w.s("<br>")
		}
		w.s(open)
		w.text(item)
		w.s(close)
	}
}

// statusRank orders the statuses for sorting: violating, exempt, then the others.
func statusRank(status string) int {
	switch status {
	case StatusViolating:
		return 0
	case StatusExempt:
		return 1
	}
	return 2
}

// badCard is the card class for a count that should stand out when it is not zero.
func badCard(n int) string {
	if n != 0 {
		return `<div class="card bad">`
	}
	return `<div class="card">`
}

func writeHTML(out io.Writer, res *Result) error {
	w := htmlWriter{bufio.NewWriter(out)}
	s := &res.Summary
	scope := res.scope()

	w.s(htmlHead)
	w.text(scope)
	w.s(htmlStyle)
	w.text(scope)
	w.s("</h1>\n" + `<p class="meta">`)
	w.text(res.scannedLine())
	w.s("</p>\n" + `<p class="headline">`)
	w.text(res.headline())
	w.s("</p>\n" + `<div class="cards">` + "\n" + `<div class="card"><div class="n" id="count-objects">`)
	w.n(s.Objects)
	w.s("</div>HostProcess objects</div>\n", badCard(s.Violating), `<div class="n" id="count-violating">`)
	w.n(s.Violating)
	w.s("</div>violating</div>\n" + `<div class="card"><div class="n">`)
	w.n(s.Exempt)
	w.s("</div>exempt</div>\n" + `<div class="card"><div class="n">`)
	w.n(s.HostProcessPods)
	w.s("</div>HostProcess pods</div>\n", badCard(s.Violations), `<div class="n">`)
	w.n(s.Violations)
	w.s("</div>violations</div>\n</div>\n\n")

	if len(res.Objects) == 0 {
		w.s(`<p class="empty">No HostProcess pods or workloads were found.</p>` + "\n")
	} else {
		writeHTMLInventory(w, res)
	}
	w.s("\n", htmlScript)
	return w.Flush()
}

// writeHTMLInventory writes the charts and the tables of a Result with objects.
func writeHTMLInventory(w htmlWriter, res *Result) {
	s := &res.Summary
	var users, rules []string
	var userN, ruleN []int
	for _, u := range s.ByUser {
		users, userN = append(users, u.User), append(userN, u.Objects)
	}
	for _, r := range s.ByRule {
		rules, ruleN = append(rules, r.Rule), append(ruleN, r.Objects)
	}
	w.s(`<div class="charts">` + "\n")
	w.chart(newChart("Objects by runAsUserName", "users", "No users.", users, userN))
	w.s("\n")
	w.chart(newChart("Objects by violated rule", "violations", "No violations.", rules, ruleN))
	w.s("\n</div>\n" + htmlInventoryHead)

	for i := range res.Objects {
		o := &res.Objects[i]
		w.s(`<tr class="`)
		w.text(o.Status)
		w.s(`" data-object="`)
		w.text(o.Namespace)
		w.s("/")
		w.text(o.Kind)
		w.s("/")
		w.text(o.Name)
		w.s("\">\n<td>")
		w.text(o.Namespace)
		w.s("</td>\n" + `<td class="nowrap">`)
		w.text(o.Kind)
		w.s("/")
		w.text(o.Name)
		w.s("</td>\n<td>")
		if o.Owner != "" {
			w.text(o.Owner)
		} else {
			w.s("-")
		}
		w.s("</td>\n" + `<td class="status" data-sort="`)
		w.n(statusRank(o.Status))
		w.s(`">`)
		w.text(o.Status)
		w.s("</td>\n<td>")
		w.text(o.Mode)
		w.s("</td>\n<td>")
		w.text(o.PodSecurityEnforce)
		w.s("</td>\n" + `<td class="nowrap">`)
		w.list(o.RunAsUserNames, "<code>", "</code>", false)
		w.s("</td>\n" + `<td class="num">`)
		w.n(o.podCount())
		w.s("</td>\n" + `<td class="nowrap">`)
		w.list(o.Nodes, "", "", true)
		w.s("</td>\n" + `<td class="images">`)
		w.list(o.Images, "<code>", "</code>", false)
		w.s("</td>\n" + `<td class="violations" data-sort="`)
		w.n(len(o.Violations))
		w.s(`">`)
		if len(o.Violations) == 0 {
			w.s("-")
		} else {
			w.s("<ul>")
			for _, v := range o.Violations {
				w.s("<li><b>")
				w.text(v.Rule)
				w.s("</b>: ")
				w.text(v.Message)
				w.s("</li>")
			}
			w.s("</ul>")
		}
		w.s("</td>\n</tr>\n")
	}

	w.s(htmlNamespaceHead)
	for _, ns := range s.ByNamespace {
		w.s("<tr><td>")
		w.text(ns.Namespace)
		w.s(`</td><td class="num">`)
		w.n(ns.Objects)
		w.s(`</td><td class="num">`)
		w.n(ns.Violating)
		w.s(`</td><td class="num">`)
		w.n(ns.Violations)
		w.s("</td><td>", yesNo(ns.Exempt), "</td></tr>\n")
	}
	w.s("</tbody>\n</table>\n")
}

// htmlInventoryHead starts the inventory table; data-key names a column for #sort=KEY.
const htmlInventoryHead = `<h2>Inventory</h2>
<table id="inventory" class="sortable">
<thead><tr>
<th data-key="namespace">Namespace</th>
<th data-key="object">Object</th>
<th data-key="owner">Owner</th>
<th data-key="status">Status</th>
<th data-key="mode">Mode</th>
<th data-key="psa">PSA enforce</th>
<th data-key="user">Run as</th>
<th data-key="pods" data-type="number">Pods</th>
<th data-key="nodes">Nodes</th>
<th data-key="images">Images</th>
<th data-key="violations" data-type="number">Violations</th>
</tr></thead>
<tbody>
`

// htmlNamespaceHead ends the inventory table and starts the table by namespace.
const htmlNamespaceHead = `</tbody>
</table>
<h2>By namespace</h2>
<table id="by-namespace" class="sortable">
<thead><tr><th>Namespace</th><th data-type="number">Objects</th><th data-type="number">Violating</th><th data-type="number">Violations</th><th>Exempt</th></tr></thead>
<tbody>
`
