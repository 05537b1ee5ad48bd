package audit

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psaapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// Pod Security enforce levels shown for namespaces without a valid label.
const (
	PodSecurityUnset   = "unset"
	PodSecurityInvalid = "invalid"
)

// WorkloadKinds are the workload kinds the audit reads (those of policy.Kinds), in the order a
// Scanner must be given them: every kind before the kinds it owns (Deployments before
// ReplicaSets, CronJobs before Jobs), so that owned objects can be grouped under their
// top-level owner.
var WorkloadKinds = func() []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, k := range policy.Kinds {
		if k.Workload() {
			out = append(out, k.GroupVersionKind)
		}
	}
	return out
}()

// objectKey names an object across kinds. The group keeps a custom resource whose kind is
// also called Deployment apart from apps' Deployment.
type objectKey struct {
	group, kind, namespace, name string
}

func ownerKey(namespace string, ref *metav1.OwnerReference) objectKey {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	return objectKey{group: gv.Group, kind: ref.Kind, namespace: namespace, name: ref.Name}
}

type namespaceInfo struct {
	labels      map[string]string
	podSecurity string
	terminating bool
}

type namespaceUser struct {
	namespace, user string
}

// Scanner evaluates the objects of a cluster, one at a time, and keeps only what the Result
// needs: the HostProcess objects and, for every workload, the key of its top-level owner.
// Give it the namespaces first, then the workloads in the order of WorkloadKinds, then the
// Pods. Objects in a terminating namespace are skipped. A Scanner is not safe for concurrent
// use.
type Scanner struct {
	policy     *policy.Policy
	namespaces map[string]namespaceInfo
	// topLevel maps every workload seen to the key of its top-level owner (itself when it has
	// no owner the scanner knows).
	topLevel map[objectKey]objectKey
	// objects are the HostProcess top-level objects.
	objects map[objectKey]*Object
	nodes   map[*Object]map[string]struct{}
	// podUsers counts the HostProcess Pods by namespace and effective user.
	podUsers map[namespaceUser]int
	hpPods   int
	scanned  Scanned
	// exceptions are the HostProcessExceptions applied at now.
	exceptions []*policy.Exception
	now        time.Time
}

// NewScanner returns a Scanner that evaluates under p.
func NewScanner(p *policy.Policy) *Scanner {
	return &Scanner{
		policy:     p,
		namespaces: map[string]namespaceInfo{},
		topLevel:   map[objectKey]objectKey{},
		objects:    map[objectKey]*Object{},
		nodes:      map[*Object]map[string]struct{}{},
		podUsers:   map[namespaceUser]int{},
	}
}

// SetExceptions makes the scanner evaluate under the HostProcessExceptions
// xs at the time now: an object admitted under an active one lists it, an
// object that still has the violation an expired one spared lists that one
// as expired (Object.Exceptions, Object.ExpiredExceptions).
func (s *Scanner) SetExceptions(xs []*policy.Exception, now time.Time) {
	s.exceptions, s.now = xs, now
}

// AddNamespace records a namespace's labels, for namespace rules and the Pod Security level.
func (s *Scanner) AddNamespace(name string, labels map[string]string, terminating bool) {
	s.scanned.Namespaces++
	s.namespaces[name] = namespaceInfo{labels: labels, podSecurity: podSecurityEnforce(labels), terminating: terminating}
}

// podSecurityEnforce returns the namespace's pod-security.kubernetes.io/enforce level.
func podSecurityEnforce(labels map[string]string) string {
	v, ok := labels[psaapi.EnforceLevelLabel]
	if !ok {
		return PodSecurityUnset
	}
	level, err := psaapi.ParseLevel(v)
	if err != nil {
		return PodSecurityInvalid
	}
	return string(level)
}

func (s *Scanner) terminating(namespace string) bool {
	return s.namespaces[namespace].terminating
}

