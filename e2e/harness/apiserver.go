//go:build linux

package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// apiServer is what StopAPIServer needs to start the same kube-apiserver
// again: its binary, its exact arguments (same port, certificates,
// service-account keys, etcd, audit log) and, once restarted, the process.
type apiServer struct {
	path    string
	args    []string
	process *Process      // nil while the one envtest started runs
	gone    chan struct{} // closed when the stopped process has exited
}

// StopGrace is how long a stopped kube-apiserver may take to shut down
// gracefully before it is killed: it waits up to a minute for open watches
// to end, which is not what a test of an outage wants to wait for.
const StopGrace = 10 * time.Second

// StopAPIServer stops kube-apiserver, and only it: etcd, the webhooks and
// their files stay. It sends SIGTERM and returns as soon as the API
// server's port refuses connections: the outage has begun. The process
// itself gets StopGrace to exit before it is killed; StartAPIServer waits
// for that, then starts it again with the same flags, port and
// certificates, so every client's configuration stays valid.
func (c *Cluster) StopAPIServer(ctx context.Context) error {
	u, err := url.Parse(c.Config.Host)
	if err != nil {
		return err
	}
	var pid int
	if c.apiServer == nil {
		var path string
		var args []string
		if pid, path, args, err = findAPIServer(); err != nil {
			return err
		}
		c.apiServer = &apiServer{path: path, args: args}
	} else {
		if c.apiServer.process == nil || !c.apiServer.process.Running() {
			return errors.New("kube-apiserver is not running")
		}
		pid = c.apiServer.process.Pid()
	}
	start := time.Now()
	fmt.Fprintf(c.Log, "stopping kube-apiserver (pid %d)\n", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to kube-apiserver (pid %d): %w", pid, err)
	}
	gone := make(chan struct{})
	c.apiServer.gone = gone
	go func() {
		// The process is reaped by whoever started it (envtest, or
		// Process); wait until it is gone or a zombie.
		defer close(gone)
		killAt := start.Add(StopGrace)
		for alive(pid) {
			if time.Now().After(killAt) {
				fmt.Fprintf(c.Log, "kube-apiserver still runs %s after SIGTERM: SIGKILL\n", StopGrace)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				killAt = time.Now().Add(time.Minute)
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Fprintf(c.Log, "kube-apiserver exited %s after SIGTERM\n", time.Since(start).Round(time.Millisecond))
	}()
	for {
		conn, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			fmt.Fprintf(c.Log, "kube-apiserver refuses connections %s after SIGTERM\n", time.Since(start).Round(time.Millisecond))
			return nil
		}
		conn.Close()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the
// same binary and arguments, and waits until /readyz answers ok.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	if c.apiServer == nil {
		return errors.New("StartAPIServer without StopAPIServer")
	}
	select {
	case <-c.apiServer.gone:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the stopped kube-apiserver to exit: %w", ctx.Err())
	}
	if c.apiServer.process != nil && c.apiServer.process.Running() {
		return fmt.Errorf("kube-apiserver already running (pid %d)", c.apiServer.process.Pid())
	}
	p, err := StartProcess("kube-apiserver", filepath.Join(c.Dir, "kube-apiserver.log"), c.apiServer.path, c.apiServer.args, nil)
	if err != nil {
		return err
	}
	c.apiServer.process = p
	fmt.Fprintf(c.Log, "started kube-apiserver again (pid %d)\n", p.Pid())
	var last error
	for {
		body, err := c.Clientset.CoreV1().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		last = err
		select {
		case <-p.Exited():
			return fmt.Errorf("kube-apiserver exited: %v\n%s", p.ExitErr(), tail(p.Logs(), 4000))
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %v (%w)", last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// APIServerPid is the process ID of the running kube-apiserver.
func (c *Cluster) APIServerPid() (int, error) {
	if c.apiServer != nil {
		if c.apiServer.process == nil || !c.apiServer.process.Running() {
			return 0, errors.New("kube-apiserver is not running")
		}
		return c.apiServer.process.Pid(), nil
	}
	pid, _, _, err := findAPIServer()
	return pid, err
}

// findAPIServer finds the kube-apiserver that envtest started: the child of
// this process running bin/kube-apiserver, and its command line.
func findAPIServer() (pid int, path string, args []string, err error) {
	bin, err := testenv.Bin(testenv.KubeAPIServer)
	if err != nil {
		return 0, "", nil, err
	}
	if resolved, err := filepath.EvalSymlinks(bin); err == nil {
		bin = resolved
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", nil, err
	}
	self := os.Getpid()
	var found []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, err := procStat(p); err != nil || ppid != self || state == "Z" {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != bin {
			continue
		}
		found = append(found, p)
	}
	if len(found) != 1 {
		return 0, "", nil, fmt.Errorf("want one running child process %s, found %v", bin, found)
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(found[0]), "cmdline"))
	if err != nil {
		return 0, "", nil, err
	}
	argv := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	return found[0], bin, argv[1:], nil
}

// procStat returns the parent process ID and the state letter of pid.
func procStat(pid int) (int, string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", err
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, "", fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, f[0], err
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	_, state, err := procStat(pid)
	return err == nil && state != "Z"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
