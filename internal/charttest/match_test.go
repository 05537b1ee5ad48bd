//go:build !windows

package charttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// The matchConditions are tested in the real API server with no webhook
// behind the chart's configurations (no pods, no endpoints) and every
// failurePolicy Fail: a request that reaches a webhook fails, naming it,
// and a request the conditions exclude succeeds. So a plain pod that is
// created proves that it never depended on the webhook.

const (
	covered  = "match-covered" // the webhooks apply
	optedOut = "match-opted-out"
)

func errCalling(hook string) string { return fmt.Sprintf("failed calling webhook %q", hook) }

// expectReached fails unless err is the failure of calling hook.
func expectReached(t *testing.T, err error, hook string) {
	t.Helper()
	if err == nil {
		t.Errorf("admitted without calling %s", hook)
	} else if !strings.Contains(err.Error(), errCalling(hook)) {
		t.Errorf("want a failed call to %s, got: %v", hook, err)
	}
}

// hostNetworkRule is how kube-apiserver's validation refuses a HostProcess
// container in a pod without host network; the validating pod webhook's
// condition rests on it (docs/install.md).
const hostNetworkRule = "hostNetwork must be true if pod contains any hostProcess containers"

// expectRefusedByValidation fails unless err is the API server's validation
// refusing a HostProcess pod without host network, with no webhook called.
func expectRefusedByValidation(t *testing.T, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Error("admitted, want refused by the API server's validation")
	case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), hostNetworkRule) || strings.Contains(err.Error(), "failed calling webhook"):
		t.Errorf("want the API server's validation to refuse it (%q) before any webhook, got: %v", hostNetworkRule, err)
	}
}

func expectNotReached(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("refused, want admitted without any webhook: %v", err)
	}
}

func hp(b bool) *corev1.SecurityContext {
	return &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: &b, RunAsUserName: new(`NT AUTHORITY\SYSTEM`)}}
}

func podHP(b bool) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: &b, RunAsUserName: new(`NT AUTHORITY\SYSTEM`)}}
}

const image = "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0"

// podSpecs are pod specs by the part of the CEL they exercise.
var (
	plainSpecs = map[string]func() corev1.PodSpec{
		"no securityContext at all": func() corev1.PodSpec {
			return corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}
		},
		"a pod securityContext without windowsOptions": func() corev1.PodSpec {
			return corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true)},
				Containers: []corev1.Container{{Name: "c", Image: image, SecurityContext: &corev1.SecurityContext{}}}}
		},
		"windowsOptions without hostProcess at pod and container level": func() corev1.PodSpec {
			return corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: new("ContainerUser")}},
				InitContainers: []corev1.Container{{Name: "i", Image: image, SecurityContext: &corev1.SecurityContext{
					WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: new("ContainerAdministrator")}}}},
				Containers: []corev1.Container{{Name: "c", Image: image, SecurityContext: &corev1.SecurityContext{
					WindowsOptions: &corev1.WindowsSecurityContextOptions{}}}},
			}
		},
		"hostProcess false at pod level": func() corev1.PodSpec {
			return corev1.PodSpec{SecurityContext: podHP(false), Containers: []corev1.Container{{Name: "c", Image: image}}}
		},
		"hostProcess false on every container": func() corev1.PodSpec {
			return corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "i", Image: image, SecurityContext: hp(false)}},
				Containers:     []corev1.Container{{Name: "a", Image: image, SecurityContext: hp(false)}, {Name: "b", Image: image, SecurityContext: hp(false)}},
			}
		},
	}
	hostProcessSpecs = map[string]func() corev1.PodSpec{
		"hostProcess at pod level": func() corev1.PodSpec {
			return corev1.PodSpec{HostNetwork: true, SecurityContext: podHP(true), Containers: []corev1.Container{{Name: "c", Image: image}}}
		},
		"hostProcess on every container, not at pod level": func() corev1.PodSpec {
			return corev1.PodSpec{HostNetwork: true,
				InitContainers: []corev1.Container{{Name: "i", Image: image, SecurityContext: hp(true)}},
				Containers:     []corev1.Container{{Name: "a", Image: image, SecurityContext: hp(true)}, {Name: "b", Image: image, SecurityContext: hp(true)}}}
		},
		"hostProcess on the second container only": func() corev1.PodSpec {
			return corev1.PodSpec{HostNetwork: true,
				Containers: []corev1.Container{{Name: "a", Image: image}, {Name: "b", Image: image, SecurityContext: hp(true)}}}
		},
		"hostProcess on an init container only": func() corev1.PodSpec {
			return corev1.PodSpec{HostNetwork: true,
				InitContainers: []corev1.Container{{Name: "i", Image: image, SecurityContext: hp(true)}},
				Containers:     []corev1.Container{{Name: "c", Image: image}}}
		},
	}
)

