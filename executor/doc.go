// Package executor runs operator-declared tasks on a Windows node, each run
// in a Job Object of its own, with limits, a timeout and a report.
//
// Tasks are executor.hostprocess.dev/v1alpha1 Task documents (see Task), read
// strictly from a directory, usually a mounted ConfigMap, and read again when
// it changes (LoadDir, Run). A file that does not load is reported, naming
// the file, the document and the field, and the tasks it held before stay in
// force.
//
// A Backend runs one process tree: on Windows in a Job Object created with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, the process started suspended, assigned
// to the job and only then resumed, the end of the tree seen through the
// job's completion port (ACTIVE_PROCESS_ZERO), and a timeout ending the whole
// tree with TerminateJobObject. On Linux, for development and tests, in a
// process group and a cgroup v2 where the executor may write one. A limit the
// OS does not keep is reported with the run, never dropped.
//
// The Scheduler runs each task when its trigger says: once per definition,
// every interval, or on each change of the definition. A task that cannot
// start is tried again after a delay that doubles, never in a loop.
//
// Everything the executor does goes to a Reporter: JSON lines on stdout
// (JSONReporter) and Prometheus metrics (MetricsReporter); Kubernetes
// reporting plugs in as another Reporter.
package executor
