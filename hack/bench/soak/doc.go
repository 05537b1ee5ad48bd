// Command soak runs `hostprocess-admission serve` (the binary built from the
// work tree, against the real kube-apiserver and etcd of internal/testenv)
// under a constant mix of good and hostile traffic for a long time, 10
// minutes by default, and checks that every answer is right and that the
// process does not grow:
//
//   - valid reviews at -rate requests/s through vegeta, cycling over five
//     kinds with exact expected answers: a HostProcess pod allowed and one
//     denied by /validate, a HostProcess pod defaulted, a plain pod left
//     alone and a HostProcess pod denied (its namespace does not exist) by
//     /mutate (that last one, a lookup of the API server each time, at
//     -missing-namespace-rate);
//   - hostile clients at -hostile-rate each per second: malformed JSON,
//     truncated bodies (a valid review cut short, with a matching
//     Content-Length), slow clients that stall mid-header or before the TLS
//     handshake, connections closed early (after the TCP connect, the TLS
//     handshake, half the body, or the whole request), and at
//     -oversized-rate bodies 1 MiB over --max-body-bytes, streamed.
//
// It samples the server's VmRSS (/proc/PID/status), live heap
// (go_gc_heap_live_bytes) and goroutines (go_goroutines) from the metrics
// endpoint, open file descriptors (/proc/PID/fd) and the webhook port's
// connections (/proc/PID/net/tcp) every 5 s, and fails (exit 1) when an
// answer is wrong (a 5xx, an admitted denial, a wrong verdict, message or
// patch, a hostile body that is not denied, a slow client that is never cut
// off, a valid review not answered), when the process dies, or when it grew
// beyond the tolerances printed with the results: RSS, live heap, and
// goroutines and fds less the webhook connections (whose number depends on
// the clients) from the window after warm-up to the last window; goroutines
// and fds from idle before the load to after it, every client connection
// closed.
//
// Results: a table on stdout and bench/results/soak.json.
//
// Usage: go -C hack/bench run ./soak [flags]   (make soak)
//
// Linux only: it reads /proc and starts the control plane of internal/testenv.
package main
