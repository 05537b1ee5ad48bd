//go:build !windows

package nativepolicy_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
	"github.com/hostprocess-admission/hostprocess-admission/nativepolicy"
)

// staticConfig allows NT AUTHORITY\Local service (%s: the mode).
const staticConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
mode: %s
workloadMode: enforce
allowedUsers: ['NT AUTHORITY\Local service']
audit: {enabled: false}
`

// TestStaticManifests starts the real kube-apiserver with the manifests of
// "generate native-policies --static" in its staticManifestsDir and shows
// that they deny a violating pod and default a valid one, are neither
// listed nor deletable through the API, guard the API-based copies, still
// deny while etcd is down and after it is back, and follow an edited file.
func TestStaticManifests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	generate := func(mode string) {
		t.Helper()
		cfgFile := filepath.Join(dir, "config.yaml")
		writeFile(t, cfgFile, []byte(fmt.Sprintf(staticConfig, mode)))
		out, err := exec.Command(bin, "generate", "native-policies", "--config", cfgFile, "--static", filepath.Join(dir, "static"),
			"--guard-user", "hpa-admin").CombinedOutput()
		if err != nil {
			t.Fatalf("generate --static: %v: %s", err, out)
		}
	}
	generate("enforce")
	env, err := testenv.New(
		testenv.WithAPIServerFlags("--admission-control-config-file="+filepath.Join(dir, "static", "admission-configuration.yaml")),
		testenv.WithEtcdDataDir(filepath.Join(dir, "etcd")),
		testenv.WithStartTimeout(120*time.Second), testenv.WithLogger(logr.Discard()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ctx := context.Background()

	bad := validPod()
	bad.Name = "bad"
	bad.Spec.EphemeralContainers = nil
	bad.Spec.SecurityContext.WindowsOptions.RunAsUserName = ptr.To("Administrator")
	const badMessage = `pods "bad" is forbidden: ValidatingAdmissionPolicy 'pods.hostprocess.dev.static.k8s.io' with binding ` +
		`'pods.hostprocess.dev.static.k8s.io' denied request: violates the HostProcess policy: ` +
		`pod: spec.securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: NT AUTHORITY\Local service)`
	// denied sends bad as a dry-run create and wants the static policy's
	// denial.
	denied := func() error {
		_, err := cs.CoreV1().Pods("default").Create(ctx, bad.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsForbidden(err) || err.Error() != badMessage {
			return fmt.Errorf("want %q, got %v", badMessage, err)
		}
		return nil
	}

	t.Run("a violating pod is denied and a valid one defaulted from the first request on", func(t *testing.T) {
		eventually(t, 30*time.Second, "the default namespace", func() error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
			return err
		})
		if err := denied(); err != nil {
			t.Fatal(err)
		}
		good := validPod()
		good.Name = "good"
		good.Spec.EphemeralContainers = nil
		got, err := cs.CoreV1().Pods("default").Create(ctx, good, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.NodeSelector["kubernetes.io/os"] != "windows" {
			t.Errorf("the static defaults policy did not add the node selector: %v", got.Spec.NodeSelector)
		}
	})

	t.Run("the static policies are neither listed nor deletable through the API", func(t *testing.T) {
		vaps, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		maps, err := cs.AdmissionregistrationV1().MutatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vaps.Items)+len(maps.Items) != 0 {
			t.Errorf("listed through the API: %d ValidatingAdmissionPolicies, %d MutatingAdmissionPolicies", len(vaps.Items), len(maps.Items))
		}
		for _, name := range []string{nativepolicy.PodsPolicy + nativepolicy.StaticSuffix, nativepolicy.GuardPolicy} {
			err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("deleting %s: want NotFound, got %v", name, err)
			}
		}
		err = cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, nativepolicy.PodsPolicy+nativepolicy.StaticSuffix, metav1.DeleteOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("deleting the binding: want NotFound, got %v", err)
		}
		// Nor can one be created in their place.
		_, err = cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: nativepolicy.PodsPolicy + nativepolicy.StaticSuffix},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
					},
				}}},
				Validations: []admissionregistrationv1.Validation{{Expression: "true"}},
			},
		}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("creating a policy named %s through the API: want Invalid, got %v", nativepolicy.PodsPolicy+nativepolicy.StaticSuffix, err)
		}
	})

	t.Run("the guard keeps the API-based copies from being deleted except by the named user", func(t *testing.T) {
		cfg, err := config.Decode([]byte(fmt.Sprintf(staticConfig, "enforce")))
		if err != nil {
			t.Fatal(err)
		}
		p, err := nativepolicy.Generate(cfg, nativepolicy.Options{})
		if err != nil {
			t.Fatal(err)
		}
		adm := cs.AdmissionregistrationV1()
		if err := nativepolicy.Apply(ctx, adm, p); err != nil {
			t.Fatal(err)
		}
		err = adm.ValidatingAdmissionPolicies().Delete(ctx, nativepolicy.PodsPolicy, metav1.DeleteOptions{})
		const want = `validatingadmissionpolicies.admissionregistration.k8s.io "pods.hostprocess.dev" is forbidden: ` +
			`ValidatingAdmissionPolicy 'guard.hostprocess.dev.static.k8s.io' with binding 'guard.hostprocess.dev.static.k8s.io' denied request: ` +
			`validatingadmissionpolicies pods.hostprocess.dev enforces the HostProcess policy and may only be changed or deleted by user hpa-admin ` +
			`(guard.hostprocess.dev.static.k8s.io)`
		if err == nil || err.Error() != want {
			t.Errorf("deleting %s as an administrator:\n got: %v\nwant: %s", nativepolicy.PodsPolicy, err, want)
		}
		b, err := adm.ValidatingAdmissionPolicyBindings().Get(ctx, nativepolicy.PodsPolicy, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b.Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
		if _, err := adm.ValidatingAdmissionPolicyBindings().Update(ctx, b, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("weakening the binding as an administrator: want Forbidden, got %v", err)
		}
		asAdmin := rest.CopyConfig(env.Config)
		asAdmin.Impersonate = rest.ImpersonationConfig{UserName: "hpa-admin", Groups: []string{"system:masters"}}
		if err := nativepolicy.Delete(ctx, kubernetes.NewForConfigOrDie(asAdmin).AdmissionregistrationV1(), p); err != nil {
			t.Errorf("deleting as hpa-admin: %v", err)
		}
	})

	t.Run("the static policies deny while etcd is down and after it is back", func(t *testing.T) {
		etcd := env.Environment.ControlPlane.Etcd
		if err := etcd.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := denied(); err != nil {
			t.Errorf("with etcd down: %v", err)
		}
		if err := etcd.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "the static policy's denial with etcd back", denied)
	})

	t.Run("an edited file is reloaded", func(t *testing.T) {
		// kube-apiserver checks the directory once a minute.
		generate("warn")
		eventually(t, 150*time.Second, "the pod admitted with a warning once the file says warn", func() error {
			var warnings []string
			cfg := rest.CopyConfig(env.Config)
			cfg.WarningHandler = warningsTo{&warnings}
			_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods("default").Create(ctx, bad.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return err
			}
			if len(warnings) != 1 || !strings.HasSuffix(warnings[0], `would violate the HostProcess policy: pod: spec.securityContext.windowsOptions.runAsUserName "Administrator" is not allowed (allowed: NT AUTHORITY\Local service)`) {
				return fmt.Errorf("warnings %q", warnings)
			}
			return nil
		})
	})
}

// warningsTo is a rest.WarningHandler that collects the warnings' texts.
type warningsTo struct{ list *[]string }

func (w warningsTo) HandleWarningHeader(_ int, _ string, text string) {
	*w.list = append(*w.list, text)
}