// createNamespace creates a namespace with exactly labels, or gives an
// existing one those labels and empties it of every kind of policy.Kinds.
// Namespaces are never deleted: without the namespace controller a deleted
// namespace stays Terminating, and the next run of the test (-count) could
// not create it again.
func createNamespace(t *testing.T, ctx context.Context, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	err := env.Client.Create(ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		if err = env.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns); err == nil {
			ns.Labels = map[string]string{corev1.LabelMetadataName: name}
			for k, v := range labels {
				ns.Labels[k] = v
			}
			err = env.Client.Update(ctx, ns)
		}
		for _, k := range policy.Kinds {
			if err != nil {
				break
			}
			// No controller runs here: Pods without a node and workloads
			// deleted in the background are gone at once.
			err = env.Client.DeleteAllOf(ctx, k.New().(client.Object), client.InNamespace(name), client.GracePeriodSeconds(0),
				client.PropagationPolicy(metav1.DeletePropagationBackground)) // Jobs and ReplicationControllers default to orphan, which needs the garbage collector
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// optIn removes the opt-out label from a namespace, and waits until the
// API server's webhook namespace matcher has seen it: until probe reaches
// hook.
func optIn(t *testing.T, ctx context.Context, ns string, hook string, probe func() error) {
	t.Helper()
	patch := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/labels/hostprocess.dev~1webhook"}]`))
	if err := env.Client.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, patch); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := probe()
		if err != nil && strings.Contains(err.Error(), errCalling(hook)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s still not covered after a minute: %v", ns, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestMatchConditionsInTheAPIServer(t *testing.T) {
	ctx := testContext(t, 8*time.Minute)
	install(t, "--set", "webhook.workloads.failurePolicy=Fail")
	// Without the Service every call fails at once, whatever the resolver.
	if err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fullname}}); err != nil {
		t.Fatal(err)
	}
	createNamespace(t, ctx, covered, nil)
	createNamespace(t, ctx, optedOut, map[string]string{"hostprocess.dev/webhook": "disabled"})

	pod := func(ns, name string, spec corev1.PodSpec) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	}
	i := 0
	next := func() string { i++; return fmt.Sprintf("p%d", i) }

	t.Run("pods that are not HostProcess never reach the webhook", func(t *testing.T) {
		for name, spec := range plainSpecs {
			t.Run(name, func(t *testing.T) {
				expectNotReached(t, env.Client.Create(ctx, pod(covered, next(), spec())))
			})
		}
	})
	t.Run("HostProcess pods fail closed", func(t *testing.T) {
		for name, spec := range hostProcessSpecs {
			t.Run(name, func(t *testing.T) {
				// The mutating webhook comes first.
				expectReached(t, env.Client.Create(ctx, pod(covered, next(), spec())), "mutate.hostprocess.dev")
			})
		}
	})
	t.Run("HostProcess pods that carry the defaults skip the mutating webhook", func(t *testing.T) {
		for _, tc := range defaultsCases(nil) {
			t.Run(tc.name, func(t *testing.T) {
				spec := hostProcessSpecs["hostProcess at pod level"]()
				tc.set(&spec)
				hook := "mutate.hostprocess.dev"
				if !tc.lacks {
					hook = "validate.hostprocess.dev"
				}
				expectReached(t, env.Client.Create(ctx, pod(covered, next(), spec)), hook)
			})
		}
	})
	t.Run("HostProcess pods without host network reach neither webhook and are refused by the API server's validation", func(t *testing.T) {
		// Both conditions test host network first; this is why that leaves
		// out no pod the validating webhook could see. Without the node
		// selector, the pods lack a default: only host network keeps the
		// mutating webhook away.
		for name, spec := range hostProcessSpecs {
			t.Run(name, func(t *testing.T) {
				s := spec()
				s.HostNetwork = false
				expectRefusedByValidation(t, env.Client.Create(ctx, pod(covered, next(), s)))
			})
		}
	})
	t.Run("HostProcess pods in the release namespace and in opted-out namespaces never reach the webhook", func(t *testing.T) {
		for _, ns := range []string{namespace, optedOut} {
			p := pod(ns, next(), hostProcessSpecs["hostProcess at pod level"]())
			expectNotReached(t, env.Client.Create(ctx, p))
			_ = env.Client.Delete(ctx, p)
		}
	})

	t.Run("ephemeral containers", func(t *testing.T) {
		plain := pod(covered, "plain-for-debug", plainSpecs["no securityContext at all"]())
		if err := env.Client.Create(ctx, plain); err != nil {
			t.Fatal(err)
		}
		// debug adds an ephemeral container to the pod as it is now (a stale
		// resourceVersion would fail with a conflict before validating
		// webhooks run).
		debug := func(of *corev1.Pod, name string, sc *corev1.SecurityContext) error {
			p := &corev1.Pod{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(of), p); err != nil {
				return err
			}
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
				EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: image, SecurityContext: sc}})
			return env.Client.SubResource("ephemeralcontainers").Update(ctx, p)
		}
		t.Run("a normal debug container in a normal pod never reaches the webhook", func(t *testing.T) {
			expectNotReached(t, debug(plain, "debug", nil))
		})
		t.Run("a HostProcess debug container in a normal pod is refused by the API server's validation", func(t *testing.T) {
			// Before validating webhooks run: the pod has no host network (and
			// mixes HostProcess and other containers), which is why the
			// validating condition may test host network first.
			expectRefusedByValidation(t, debug(plain, "hp-debug", hp(true)))
		})

		// A HostProcess pod in a covered namespace: created while the
		// namespace opted out, then opted in.
		hpPod := pod(optedOut, "hostprocess-running", hostProcessSpecs["hostProcess at pod level"]())
		if err := env.Client.Create(ctx, hpPod); err != nil {
			t.Fatal(err)
		}
		// And one held back by a scheduling gate, whose owner may still add
		// node targeting.
		gated := pod(optedOut, "hostprocess-gated", hostProcessSpecs["hostProcess at pod level"]())
		gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
		if err := env.Client.Create(ctx, gated); err != nil {
			t.Fatal(err)
		}
		optIn(t, ctx, optedOut, "validate.hostprocess.dev", func() error {
			return debug(hpPod, fmt.Sprintf("probe%d", time.Now().UnixNano()), hp(true))
		})
		t.Run("a HostProcess debug container in a HostProcess pod reaches the webhook", func(t *testing.T) {
			expectReached(t, debug(hpPod, "hp-debug", hp(true)), "validate.hostprocess.dev")
		})
		t.Run("any debug container in a HostProcess pod reaches the webhook", func(t *testing.T) {
			expectReached(t, debug(hpPod, "debug", nil), "validate.hostprocess.dev")
		})

		t.Run("pod updates", func(t *testing.T) {
			update := func(mutate func(*corev1.Pod)) error {
				p := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(hpPod), p); err != nil {
					return err
				}
				mutate(p)
				return env.Client.Update(ctx, p)
			}
			t.Run("changing an image reaches the webhook", func(t *testing.T) {
				expectReached(t, update(func(p *corev1.Pod) { p.Spec.Containers[0].Image = image + "-other" }), "validate.hostprocess.dev")
			})
			t.Run("changing the image of a normal pod does not", func(t *testing.T) {
				p := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(plain), p); err != nil {
					t.Fatal(err)
				}
				p.Spec.Containers[0].Image = image + "-other"
				expectNotReached(t, env.Client.Update(ctx, p))
			})
			t.Run("relabelling does not", func(t *testing.T) {
				expectNotReached(t, update(func(p *corev1.Pod) { p.Labels = map[string]string{"team": "a"} }))
			})
			t.Run("adding a runtime annotation reaches the webhook", func(t *testing.T) {
				for _, key := range policy.RuntimeAnnotations {
					expectReached(t, update(func(p *corev1.Pod) { p.Annotations = map[string]string{key: "true"} }), "validate.hostprocess.dev")
				}
			})
			t.Run("adding another annotation does not", func(t *testing.T) {
				expectNotReached(t, update(func(p *corev1.Pod) { p.Annotations = map[string]string{"example.com/owner": "team-a"} }))
			})
			t.Run("adding a runtime annotation through pods/status reaches the webhook", func(t *testing.T) {
				p := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(hpPod), p); err != nil {
					t.Fatal(err)
				}
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations[policy.InheritUserAnnotation] = "true"
				expectReached(t, env.Client.Status().Update(ctx, p), "validate.hostprocess.dev")
			})
			updateGated := func(mutate func(*corev1.Pod)) error {
				p := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(gated), p); err != nil {
					return err
				}
				mutate(p)
				return env.Client.Update(ctx, p)
			}
			t.Run("adding a nodeSelector to a gated pod reaches the webhook", func(t *testing.T) {
				expectReached(t, updateGated(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"} }), "validate.hostprocess.dev")
			})
			t.Run("adding node affinity to a gated pod reaches the webhook", func(t *testing.T) {
				expectReached(t, updateGated(func(p *corev1.Pod) {
					p.Spec.Affinity = osTerm(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"windows"}}}})
				}), "validate.hostprocess.dev")
			})
			t.Run("adding a toleration to a gated pod does not", func(t *testing.T) {
				expectNotReached(t, updateGated(func(p *corev1.Pod) {
					p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule})
				}))
			})
			t.Run("removing the scheduling gate does not", func(t *testing.T) {
				expectNotReached(t, updateGated(func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }))
			})
			bind := func(annotations map[string]string) error {
				return env.Client.SubResource("binding").Create(ctx, hpPod, &corev1.Binding{
					ObjectMeta: metav1.ObjectMeta{Name: hpPod.Name, Namespace: hpPod.Namespace, Annotations: annotations},
					Target:     corev1.ObjectReference{Kind: "Node", Name: "win-node-1"},
				})
			}
			t.Run("a Binding with a runtime annotation reaches the webhook", func(t *testing.T) {
				expectReached(t, bind(map[string]string{policy.InheritUserAnnotation: "true"}), "validate.hostprocess.dev")
			})
			t.Run("the scheduler's Binding, without annotations, does not", func(t *testing.T) {
				expectNotReached(t, bind(nil))
			})
			t.Run("adding and removing a finalizer does not", func(t *testing.T) {
				expectNotReached(t, update(func(p *corev1.Pod) { p.Finalizers = append(p.Finalizers, "example.com/hold") }))
				expectNotReached(t, update(func(p *corev1.Pod) { p.Finalizers = nil }))
			})
			t.Run("a status update does not", func(t *testing.T) {
				p := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(hpPod), p); err != nil {
					t.Fatal(err)
				}
				p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/Checked", Status: corev1.ConditionTrue})
				expectNotReached(t, env.Client.Status().Update(ctx, p))
			})
			t.Run("deleting does not", func(t *testing.T) {
				expectNotReached(t, env.Client.Delete(ctx, hpPod))
			})
		})
	})

	t.Run("workloads", func(t *testing.T) {
		const hook = "validate-workloads.hostprocess.dev"
		hpTemplate := hostProcessSpecs["hostProcess on every container, not at pod level"]
		for _, kind := range workloadKinds {
			t.Run(kind.name, func(t *testing.T) {
				expectNotReached(t, env.Client.Create(ctx, kind.make(covered, "plain", plainSpecs["hostProcess false at pod level"]())))
				expectReached(t, env.Client.Create(ctx, kind.make(covered, "hostprocess", hpTemplate())), hook)
				expectReached(t, env.Client.Create(ctx, kind.make(covered, "hostprocess-pod-level", hostProcessSpecs["hostProcess at pod level"]())), hook)
			})
		}

		// Updates of HostProcess workloads of every kind: created while their
		// namespace opted out, then opted in.
		const ns = optedOut + "-2"
		createNamespace(t, ctx, ns, map[string]string{"hostprocess.dev/webhook": "disabled"})
		for _, kind := range workloadKinds {
			if err := env.Client.Create(ctx, kind.make(ns, "agent", hpTemplate())); err != nil {
				t.Fatal(err)
			}
		}
		// update re-reads the object and applies mutate to it.
		update := func(kind int, mutate func(obj client.Object, tmpl *corev1.PodTemplateSpec)) error {
			obj := workloadKinds[kind].make(ns, "agent", corev1.PodSpec{})
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			mutate(obj, workloadKinds[kind].template(obj))
			return env.Client.Update(ctx, obj)
		}
		changeTemplate := func(_ client.Object, tmpl *corev1.PodTemplateSpec) {
			tmpl.Annotations = map[string]string{"restartedAt": time.Now().Format(time.RFC3339Nano)}
		}
		optIn(t, ctx, ns, hook, func() error { return update(0, changeTemplate) })
		for i, kind := range workloadKinds {
			t.Run(kind.name+" updates", func(t *testing.T) {
				t.Run("a change of the pod template reaches the webhook", func(t *testing.T) {
					err := update(i, changeTemplate)
					if kind.name == "Job" {
						// A Job's template is immutable: the API server's
						// validation refuses the change before validating
						// webhooks run.
						if !apierrors.IsInvalid(err) {
							t.Errorf("changing a Job's template: %v, want Invalid", err)
						}
						return
					}
					expectReached(t, err, hook)
				})
				t.Run("labels and annotations do not", func(t *testing.T) {
					expectNotReached(t, update(i, func(obj client.Object, _ *corev1.PodTemplateSpec) {
						obj.SetLabels(merge(obj.GetLabels(), "team", "a"))
						obj.SetAnnotations(merge(obj.GetAnnotations(), "example.com/revision", "2"))
					}))
				})
			})
		}
		t.Run("Deployment replicas do not", func(t *testing.T) {
			expectNotReached(t, update(0, func(obj client.Object, _ *corev1.PodTemplateSpec) {
				obj.(*appsv1.Deployment).Spec.Replicas = new(int32(3))
			}))
		})
	})
}

