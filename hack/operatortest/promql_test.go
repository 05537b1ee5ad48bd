package operatortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/audit"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/webhook"
)

// prometheusOwn are the series Prometheus writes itself for every target, not
// serve: up is 1 while a scrape succeeds.
var prometheusOwn = []string{"up"}

// collecting is a Registerer that keeps what is registered with it.
type collecting struct {
	collectors []prometheus.Collector
}

func (c *collecting) Register(col prometheus.Collector) error {
	c.collectors = append(c.collectors, col)
	return nil
}

func (c *collecting) MustRegister(cols ...prometheus.Collector) {
	c.collectors = append(c.collectors, cols...)
}

func (c *collecting) Unregister(prometheus.Collector) bool { return false }

// fqName is how prometheus.Desc.String() writes a metric's name; Desc has no
// accessor for it.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// servedMetrics returns the name of every series serve exports of its own
// metrics, from their registration (webhook.NewMetrics and the background
// audit's, as serve registers them), with the _bucket, _sum and _count
// series of histograms.
func servedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	reg := &collecting{}
	webhook.NewMetrics(reg)
	if err := audit.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, col := range reg.collectors {
		histogram := false
		if _, ok := col.(prometheus.Histogram); ok {
			histogram = true
		}
		if _, ok := col.(*prometheus.HistogramVec); ok {
			histogram = true
		}
		ch := make(chan *prometheus.Desc, 8)
		go func() { col.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no fqName in %s", d)
			}
			names[m[1]] = true
			if histogram {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[m[1]+suffix] = true
				}
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in serve's registration: %v", len(names), names)
	}
	return names
}

// renderChart runs the real helm template with extra values and returns the
// objects.
func renderChart(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	helm := testenv.RequireBin(t, testenv.Helm)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, helm, append([]string{"template", "hostprocess-admission",
		filepath.Join(root, "charts", "hostprocess-admission"), "--namespace", "hostprocess-system"}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var objs []map[string]any
	dec := utilyaml.NewYAMLOrJSONDecoder(&stdout, 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatal(err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

func find(objs []map[string]any, kind string) map[string]any {
	for _, o := range objs {
		if o["kind"] == kind {
			return o
		}
	}
	return nil
}

// promql parses as a Prometheus server does by default: no experimental
// functions, no UTF-8 names without quotes.
var promql = parser.NewParser(parser.Options{})

// query is a PromQL expression and where it is.
type query struct {
	where, expr string
}

// checkQueries parses every query with Prometheus' parser and checks that
// each metric it selects is one serve exports.
func checkQueries(t *testing.T, queries []query) {
	t.Helper()
	served := servedMetrics(t)
	for _, q := range queries {
		expr, err := promql.ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.where, err, q.expr)
			continue
		}
		selectors := 0
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selectors++
			name := vs.Name
			if name == "" {
				t.Errorf("%s: selector %s has no metric name", q.where, vs)
				return nil
			}
			if !served[name] && !slices.Contains(prometheusOwn, name) {
				t.Errorf("%s: metric %s is not exported by serve\n%s", q.where, name, q.expr)
			}
			return nil
		})
		if selectors == 0 {
			t.Errorf("%s: selects no metric: %s", q.where, q.expr)
		}
	}
}

func TestPrometheusRuleExpressionsParseAndUseServedMetrics(t *testing.T) {
	for _, enforcement := range []string{"webhook", "native"} {
		t.Run("enforcement="+enforcement, func(t *testing.T) {
			objs := renderChart(t, "--set", "metrics.prometheusRule.enabled=true", "--set", "enforcement="+enforcement)
			rule := find(objs, "PrometheusRule")
			if rule == nil {
				t.Fatal("no PrometheusRule rendered with metrics.prometheusRule.enabled=true")
			}
			var spec struct {
				Groups []struct {
					Name  string `json:"name"`
					Rules []struct {
						Alert       string            `json:"alert"`
						Expr        string            `json:"expr"`
						For         string            `json:"for"`
						Labels      map[string]string `json:"labels"`
						Annotations map[string]string `json:"annotations"`
					} `json:"rules"`
				} `json:"groups"`
			}
			remarshal(t, rule["spec"], &spec)
			var queries []query
			var alerts []string
			for _, g := range spec.Groups {
				for _, r := range g.Rules {
					alerts = append(alerts, r.Alert)
					queries = append(queries, query{"alert " + r.Alert, r.Expr})
					if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
						t.Errorf("alert %s lacks a severity, summary or description", r.Alert)
					}
					if _, err := model.ParseDuration(r.For); err != nil {
						t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
					}
				}
			}
			want := []string{"HostProcessAdmissionWebhookDown", "HostProcessAdmissionConfigReloadFailing",
				"HostProcessAdmissionCertificateExpiresSoon", "HostProcessAuditPassesFailing", "HostProcessAdmissionDenialsSpiking"}
			if enforcement == "native" {
				// No webhook is called: nothing fails closed and nothing is denied by it.
				want = []string{"HostProcessAdmissionConfigReloadFailing", "HostProcessAdmissionCertificateExpiresSoon", "HostProcessAuditPassesFailing"}
			}
			if !slices.Equal(alerts, want) {
				t.Errorf("alerts %v, want %v", alerts, want)
			}
			checkQueries(t, queries)
		})
	}
}