// AddWorkload evaluates a workload (one of WorkloadKinds). One whose controller is a workload
// already added is only recorded as belonging to that owner's top-level object.
func (s *Scanner) AddWorkload(obj client.Object) error {
	kind := policy.KindOf(obj)
	if kind == nil || !kind.Workload() {
		return fmt.Errorf("audit: %T is not a workload kind", obj)
	}
	gvk := kind.GroupVersionKind
	s.scanned.Workloads++
	if s.terminating(obj.GetNamespace()) {
		return nil
	}
	key := objectKey{group: gvk.Group, kind: gvk.Kind, namespace: obj.GetNamespace(), name: obj.GetName()}
	if ctrl := metav1.GetControllerOfNoCopy(obj); ctrl != nil {
		if top, ok := s.topLevel[ownerKey(obj.GetNamespace(), ctrl)]; ok {
			s.topLevel[key] = top
			return nil
		}
	}
	s.topLevel[key] = key
	t := kind.Extract(obj)
	if t.Spec == nil || !policy.IsHostProcess(t.Spec) {
		return nil
	}
	s.add(key, gvk, obj, t, "")
	return nil
}

// AddPod counts a Pod and evaluates it unless it belongs to a HostProcess workload, to which
// it is then added.
func (s *Scanner) AddPod(pod *corev1.Pod) {
	s.scanned.Pods++
	if s.terminating(pod.Namespace) {
		return
	}
	hostProcess := policy.IsHostProcess(&pod.Spec)
	if hostProcess {
		s.hpPods++
		for _, u := range effectiveUsers(&pod.Spec) {
			s.podUsers[namespaceUser{pod.Namespace, u}]++
		}
	}
	owner := ""
	if ctrl := metav1.GetControllerOfNoCopy(pod); ctrl != nil {
		if top, ok := s.topLevel[ownerKey(pod.Namespace, ctrl)]; ok {
			if obj := s.objects[top]; obj != nil {
				if hostProcess {
					obj.Pods = append(obj.Pods, PodRef{Name: pod.Name, Node: pod.Spec.NodeName})
					s.addNode(obj, pod.Spec.NodeName)
				}
				return
			}
		}
		owner = ctrl.Kind + "/" + ctrl.Name
	}
	if !hostProcess {
		return
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	key := objectKey{kind: gvk.Kind, namespace: pod.Namespace, name: pod.Name}
	t := policy.Template{Meta: &pod.ObjectMeta, Spec: &pod.Spec, SpecPath: "spec"}
	obj := s.add(key, gvk, pod, t, owner)
	s.addNode(obj, pod.Spec.NodeName)
}

func (s *Scanner) addNode(obj *Object, node string) {
	if node == "" {
		return
	}
	set := s.nodes[obj]
	if set == nil {
		set = map[string]struct{}{}
		s.nodes[obj] = set
	}
	set[node] = struct{}{}
}

func (s *Scanner) add(key objectKey, gvk schema.GroupVersionKind, meta metav1.Object, t policy.Template, owner string) *Object {
	ns := s.namespaces[key.namespace]
	obj := &Object{
		Namespace:          key.namespace,
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               key.name,
		UID:                meta.GetUID(),
		Owner:              owner,
		Mode:               string(s.policy.ModeFor(t.Workload)),
		PodSecurityEnforce: ns.podSecurity,
		RunAsUserNames:     effectiveUsers(t.Spec),
		Images:             images(t.Spec),
	}
	if obj.PodSecurityEnforce == "" {
		obj.PodSecurityEnforce = PodSecurityUnset
	}
	switch {
	case s.policy.ExemptNamespace(key.namespace):
		obj.Status = StatusExempt
	default:
		in := policy.Input{
			Namespace: policy.Namespace{Name: key.namespace, Labels: ns.labels},
			Spec:      t.Spec,
			SpecPath:  t.SpecPath,
			Kind:      gvk.Kind,
		}
		if t.Meta != nil {
			in.Annotations, in.Labels = t.Meta.Annotations, t.Meta.Labels
		}
		in.Name = key.name
		res := s.policy.EvaluateWithExceptions(in, s.exceptions, s.now)
		obj.Violations, obj.Warnings = res.Violations, res.Warnings
		obj.Exceptions, obj.ExpiredExceptions = res.Exceptions, res.ExpiredExceptions
		obj.Status = StatusCompliant
		if len(res.Violations) > 0 {
			obj.Status = StatusViolating
		}
	}
	s.objects[key] = obj
	return obj
}

// Result returns the inventory and its summary. The Scanner must not be used afterwards.
func (s *Scanner) Result() *Result {
	res := &Result{APIVersion: ResultAPIVersion, Kind: ResultKind, Objects: make([]Object, 0, len(s.objects))}
	for _, obj := range s.objects {
		obj.Nodes = sortedKeys(s.nodes[obj])
		if len(obj.Nodes) == 0 {
			obj.Nodes = nil
		}
		sort.Slice(obj.Pods, func(i, j int) bool { return obj.Pods[i].Name < obj.Pods[j].Name })
		res.Objects = append(res.Objects, *obj)
	}
	sort.Slice(res.Objects, func(i, j int) bool {
		a, b := &res.Objects[i], &res.Objects[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	res.Summary = s.summarize(res.Objects)
	return res
}

func (s *Scanner) summarize(objects []Object) Summary {
	sum := Summary{Scanned: s.scanned, Objects: len(objects), HostProcessPods: s.hpPods}
	users := map[string]*UserCount{}
	user := func(name string) *UserCount {
		u := users[name]
		if u == nil {
			u = &UserCount{User: name}
			users[name] = u
		}
		return u
	}
	namespaces := map[string]*NamespaceCount{}
	rules := map[string]*RuleCount{}
	for i := range objects {
		obj := &objects[i]
		switch obj.Status {
		case StatusViolating:
			sum.Violating++
		case StatusCompliant:
			sum.Compliant++
		case StatusExempt:
			sum.Exempt++
		}
		sum.Violations += len(obj.Violations)
		for _, u := range obj.RunAsUserNames {
			user(u).Objects++
		}
		ns := namespaces[obj.Namespace]
		if ns == nil {
			ns = &NamespaceCount{Namespace: obj.Namespace, Exempt: obj.Status == StatusExempt}
			namespaces[obj.Namespace] = ns
		}
		ns.Objects++
		ns.Violations += len(obj.Violations)
		if obj.Status == StatusViolating {
			ns.Violating++
		}
		seen := map[string]bool{}
		for _, v := range obj.Violations {
			r := rules[v.Rule]
			if r == nil {
				r = &RuleCount{Rule: v.Rule}
				rules[v.Rule] = r
			}
			r.Violations++
			if !seen[v.Rule] {
				r.Objects++
				seen[v.Rule] = true
			}
		}
	}
	for nu, n := range s.podUsers {
		user(nu.user).Pods += n
	}
	sum.ByUser = make([]UserCount, 0, len(users))
	for _, u := range users {
		sum.ByUser = append(sum.ByUser, *u)
	}
	// Most used first: the reviewer's question is how many things run as SYSTEM.
	sort.Slice(sum.ByUser, func(i, j int) bool {
		a, b := sum.ByUser[i], sum.ByUser[j]
		if a.Objects != b.Objects {
			return a.Objects > b.Objects
		}
		if a.Pods != b.Pods {
			return a.Pods > b.Pods
		}
		return a.User < b.User
	})
	sum.ByNamespace = make([]NamespaceCount, 0, len(namespaces))
	for _, n := range namespaces {
		sum.ByNamespace = append(sum.ByNamespace, *n)
	}
	sort.Slice(sum.ByNamespace, func(i, j int) bool { return sum.ByNamespace[i].Namespace < sum.ByNamespace[j].Namespace })
	sum.ByRule = make([]RuleCount, 0, len(rules))
	for _, id := range policy.Rules {
		if r := rules[id]; r != nil {
			sum.ByRule = append(sum.ByRule, *r)
		}
	}
	return sum
}
