// Command audit measures the audit at scale against a real API server (testenv's
// kube-apiserver and etcd from bin/): it creates NAMESPACES namespaces with PODS pods in all,
// a share of them HostProcess and some violating, then runs
//
//   - `hostprocess-admission audit -A` in each output format, as a child process, recording
//     wall time and peak RSS (getrusage of the child), and
//   - the background audit in a child process of its own (a manager with the audit's cache
//     settings, as serve runs it), recording the time to the first reports, the duration of a
//     pass and peak RSS.
//
// Run from the repository root (make tools first):
//
//	go -C hack/bench run ./audit            # 10,000 pods in 100 namespaces
//	go -C hack/bench run ./audit -pods 2000 -namespaces 20
//
// The figures of a run are recorded in docs/performance.md under "Audit at scale".
package main
