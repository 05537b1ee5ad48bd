// Command bench measures the webhook server against its physical limit and
// its peer, and the whole admission path through a real API server.
//
//   - A: `hostprocess-admission serve` as shipped (the built binary, built-in
//     default configuration, namespace cache against the API server), load
//     alternating between /validate and /mutate;
//   - B: the same webhook server (webhook.NewServer, same TLS and HTTP
//     settings) with a handler that answers Allowed without decoding
//     (hack/bench/bareserver);
//   - C: the Pod Security Admission webhook (bin/pod-security-webhook) in a
//     namespace labelled warn=restricted and audit=restricted, so that it
//     decodes the pod and runs every restricted check.
//
// The load is vegeta at constant rates, HTTP/1.1 keep-alive over TLS on
// loopback, with a 7 KiB AdmissionReview of a HostProcess DaemonSet pod. The
// servers are measured interleaved (A B C A B C ...) so that drift on the
// machine hits all of them alike. Every figure is the median of the repeats.
//
// Then the API server creates pods with 8 client workers (10,000 pods per
// run, 5 repeats, pods removed in etcd between runs): without webhooks, with
// the chart's webhook configurations for HostProcess pods, and with the same
// configurations for plain Linux pods, which the matchConditions keep away
// from the webhook. Each run records the CPU time (utime+stime) of
// kube-apiserver, etcd and serve per pod created; the goals are on the ratio
// of each case to its baseline in the same repeat (median and spread).
//
// Results: a table on stdout, bench/results/latest.json and latest.md, the
// handler's CPU profile summary in bench/results/handler-profile.txt, and the
// handler's instructions per review counted with valgrind's callgrind.
//
// Usage: go -C hack/bench run . [flags]   (make bench)
//
// Linux only: it reads /proc and starts the control plane of internal/testenv.
package main
