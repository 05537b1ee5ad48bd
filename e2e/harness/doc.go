// Package harness brings up what the e2e suite (package e2e) and `make demo`
// (e2e/cmd/demo) test against: the real control plane from bin/ (etcd and
// kube-apiserver through internal/testenv), with an audit log, and the Helm
// chart installed with bin/helm, its webhook running from
// bin/hostprocess-admission exactly as the chart's Deployment says.
//
// Everything runs inside a network namespace that hack/e2e.sh (or
// hack/demo.sh) creates. Its lo has one extra private /32 address: the API
// server advertises it, the webhook listens on it, and an EndpointSlice that
// the harness writes points the chart's Service at it. The API server then
// calls the webhooks as in a cluster, through the Service reference of the
// chart's unmodified webhook configurations (--enable-aggregator-routing),
// with the TLS server name <service>.<namespace>.svc and the caBundle that
// the webhook injected. CheckNetwork refuses to run anywhere else.
//
// StartNodes adds the scheduling half: kube-controller-manager (the
// DaemonSet, Deployment, ReplicaSet, garbage collector and namespace
// controllers), kube-scheduler and kwok from bin/, with simulated nodes
// (Windows ones labelled kubernetes.io/os=windows and tainted
// os=windows:NoSchedule, Linux ones), on which kwok marks bound pods Running
// and Ready. Nothing runs in those pods: the webhook runs as a local process
// as above, and the executor for one node runs the same way from its
// DaemonSet pod there (PrepareExecutor), with its Linux backend. The harness
// also keeps the files of the webhook's and the executor's ConfigMap and
// Secret volumes in sync with the API like the kubelet would (VolumeSync).
// The webhook process authenticates with a TokenRequest token of the
// chart's ServiceAccount, so the chart's RBAC is what it is allowed to do;
// the executor's token is bound to its pod, so it names its node.
//
// For the fault tests it can also run more replicas of the webhook
// (PrepareReplica: the same container on ports moved up, behind an
// EndpointSlice of its own), terminate one as Kubernetes would (Terminate),
// send AdmissionReviews straight to a process (Reviewer), run a load of
// checked requests (StartLoad), and stop and restart kube-apiserver alone
// (StopAPIServer, StartAPIServer).
//
// Every process the harness starts is registered and stopped by StopAll; the
// scripts also kill whatever is left in the namespace and delete it.
package harness
