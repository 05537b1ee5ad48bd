//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/nativepolicy"
)

// e2eRun is one batch of pod creations through the API server.
type e2eRun struct {
	Case     string  `json:"case"` // none, hostprocess or plain
	Repeat   int     `json:"repeat"`
	Pods     int     `json:"pods"`
	Failed   int     `json:"failed"`
	Seconds  float64 `json:"seconds"`
	PodsPerS float64 `json:"pods_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// CPU time (utime+stime) per pod created of kube-apiserver, etcd, the
	// webhook process (A) and the whole machine (every process, also other
	// work on a shared machine). The first three do not depend on what else
	// the machine runs, only on the work done for the pods.
	APIServerCPUPerPod float64 `json:"apiserver_cpu_ms_per_pod"`
	EtcdCPUPerPod      float64 `json:"etcd_cpu_ms_per_pod"`
	// The same less what kube-apiserver and etcd spend while idle (their
	// CPU per second over the idle seconds before the run, times the run's
	// length): the CPU the pods themselves cost. Without it, a run slowed
	// down by other work on the machine counts more of the idle background
	// per pod.
	APIServerNetCPUPerPod float64 `json:"apiserver_net_cpu_ms_per_pod"`
	EtcdNetCPUPerPod      float64 `json:"etcd_net_cpu_ms_per_pod"`
	APIServerIdleMsPerS   float64 `json:"apiserver_idle_cpu_ms_per_s"`
	EtcdIdleMsPerS        float64 `json:"etcd_idle_cpu_ms_per_s"`
	WebhookCPUPerPod      float64 `json:"webhook_cpu_ms_per_pod"`
	MachineCPUPerPod      float64 `json:"machine_cpu_ms_per_pod"`
	// The accounting (accounting.go): kube-apiserver's CPU per pod under the
	// admission chain and the admission's share of the background garbage
	// collection, over the ProfiledPods created while the CPU profile ran.
	AdmissionCPUPerPod  float64 `json:"apiserver_admission_cpu_ms_per_pod,omitempty"`
	AdmissionGCPerPod   float64 `json:"apiserver_admission_gc_ms_per_pod,omitempty"`
	AdmissionAllocShare float64 `json:"apiserver_admission_alloc_share,omitempty"`
	ProfiledPods        int     `json:"profiled_pods,omitempty"`
	FirstFail           string  `json:"first_error,omitempty"`
}

// machineBusy returns the CPU time all CPUs spent outside idle and iowait,
// from /proc/stat.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// childPID finds the child process of this one whose command name is name:
// testenv starts etcd and kube-apiserver as children of the bench process,
// and other control planes on a shared machine are not its children.
func childPID(name string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:]) // state, ppid, ...
		if len(f) > 1 && s[open+1:end] == name && f[1] == strconv.Itoa(self) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process %s of the bench (pid %d)", name, self)
}

// chartWebhooks renders the chart's webhook configurations with bin/helm and
// points their clientConfig at url (with caBundle) instead of the Service.
func chartWebhooks(ctx context.Context, env *testenv.Env, chart, url string, caPEM []byte) (
	*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration, error) {
	out, err := env.Run(ctx, testenv.Helm, "template", "bench", chart, "--namespace", "hostprocess-admission")
	if err != nil {
		return nil, nil, err
	}
	var vwc *admissionregistrationv1.ValidatingWebhookConfiguration
	var mwc *admissionregistrationv1.MutatingWebhookConfiguration
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for i := 0; i < 1000; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the rendered chart: %w", err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, nil, err
		}
		switch meta.Kind {
		case "ValidatingWebhookConfiguration":
			vwc = &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict(doc, vwc); err != nil {
				return nil, nil, err
			}
		case "MutatingWebhookConfiguration":
			mwc = &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict(doc, mwc); err != nil {
				return nil, nil, err
			}
		}
	}
	if vwc == nil || mwc == nil {
		return nil, nil, errors.New("the chart rendered no Validating and Mutating WebhookConfiguration")
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig) {
		path := "/validate"
		if cc.Service != nil && cc.Service.Path != nil {
			path = *cc.Service.Path
		}
		cc.Service, cc.URL, cc.CABundle = nil, ptr.To(url+path), caPEM
	}
	for i := range vwc.Webhooks {
		point(&vwc.Webhooks[i].ClientConfig)
	}
	for i := range mwc.Webhooks {
		point(&mwc.Webhooks[i].ClientConfig)
	}
	return vwc, mwc, nil
}

// e2eBench creates pods through the API server.
type e2eBench struct {
	cs        *kubernetes.Clientset
	namespace string
	// The processes whose CPU time each run records.
	apiserverPID, etcdPID int
	// idle is how long each run first measures the idle CPU rates.
	idle    time.Duration
	etcdURL string
	vwc     *admissionregistrationv1.ValidatingWebhookConfiguration
	mwc     *admissionregistrationv1.MutatingWebhookConfiguration
	// bareVWC and bareMWC are the same configurations calling server B.
	bareVWC *admissionregistrationv1.ValidatingWebhookConfiguration
	bareMWC *admissionregistrationv1.MutatingWebhookConfiguration
	// native are the policies generated from the built-in configuration,
	// which the chart's default values also use.
	native *nativepolicy.Policies
}

func newE2E(ctx context.Context, env *testenv.Env, namespace string, vwc *admissionregistrationv1.ValidatingWebhookConfiguration,
	mwc *admissionregistrationv1.MutatingWebhookConfiguration) (*e2eBench, error) {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	e := &e2eBench{cs: cs, namespace: namespace, vwc: vwc, mwc: mwc, idle: 2 * time.Second, etcdURL: env.Environment.ControlPlane.Etcd.URL.String()}
	if e.apiserverPID, err = childPID(testenv.KubeAPIServer); err != nil {
		return nil, err
	}
	if e.etcdPID, err = childPID(testenv.Etcd); err != nil {
		return nil, err
	}
	return e, nil
}

// canary is a HostProcess pod the policy denies (runAsUserName not allowed),
// created with dry run to tell whether the webhooks are in force.
func (e *e2eBench) canary() *corev1.Pod {
	pod := e2ePod(hostProcessPod(e.namespace))
	pod.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
	return pod
}

// enforcement is what judges the pods of a run: nothing, the chart's webhook
// configurations, or the native policies generated from the same
// configuration (nativepolicy), evaluated inside kube-apiserver.
type enforcement int

const (
	enforceNone enforcement = iota
	enforceWebhooks
	enforceNative
	// enforceBare is the chart's configurations calling server B, which
	// admits everything without decoding.
	enforceBare
	// enforceFloor is the chart's configurations with the pod webhooks'
	// matchConditions 'false': never called, evaluated for every pod.
	enforceFloor
)

func (m enforcement) String() string {
	return [...]string{"none", "webhooks", "native policies", "webhooks calling B", "webhooks never called"}[m]
}

// setEnforcement registers the configurations or policies of m, removes the
// others, and waits until the API server acts accordingly.
func (e *e2eBench) setEnforcement(ctx context.Context, m enforcement) error {
	adm := e.cs.AdmissionregistrationV1()
	// The policies go first: they deny the canary before any validating
	// webhook is called, so the probes below would never see their own
	// answer while the previous case's policies are in force.
	if m != enforceNative {
		if err := nativepolicy.Delete(ctx, adm, e.native); err != nil {
			return err
		}
	}
	if m == enforceBare {
		// B admits the canary as no configuration would: first point the
		// configurations at a path B does not serve, and wait until the
		// canary fails there, so that B's configurations are known to be
		// in force once it is admitted again.
		probeV, probeM := e.bareVWC.DeepCopy(), e.bareMWC.DeepCopy()
		for i := range probeV.Webhooks {
			probeV.Webhooks[i].ClientConfig.URL = ptr.To(strings.Replace(*probeV.Webhooks[i].ClientConfig.URL, "/validate", "/bench-probe", 1))
		}
		for i := range probeM.Webhooks {
			probeM.Webhooks[i].ClientConfig.URL = ptr.To(strings.Replace(*probeM.Webhooks[i].ClientConfig.URL, "/mutate", "/bench-probe", 1))
		}
		if err := e.replaceWebhooks(ctx, probeV, probeM); err != nil {
			return err
		}
		if err := e.waitCanary(ctx, m, "failed calling webhook"); err != nil {
			return err
		}
		if err := e.replaceWebhooks(ctx, e.bareVWC, e.bareMWC); err != nil {
			return err
		}
	} else if m == enforceWebhooks {
		if err := e.replaceWebhooks(ctx, e.vwc, e.mwc); err != nil {
			return err
		}
	} else if m == enforceFloor {
		// The canary reaches no webhook either: first A's configurations,
		// which deny it, then these, under which it is admitted.
		if err := e.replaceWebhooks(ctx, e.vwc, e.mwc); err != nil {
			return err
		}
		if err := e.waitCanary(ctx, m, `"Administrator" is not allowed`); err != nil {
			return err
		}
		floorV, floorM := e.vwc.DeepCopy(), e.mwc.DeepCopy()
		never := []admissionregistrationv1.MatchCondition{{Name: "never", Expression: "false"}}
		for i := range floorV.Webhooks {
			if floorV.Webhooks[i].Name == "validate.hostprocess.dev" {
				floorV.Webhooks[i].MatchConditions = never
			}
		}
		for i := range floorM.Webhooks {
			floorM.Webhooks[i].MatchConditions = never
		}
		if err := e.replaceWebhooks(ctx, floorV, floorM); err != nil {
			return err
		}
	} else {
		if err := adm.ValidatingWebhookConfigurations().Delete(ctx, e.vwc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := adm.MutatingWebhookConfigurations().Delete(ctx, e.mwc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if m == enforceNative {
		if err := nativepolicy.Apply(ctx, adm, e.native); err != nil {
			return err
		}
	}
	// Bounded wait: the API server's informers pick the change up within a
	// second or so. Both the webhook and the policies deny the canary with the
	// same violation message; B admits it.
	if m == enforceWebhooks || m == enforceNative {
		return e.waitCanary(ctx, m, `"Administrator" is not allowed`)
	}
	return e.waitCanary(ctx, m, "")
}

// replaceWebhooks deletes the chart's configurations and creates vwc and
// mwc, so that a switch between A and B takes effect.
func (e *e2eBench) replaceWebhooks(ctx context.Context, vwc *admissionregistrationv1.ValidatingWebhookConfiguration, mwc *admissionregistrationv1.MutatingWebhookConfiguration) error {
	adm := e.cs.AdmissionregistrationV1()
	for _, err := range []error{
		adm.ValidatingWebhookConfigurations().Delete(ctx, vwc.Name, metav1.DeleteOptions{}),
		adm.MutatingWebhookConfigurations().Delete(ctx, mwc.Name, metav1.DeleteOptions{}),
	} {
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if _, err := adm.ValidatingWebhookConfigurations().Create(ctx, vwc.DeepCopy(), metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := adm.MutatingWebhookConfigurations().Create(ctx, mwc.DeepCopy(), metav1.CreateOptions{})
	return err
}

// waitCanary creates the canary pod with dry run until it fails with an
// error containing refusal twice in a row, or, with refusal empty, is
// admitted twice in a row.
func (e *e2eBench) waitCanary(ctx context.Context, m enforcement, refusal string) error {
	var last error
	for i := 0; i < 300; i++ {
		_, err := e.cs.CoreV1().Pods(e.namespace).Create(ctx, e.canary(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		ok := err == nil
		if refusal != "" {
			ok = err != nil && strings.Contains(err.Error(), refusal)
		}
		if ok {
			if i > 0 && last == nil {
				return nil
			}
			last = nil
		} else {
			last = fmt.Errorf("%s: canary pod: %v", m, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the API server did not apply %s in 30s: %v", m, last)
}

// clean deletes every pod in the namespace and waits until none is left.
// The pods are deleted in etcd with one range delete (kube-apiserver's
// default prefix /registry): the API server's deletes took about 5 ms of
// CPU per pod, 50 s for a run of 10,000 pods on the shared 2 cores, which was
// most of the end-to-end part's time. The API server sees the deletions
// through its watch of etcd, as it would see another client's.
func (e *e2eBench) clean(ctx context.Context) error {
	pods := e.cs.CoreV1().Pods(e.namespace)
	prefix := "/registry/pods/" + e.namespace + "/"
	end := prefix[:len(prefix)-1] + string(rune(prefix[len(prefix)-1]+1))
	body, _ := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end": base64.StdEncoding.EncodeToString([]byte(end))})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(e.etcdURL, "/")+"/v3/kv/deleterange", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("deleting the pods in etcd: %w", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("deleting the pods in etcd: HTTP %d: %s", resp.StatusCode, msg)
	}
	for i := 0; i < 600; i++ {
		list, err := pods.List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("pods were not deleted in 60s")
}

// e2ePod makes a pod fit for creation: no fields the API server computes.
func e2ePod(pod *corev1.Pod) *corev1.Pod {
	pod.Spec.Priority, pod.Spec.PreemptionPolicy = nil, nil
	pod.Spec.DeprecatedServiceAccount = ""
	return pod
}

// profiling is how a run profiles kube-apiserver for the accounting: a CPU
// profile for seconds from the start of the run, written to keep unless it
// is "".
type profiling struct {
	seconds int
	keep    string
}

// run creates n pods with workers concurrent clients.
// It also measures the CPU time of the webhook process (pid) and of the
// whole machine per pod created and, with prof, accounts for admission.
func (e *e2eBench) run(ctx context.Context, name string, pod *corev1.Pod, n, workers, pid int, prof *profiling) (e2eRun, error) {
	pods := e.cs.CoreV1().Pods(e.namespace)
	// The idle rates, over idle seconds right before the run, once
	// kube-apiserver has finished with the previous run's deletions (10,000
	// watch events for its cache): until a second
	// costs it less than 50 ms of CPU, or 30 s.
	for i := 0; i < 30; i++ {
		a, _ := cpuTime(e.apiserverPID)
		time.Sleep(time.Second)
		b, _ := cpuTime(e.apiserverPID)
		if b-a < 50*time.Millisecond {
			break
		}
	}
	// The accounting begins before the idle measurement: its first snapshot
	// costs kube-apiserver CPU.
	var acct *accounting
	if prof != nil {
		var err error
		if acct, err = e.beginAccount(ctx, *prof); err != nil {
			return e2eRun{}, err
		}
	}
	apiIdle0, _ := cpuTime(e.apiserverPID)
	etcdIdle0, _ := cpuTime(e.etcdPID)
	idleStart := time.Now()
	time.Sleep(e.idle)
	idleFor := time.Since(idleStart)
	api0, _ := cpuTime(e.apiserverPID)
	etcd0, _ := cpuTime(e.etcdPID)
	apiIdle := float64(api0-apiIdle0) / float64(idleFor) // CPU seconds per second
	etcdIdle := float64(etcd0-etcdIdle0) / float64(idleFor)
	hook0, _ := cpuTime(pid)
	busy0 := machineBusy()
	lat := make([][]time.Duration, workers)
	var next, failed, created atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	if acct != nil {
		acct.start(ctx, &created)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				_, err := pods.Create(ctx, pod, metav1.CreateOptions{})
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					created.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	api1, _ := cpuTime(e.apiserverPID)
	etcd1, _ := cpuTime(e.etcdPID)
	hook1, _ := cpuTime(pid)
	busy1 := machineBusy()
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := e2eRun{Case: name, Pods: n, Failed: int(failed.Load()), Seconds: elapsed.Seconds(),
		PodsPerS: float64(n-int(failed.Load())) / elapsed.Seconds(),
		P50ms:    ms(quantile(all, 0.5)), P99ms: ms(quantile(all, 0.99)),
		APIServerCPUPerPod: ms(api1-api0) / float64(n), EtcdCPUPerPod: ms(etcd1-etcd0) / float64(n),
		APIServerNetCPUPerPod: (ms(api1-api0) - apiIdle*ms(elapsed)) / float64(n),
		EtcdNetCPUPerPod:      (ms(etcd1-etcd0) - etcdIdle*ms(elapsed)) / float64(n),
		APIServerIdleMsPerS:   apiIdle * 1000, EtcdIdleMsPerS: etcdIdle * 1000,
		WebhookCPUPerPod: ms(hook1-hook0) / float64(n), MachineCPUPerPod: ms(busy1-busy0) / float64(n)}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstFail = s
	}
	if acct == nil {
		return r, nil
	}
	a, err := acct.finish(ctx)
	if err != nil {
		return r, err
	}
	r.ProfiledPods, r.AdmissionAllocShare = a.Pods, round(a.AllocShare, 4)
	r.AdmissionCPUPerPod, r.AdmissionGCPerPod = a.perPod()
	return r, nil
}
