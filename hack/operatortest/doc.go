// Package operatortest holds the tests of what operators feed to other tools:
// check's SARIF output against the published SARIF 2.1.0 schema, and the
// chart's Grafana dashboard and PrometheusRule against Prometheus' own PromQL
// parser and the metrics serve registers. It is a module of its own so that
// the schema validator and the Prometheus module stay out of the product's
// go.mod; `make test` runs it.
package operatortest