// defaultsCase is a HostProcess pod spec change and whether the pod then
// still lacks a default of the chart's config.defaults.
type defaultsCase struct {
	name  string
	set   func(*corev1.PodSpec)
	lacks bool
}

// osTerm requires kubernetes.io/os by a node affinity term.
func osTerm(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
}

// defaultsCases are the node selector cases of policy.Default, with
// tolerations set on every pod (nil for none).
func defaultsCases(tolerations []corev1.Toleration) []defaultsCase {
	osReq := corev1.NodeSelectorRequirement{Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpIn, Values: []string{"windows"}}
	with := func(f func(*corev1.PodSpec)) func(*corev1.PodSpec) {
		return func(s *corev1.PodSpec) { f(s); s.Tolerations = tolerations }
	}
	return []defaultsCase{
		{"no nodeSelector", with(func(*corev1.PodSpec) {}), true},
		{"nodeSelector kubernetes.io/os=windows", with(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"kubernetes.io/os": "windows"} }), false},
		{"nodeSelector kubernetes.io/os=linux (constrained; the validating webhook judges the value)", with(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"kubernetes.io/os": "linux"} }), false},
		{"another nodeSelector only", with(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"pool": "win"} }), true},
		{"a required affinity term on kubernetes.io/os", with(func(s *corev1.PodSpec) {
			s.Affinity = osTerm(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{osReq}})
		}), false},
		{"a second required term on kubernetes.io/os", with(func(s *corev1.PodSpec) {
			s.Affinity = osTerm(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}},
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{osReq}})
		}), false},
		{"kubernetes.io/os only in matchFields", with(func(s *corev1.PodSpec) {
			s.Affinity = osTerm(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}})
		}), true},
		{"kubernetes.io/os only preferred", with(func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 1, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{osReq}}}}}}
		}), true},
	}
}

