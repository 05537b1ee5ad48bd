// Package e2e is the end-to-end suite (Ginkgo): the Helm chart installed
// into the real control plane from bin/, its webhook run from
// bin/hostprocess-admission exactly as the chart's Deployment says, and
// kubectl and helm driving it as a user would. The harness is in e2e/harness.
//
// Run it with hack/e2e.sh, which builds everything, then runs the suite
// inside a network namespace of its own and always removes it. Plain
// go test ./e2e skips the suite.
package e2e
