package audit

import (
	_ "embed"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"statusRank": func(status string) int {
		switch status {
		case StatusViolating:
			return 0
		case StatusExempt:
			return 1
		}
		return 2
	},
	"podCount": func(o Object) int { return o.podCount() },
}).Parse(reportHTML))

// htmlResult gives the template the Result's derived text.
type htmlResult struct{ *Result }

func (r htmlResult) Scope() string       { return r.scope() }
func (r htmlResult) ScannedLine() string { return r.scannedLine() }
func (r htmlResult) Headline() string    { return r.headline() }

// chart is a horizontal bar chart drawn as inline SVG, so that it needs no script and shows
// in any browser, printed too.
type chart struct {
	Title, Class, Empty string
	Width, Height       int
	Bars                []bar
}

type bar struct {
	Label, ShortLabel string
	Value             int
	X, Y, W, H        int
	TextY, ValueX     int
}

const (
	chartLabelWidth = 230
	chartBarWidth   = 260
	chartRow        = 26
)

func newChart(title, class, empty string, labels []string, values []int) chart {
	c := chart{Title: title, Class: class, Empty: empty, Width: chartLabelWidth + chartBarWidth + 50}
	most := 0
	for _, v := range values {
		most = max(most, v)
	}
	for i, label := range labels {
		b := bar{Label: label, ShortLabel: label, Value: values[i], X: chartLabelWidth, Y: i*chartRow + 4, H: chartRow - 8}
		if r := []rune(label); len(r) > 32 {
			b.ShortLabel = string(r[:31]) + "…"
		}
		if most > 0 {
			b.W = max(2, values[i]*chartBarWidth/most)
		}
		b.TextY = b.Y + b.H - 5
		b.ValueX = b.X + b.W + 6
		c.Bars = append(c.Bars, b)
	}
	c.Height = len(labels)*chartRow + 4
	return c
}

func writeHTML(w io.Writer, res *Result) error {
	var users, rules []string
	var userN, ruleN []int
	for _, u := range res.Summary.ByUser {
		users, userN = append(users, u.User), append(userN, u.Objects)
	}
	for _, r := range res.Summary.ByRule {
		rules, ruleN = append(rules, r.Rule), append(ruleN, r.Objects)
	}
	return reportTemplate.Execute(w, struct {
		Result htmlResult
		Users  chart
		Rules  chart
	}{
		Result: htmlResult{res},
		Users:  newChart("Objects by runAsUserName", "users", "No users.", users, userN),
		Rules:  newChart("Objects by violated rule", "violations", "No violations.", rules, ruleN),
	})
}
