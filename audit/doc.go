// Package audit finds the HostProcess pods and workloads that already run in a cluster and
// evaluates them under the current policy, for the on-demand `audit` command and for the
// background audit in `serve`.
//
// Both read the same objects (Namespaces, Pods and the workload kinds of the policy) and feed
// them to a Scanner, which groups each Pod under its top-level owner the way Pod Security
// Admission and Kyverno do: a Pod of a ReplicaSet of a Deployment is reported as the
// Deployment, whose pod template is evaluated, and a Pod of a Job of a CronJob as the CronJob.
// Only a Pod without such an owner is evaluated as itself. The outcome is a Result: one Object
// per HostProcess workload or standalone HostProcess Pod, with its users, images, nodes,
// violations and the namespace's Pod Security enforce level, and summary counts.
//
// The command reads with paginated lists (Collect), so memory stays flat however many pods
// there are, and renders a Result as a table, JSON, Markdown or one self-contained HTML page.
// The background audit (NewBackground) reads from the manager's informer cache and writes one
// OpenReports Report per namespace and a ClusterReport summary, only when their content changes.
//
// The OpenReports CRDs in crds/ are generated from github.com/openreports/reports-api by
// hack/generate.sh; they are never edited by hand.
package audit
