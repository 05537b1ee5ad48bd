//go:build !windows

package charttest

import (
	"strings"
	"testing"
)

// TestMonitoringObjects covers the chart side of the dashboard and alerts;
// hack/operatortest parses their queries with Prometheus' parser and checks
// the metric names against serve's registration.
func TestMonitoringObjects(t *testing.T) {
	on := []string{"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.grafanaDashboard.enabled=true",
		"--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.grafanaDashboard.annotations.grafana_folder=HostProcess"}
	t.Run("helm lint --strict passes with the dashboard and the rules", func(t *testing.T) {
		if out, err := helm(t, append([]string{"lint", "--strict", chartDir(t), "--namespace", namespace}, on...)...); err != nil {
			t.Errorf("helm lint:\n%s\n%v", out, err)
		}
	})
	m := render(t, on...)
	t.Run("the dashboard ConfigMap carries the sidecar's label and the folder annotation", func(t *testing.T) {
		cm := m.find("ConfigMap", fullname+"-dashboard")
		if cm == nil {
			t.Fatalf("no ConfigMap %s-dashboard; have %v", fullname, m.kinds())
		}
		if got := cm.GetLabels()["grafana_dashboard"]; got != "1" {
			t.Errorf("label grafana_dashboard=%q, want 1", got)
		}
		if got := cm.GetAnnotations()["grafana_folder"]; got != "HostProcess" {
			t.Errorf("annotation grafana_folder=%q, want HostProcess", got)
		}
		if cm.GetNamespace() != namespace {
			t.Errorf("namespace %q, want the release namespace %q", cm.GetNamespace(), namespace)
		}
	})
	t.Run("the dashboard goes to the namespace Grafana's sidecar watches when one is named", func(t *testing.T) {
		m := render(t, "--set", "metrics.grafanaDashboard.enabled=true", "--set", "metrics.grafanaDashboard.namespace=monitoring")
		if cm := m.find("ConfigMap", fullname+"-dashboard"); cm == nil || cm.GetNamespace() != "monitoring" {
			t.Errorf("dashboard ConfigMap %v, want it in monitoring", cm)
		}
	})
	t.Run("the ServiceMonitor keeps the object namespace of the series the dashboard groups by", func(t *testing.T) {
		sm := m.find("ServiceMonitor", fullname)
		eps, _ := sm.Object["spec"].(map[string]any)["endpoints"].([]any)
		if len(eps) != 1 || eps[0].(map[string]any)["honorLabels"] != true {
			t.Errorf("ServiceMonitor endpoints %v, want honorLabels: true", eps)
		}
	})
	t.Run("the PrometheusRule is in the release namespace", func(t *testing.T) {
		if pr := m.find("PrometheusRule", fullname); pr == nil || pr.GetNamespace() != namespace {
			t.Errorf("PrometheusRule %v", pr)
		}
	})
	t.Run("the dashboard and the rules need the metrics endpoint", func(t *testing.T) {
		for _, value := range []string{"metrics.grafanaDashboard.enabled", "metrics.prometheusRule.enabled"} {
			_, err := helm(t, "template", release, chartDir(t), "--namespace", namespace, "--set", "metrics.enabled=false", "--set", value+"=true")
			if err == nil || !strings.Contains(err.Error(), value+" needs metrics.enabled") {
				t.Errorf("%s=true with metrics off: %v, want a failure naming %s", value, err, value)
			}
		}
	})
}