// workloadKinds build each workload kind with a pod template.
var workloadKinds = []struct {
	name     string
	make     func(ns, name string, spec corev1.PodSpec) client.Object
	template func(client.Object) *corev1.PodTemplateSpec
}{
	{"Deployment", func(ns, name string, spec corev1.PodSpec) client.Object {
		return &appsv1.Deployment{ObjectMeta: meta(ns, name), Spec: appsv1.DeploymentSpec{Selector: sel(), Template: template(spec)}}
	}, func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.Deployment).Spec.Template }},
	{"ReplicaSet", func(ns, name string, spec corev1.PodSpec) client.Object {
		return &appsv1.ReplicaSet{ObjectMeta: meta(ns, name), Spec: appsv1.ReplicaSetSpec{Selector: sel(), Template: template(spec)}}
	}, func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.ReplicaSet).Spec.Template }},
	{"StatefulSet", func(ns, name string, spec corev1.PodSpec) client.Object {
		return &appsv1.StatefulSet{ObjectMeta: meta(ns, name), Spec: appsv1.StatefulSetSpec{Selector: sel(), Template: template(spec)}}
	}, func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.StatefulSet).Spec.Template }},
	{"DaemonSet", func(ns, name string, spec corev1.PodSpec) client.Object {
		return &appsv1.DaemonSet{ObjectMeta: meta(ns, name), Spec: appsv1.DaemonSetSpec{Selector: sel(), Template: template(spec)}}
	}, func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.DaemonSet).Spec.Template }},
	{"Job", func(ns, name string, spec corev1.PodSpec) client.Object {
		spec.RestartPolicy = corev1.RestartPolicyNever
		t := template(spec)
		return &batchv1.Job{ObjectMeta: meta(ns, name), Spec: batchv1.JobSpec{Template: t}}
	}, func(o client.Object) *corev1.PodTemplateSpec { return &o.(*batchv1.Job).Spec.Template }},
	{"CronJob", func(ns, name string, spec corev1.PodSpec) client.Object {
		spec.RestartPolicy = corev1.RestartPolicyOnFailure
		return &batchv1.CronJob{ObjectMeta: meta(ns, name), Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template(spec)}}}}
	}, func(o client.Object) *corev1.PodTemplateSpec {
		return &o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
	}},
	{"ReplicationController", func(ns, name string, spec corev1.PodSpec) client.Object {
		t := template(spec)
		return &corev1.ReplicationController{ObjectMeta: meta(ns, name), Spec: corev1.ReplicationControllerSpec{
			Selector: map[string]string{"app": "x"}, Template: &t}}
	}, func(o client.Object) *corev1.PodTemplateSpec { return o.(*corev1.ReplicationController).Spec.Template }},
	{"PodTemplate", func(ns, name string, spec corev1.PodSpec) client.Object {
		return &corev1.PodTemplate{ObjectMeta: meta(ns, name), Template: template(spec)}
	}, func(o client.Object) *corev1.PodTemplateSpec { return &o.(*corev1.PodTemplate).Template }},
}

