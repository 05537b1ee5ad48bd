//go:build linux

package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// Environment variables set by hack/e2e.sh and hack/demo.sh for the process
// they run inside the network namespace.
const (
	// EnvNetns names the network namespace (ip netns add NAME).
	EnvNetns = "HOSTPROCESS_E2E_NETNS"
	// EnvAddress is the private /32 address on the namespace's lo.
	EnvAddress = "HOSTPROCESS_E2E_ADDRESS"
)

// ErrNoNetwork is returned by NetworkFromEnv when the scripts did not set
// EnvNetns and EnvAddress, i.e. the process was not started by hack/e2e.sh or
// hack/demo.sh.
var ErrNoNetwork = errors.New("not inside the e2e network namespace: run hack/e2e.sh (make test-e2e) or hack/demo.sh (make demo), which create it")

// Network is the network namespace the harness runs in.
type Network struct {
	// Name of the namespace, as in /run/netns/NAME.
	Name string
	// Address is the private address on the namespace's lo that the API
	// server advertises and the webhook listens on.
	Address string
}

// NetworkFromEnv returns the network described by EnvNetns and EnvAddress,
// after checking it (Check).
func NetworkFromEnv() (Network, error) {
	n := Network{Name: os.Getenv(EnvNetns), Address: os.Getenv(EnvAddress)}
	if n.Name == "" || n.Address == "" {
		return n, ErrNoNetwork
	}
	return n, n.Check()
}

// Check verifies that this process runs in the named network namespace, that
// the address is one of its own, and that there is no route out of it, so
// that everything the harness starts talks only to itself.
func (n Network) Check() error {
	var self, named syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &self); err != nil {
		return fmt.Errorf("reading this process's network namespace: %w", err)
	}
	if err := syscall.Stat(filepath.Join("/run/netns", n.Name), &named); err != nil {
		return fmt.Errorf("network namespace %q: %w (%w)", n.Name, err, ErrNoNetwork)
	}
	if self.Dev != named.Dev || self.Ino != named.Ino {
		return fmt.Errorf("this process is not inside network namespace %q (%w)", n.Name, ErrNoNetwork)
	}
	ip := net.ParseIP(n.Address)
	if ip == nil || ip.IsLoopback() || ip.To4() == nil {
		return fmt.Errorf("%s=%q: want a non-loopback IPv4 address", EnvAddress, n.Address)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	found := false
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(ip) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("address %s is not on an interface of network namespace %q", n.Address, n.Name)
	}
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(routes), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "00000000" {
			return fmt.Errorf("network namespace %q has a default route (via %s); the harness wants none", n.Name, f[0])
		}
	}
	return nil
}

// auditPolicy records, at Metadata level (which includes the webhooks' audit
// annotations), every write to pods and to the workload kinds the chart's
// webhooks see, and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  verbs: [get, list, watch]
- level: Metadata
  resources:
  - group: ""
    resources: [pods, pods/ephemeralcontainers, replicationcontrollers, podtemplates]
  - group: apps
  - group: batch
