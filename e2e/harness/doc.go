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
// Nothing stands in for a kubelet, a scheduler or a controller manager,
// except for one thing: the files of the webhook container's ConfigMap and
// Secret volumes, which the harness keeps in sync with the API like the
// kubelet would (VolumeSync). The webhook process authenticates with a
// TokenRequest token of the chart's ServiceAccount, so the chart's RBAC is
// what it is allowed to do.
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