func merge(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func sel() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
}

func template(spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: spec}
}

// The mutating webhook's condition is rendered from config.defaults: with
// tolerations configured, a HostProcess pod skips the call only when it has
// the node selector and every configured toleration, field for field.
func TestMutatingConditionFollowsTheDefaults(t *testing.T) {
	ctx := testContext(t, 8*time.Minute)
	const ns = "match-defaults"
	const tolerations = `config.defaults.tolerations=[{"key":"os","operator":"Equal","value":"windows","effect":"NoSchedule"},` +
		`{"key":"example.com/pool","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]`
	install(t, "--set-json", tolerations)
	noService := func() {
		err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fullname}})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	noService()
	createNamespace(t, ctx, ns, nil)

	osToleration := corev1.Toleration{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}
	pool := corev1.Toleration{Key: "example.com/pool", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))}
	// Not node.kubernetes.io/not-ready or unreachable: the API server's
	// DefaultTolerationSeconds plugin adds those to every pod before the
	// webhooks run.
	both := []corev1.Toleration{osToleration, pool}
	i := 0
	create := func(set func(*corev1.PodSpec)) error {
		i++
		spec := hostProcessSpecs["hostProcess at pod level"]()
		set(&spec)
		return env.Client.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("d%d", i)}, Spec: spec})
	}
	windows := func(tols ...corev1.Toleration) func(*corev1.PodSpec) {
		return func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{"kubernetes.io/os": "windows"}
			s.Tolerations = tols
		}
	}
	changed := func(t corev1.Toleration, f func(*corev1.Toleration)) corev1.Toleration { f(&t); return t }

	cases := defaultsCases(both)
	for _, tc := range []struct {
		name string
		tols []corev1.Toleration
	}{
		{"no tolerations", nil},
		{"only the first", []corev1.Toleration{osToleration}},
		{"only the second", []corev1.Toleration{pool}},
		{"the second without tolerationSeconds", []corev1.Toleration{osToleration, changed(pool, func(t *corev1.Toleration) { t.TolerationSeconds = nil })}},
		{"the second with another tolerationSeconds", []corev1.Toleration{osToleration, changed(pool, func(t *corev1.Toleration) { t.TolerationSeconds = new(int64(301)) })}},
		{"the first with another effect", []corev1.Toleration{changed(osToleration, func(t *corev1.Toleration) { t.Effect = corev1.TaintEffectNoExecute }), pool}},
		{"the first with another value", []corev1.Toleration{changed(osToleration, func(t *corev1.Toleration) { t.Value = "Windows" }), pool}},
		{"the first with operator Exists", []corev1.Toleration{changed(osToleration, func(t *corev1.Toleration) { t.Operator, t.Value = corev1.TolerationOpExists, "" }), pool}},
	} {
		cases = append(cases, defaultsCase{"nodeSelector and " + tc.name, windows(tc.tols...), true})
	}
	cases = append(cases,
		defaultsCase{"nodeSelector and both tolerations, in the other order", windows(pool, osToleration), false},
		defaultsCase{"nodeSelector and both tolerations, the first with operator empty (Equal)", windows(changed(osToleration, func(t *corev1.Toleration) { t.Operator = "" }), pool), false},
		defaultsCase{"nodeSelector, both tolerations and another", windows(both[0], both[1], corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists}), false},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hook := "mutate.hostprocess.dev"
			if !tc.lacks {
				hook = "validate.hostprocess.dev"
			}
			expectReached(t, create(tc.set), hook)
		})
	}

	// Every HostProcess pod reaches the mutating webhook again, once the
	// API server has the upgraded configuration.
	everyPodMutated := func(t *testing.T, args ...string) {
		helmCluster(t, append([]string{"upgrade", release, chartDir(t), "-n", namespace, "--reuse-values"}, args...)...)
		noService()
		deadline := time.Now().Add(time.Minute)
		for {
			err := create(windows(both...))
			if err != nil && strings.Contains(err.Error(), errCalling("mutate.hostprocess.dev")) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a pod with every default still does not reach the mutating webhook: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Run("webhook.skipDefaultedPods=false calls the mutating webhook for every HostProcess pod", func(t *testing.T) {
		everyPodMutated(t, "--set", "webhook.skipDefaultedPods=false")
	})
	t.Run("so does config.defaults.localGroupNodeAffinity=true", func(t *testing.T) {
		everyPodMutated(t, "--set", "webhook.skipDefaultedPods=true", "--set", "config.defaults.localGroupNodeAffinity=true")
	})
}