- level: None
`

// Cluster is a running control plane inside the network namespace.
type Cluster struct {
	*testenv.Env
	Network Network
	// Clientset is an admin clientset.
	Clientset kubernetes.Interface
	// Dir holds the audit policy, the audit log and the webhooks' files;
	// removed by Stop.
	Dir string
	// AuditLog is the path of the API server's audit log (JSON lines).
	AuditLog string
	// Log receives progress lines and the commands run (may be io.Discard).
	Log io.Writer

	webhooks []*Webhook
	// apiServer is set once StopAPIServer has run (apiserver.go).
	apiServer *apiServer
}

// StartCluster starts etcd and kube-apiserver from bin/ with an audit policy
// and log, --advertise-address set to the network's address and
// --enable-aggregator-routing, so that the API server calls webhooks at the
// endpoints of their Service.
func StartCluster(n Network, log io.Writer) (*Cluster, error) {
	if log == nil {
		log = io.Discard
	}
	dir, err := os.MkdirTemp("", "hostprocess-e2e-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Network: n, Dir: dir, AuditLog: filepath.Join(dir, "audit.log"), Log: log}
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	fmt.Fprintf(log, "starting etcd and kube-apiserver (advertising %s in network namespace %s)...\n", n.Address, n.Name)
	start := time.Now()
	env, err := testenv.New(
		testenv.WithAPIServerFlags(
			"--advertise-address="+n.Address,
			"--enable-aggregator-routing=true",
			"--audit-policy-file="+policy,
			"--audit-log-path="+c.AuditLog,
			"--audit-log-format=json",
			"--audit-log-mode=blocking",
		),
		testenv.WithStartTimeout(3*time.Minute),
	)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.Env = env
	if c.Clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		_ = c.Stop()
		return nil, err
	}
	fmt.Fprintf(log, "control plane up in %s: %s\n", time.Since(start).Round(time.Second), env.Config.Host)
	return c, nil
}

// Stop stops every process the harness started (StopAll), then the control
// plane, and removes Dir.
func (c *Cluster) Stop() error {
	StopAll()
	for _, w := range c.webhooks {
		w.Volumes.Stop()
	}
	var errs []error
	if c.Env != nil {
		errs = append(errs, c.Env.Stop())
	}
	errs = append(errs, os.RemoveAll(c.Dir))
	return errors.Join(errs...)
}

// Result is the outcome of a command (kubectl, helm).
type Result struct {
	Command string
	Stdout  string
	Stderr  string
	Err     error
}

// Failed reports whether the command exited non-zero (or did not run).
func (r Result) Failed() bool { return r.Err != nil }

// String is the command with its output, for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("$ %s\n(err: %v)\nstdout:\n%s\nstderr:\n%s", r.Command, r.Err, r.Stdout, r.Stderr)
}

// Warnings returns the API server warnings that kubectl printed to stderr
// ("Warning: " lines), without that prefix.
func (r Result) Warnings() []string {
	var out []string
	for _, line := range strings.Split(r.Stderr, "\n") {
		if w, ok := strings.CutPrefix(line, "Warning: "); ok {
			out = append(out, w)
		}
	}
	return out
}

// Errors returns stderr without its "Warning: " lines.
func (r Result) Errors() string {
	var out []string
	for _, line := range strings.Split(r.Stderr, "\n") {
		if !strings.HasPrefix(line, "Warning: ") && strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Run runs bin/NAME (testenv.Kubectl or testenv.Helm) against the cluster
// with stdin (may be empty) and returns its output.
func (c *Cluster) Run(ctx context.Context, stdin string, name string, args ...string) Result {
	cmd := c.Env.Command(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	root, _ := testenv.RepoRoot()
	cmd.Dir = root
	r := Result{Command: name + " " + strings.Join(args, " ")}
	r.Err = cmd.Run()
	r.Stdout, r.Stderr = stdout.String(), stderr.String()
	return r
}

// Kubectl runs bin/kubectl with args, from the repository root.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) Result {
	return c.Run(ctx, "", testenv.Kubectl, args...)
}

// KubectlStdin runs bin/kubectl with stdin.
func (c *Cluster) KubectlStdin(ctx context.Context, stdin string, args ...string) Result {
	return c.Run(ctx, stdin, testenv.Kubectl, args...)
}

// Helm runs bin/helm with args, from the repository root.
func (c *Cluster) Helm(ctx context.Context, args ...string) Result {
	return c.Run(ctx, "", testenv.Helm, args...)
}

// AuditEvent is the part of an audit.k8s.io/v1 Event the tests read.
type AuditEvent struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Annotations map[string]string `json:"annotations"`
}

// AuditEvents reads every event of the API server's audit log.
func (c *Cluster) AuditEvents() ([]AuditEvent, error) {
	f, err := os.Open(c.AuditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log %s: %w", c.AuditLog, err)
		}
		events = append(events, e)
	}
	return events, sc.Err()
}
