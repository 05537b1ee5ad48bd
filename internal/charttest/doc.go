// Package charttest tests the Helm chart in charts/hostprocess-admission with
// the real helm from bin/: lint and template in every certificate mode, the
// rendered objects, values.schema.json, and, against a real kube-apiserver
// (internal/testenv), install, upgrade and uninstall, the webhooks'
// matchConditions and the chart's RBAC. It holds tests only.
package charttest