func TestGrafanaDashboardQueriesParseAndUseServedMetrics(t *testing.T) {
	objs := renderChart(t, "--set", "metrics.grafanaDashboard.enabled=true")
	cm := find(objs, "ConfigMap")
	for _, o := range objs {
		if o["kind"] == "ConfigMap" && strings.HasSuffix(o["metadata"].(map[string]any)["name"].(string), "-dashboard") {
			cm = o
		}
	}
	meta := cm["metadata"].(map[string]any)
	if meta["name"] != "hostprocess-admission-dashboard" {
		t.Fatalf("no dashboard ConfigMap rendered with metrics.grafanaDashboard.enabled=true")
	}
	// The sidecar of kube-prometheus-stack's Grafana loads ConfigMaps labelled
	// grafana_dashboard: "1", each data key a dashboard's JSON.
	if labels, _ := meta["labels"].(map[string]any); labels["grafana_dashboard"] != "1" {
		t.Errorf("labels %v lack grafana_dashboard: \"1\"", labels)
	}
	data := cm["data"].(map[string]any)
	raw, ok := data["hostprocess-admission.json"].(string)
	if !ok || len(data) != 1 {
		t.Fatalf("data keys %v, want hostprocess-admission.json", data)
	}
	var dash struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.UID == "" {
		t.Error("the dashboard has no uid; Grafana would create a copy on every load")
	}
	for _, v := range dash.Templating.List {
		if v.Name == "job" && v.Query != "hostprocess-admission" {
			t.Errorf("variable job defaults to %q, want the Service's name hostprocess-admission", v.Query)
		}
	}
	var queries []query
	var titles []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				titles = append(titles, p.Title)
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
			}
			for _, tg := range p.Targets {
				// $job is a dashboard variable inside a label value: valid PromQL as written.
				queries = append(queries, query{fmt.Sprintf("panel %q, target %s", p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	want := []string{"Admission reviews by decision", "Replicas up", "Configuration reload", "Denials by rule",
		"Denials by namespace", "Violations by namespace, rule and mode, last 24 hours", "Latency",
		"Serving certificate expires in", "Serving certificate expiry by replica", "Audit findings by namespace and rule",
		"HostProcess pods by namespace and user", "Time since the last audit pass", "Failed audit passes, last hour",
		"Audit pass duration (p90)"}
	if !slices.Equal(titles, want) {
		t.Errorf("panels %q, want %q", titles, want)
	}
	checkQueries(t, queries)
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// TestCheckQueriesCatchesUnknownMetricsAndBadSyntax shows the check above
// can fail.
func TestCheckQueriesCatchesUnknownMetricsAndBadSyntax(t *testing.T) {
	served := servedMetrics(t)
	for _, name := range []string{"hostprocess_admission_requests_total", "hostprocess_admission_duration_seconds_bucket",
		"hostprocess_admission_serving_certificate_expiry_timestamp_seconds", "hostprocess_audit_pass_errors_total"} {
		if !served[name] {
			t.Errorf("servedMetrics lacks %s", name)
		}
	}
	if served["hostprocess_admission_requests"] {
		t.Error("servedMetrics invents hostprocess_admission_requests")
	}
	if _, err := promql.ParseExpr(`sum(rate(hostprocess_admission_requests_total[5m])`); err == nil {
		t.Error("an unbalanced expression parsed")
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
