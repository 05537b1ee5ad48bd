//go:build !windows

package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/servetest"
	"github.com/hostprocess-admission/hostprocess-admission/internal/testenv"
)

// The configuration of the exception tests allows only Local service: a
// SYSTEM pod needs an exception.
const exceptionConfig = `apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
allowedUsers: ['NT AUTHORITY\Local service']
exceptions:
  maxLifetime: 1h
`

// exceptionWebhooks are the test's webhook configurations with the rules
// for HostProcessExceptions that the chart adds.
func exceptionWebhooks() envtest.WebhookInstallOptions {
	o := webhookConfigurations()
	rule := func(ops ...admissionregistrationv1.OperationType) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{config.Group}, APIVersions: []string{"v1alpha1"}, Resources: []string{config.ExceptionResource}}}
	}
	v := &o.ValidatingWebhooks[0].Webhooks[0]
	v.Rules = append(v.Rules, rule(admissionregistrationv1.Create, admissionregistrationv1.Update))
	m := &o.MutatingWebhooks[0].Webhooks[0]
	m.Rules = append(m.Rules, rule(admissionregistrationv1.Create))
	return o
}

func TestExceptionsAgainstTheAPIServer(t *testing.T) {
	crd, err := testenv.ExceptionCRD()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.WithWebhookInstallOptions(exceptionWebhooks()), testenv.WithCRDs(crd))
	w := env.Environment.WebhookInstallOptions
	serve := servetest.Start(t, servetest.Options{
		Kubeconfig: env.Kubeconfig, CertDir: w.LocalServingCertDir, Port: w.LocalServingPort, Config: []byte(exceptionConfig),
	})
	warned := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warned
	cs := kubernetes.NewForConfigOrDie(cfg)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := config.AddExceptionsToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	logf.SetLogger(logr.Discard())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ops"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	me := review.Status.UserInfo.Username
	const systemDenied = `admission webhook "validate.hostprocess.dev" denied the request: pods "%s" is forbidden: violates the HostProcess policy: ` +
		`pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\SYSTEM" is not allowed (allowed: NT AUTHORITY\Local service)`
	createSystemPod := func(name string) error {
		_, err := cs.CoreV1().Pods("ops").Create(ctx, hpPod(name, `NT AUTHORITY\SYSTEM`), metav1.CreateOptions{})
		return err
	}
	exception := func(name string, expires time.Time) *config.HostProcessException {
		return &config.HostProcessException{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: config.ExceptionSpec{
				Namespaces: []string{"ops"},
				Pods:       &config.ExceptionPods{NamePrefix: "debug-"},
				Grants:     config.ExceptionGrants{Accounts: []string{`NT AUTHORITY\SYSTEM`}},
				ExpiresAt:  metav1.NewTime(expires),
				Reason:     "node debugging",
				Ticket:     "INC-1",
			},
		}
	}

	t.Run("a SYSTEM pod is denied without an exception", func(t *testing.T) {
		if err := createSystemPod("debug-0"); err == nil || err.Error() != fmt.Sprintf(systemDenied, "debug-0") {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, fmt.Sprintf(systemDenied, "debug-0"))
		}
	})

	t.Run("bad exceptions are refused with an error naming each field", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Second)
		for _, tc := range []struct {
			name string
			edit func(*config.HostProcessException)
			want string
		}{{
			name: "expiresAt in the past",
			edit: func(e *config.HostProcessException) { e.Spec.ExpiresAt = metav1.NewTime(now.Add(-time.Minute)) },
			want: `admission webhook "validate.hostprocess.dev" denied the request: HostProcessException.hostprocess.dev "bad" is invalid: spec.expiresAt: Invalid value: "` +
				now.Add(-time.Minute).Format(time.RFC3339) + `": must be in the future (now: `,
		}, {
			name: "expiresAt beyond exceptions.maxLifetime",
			edit: func(e *config.HostProcessException) { e.Spec.ExpiresAt = metav1.NewTime(now.Add(2 * time.Hour)) },
			want: `HostProcessException.hostprocess.dev "bad" is invalid: spec.expiresAt: Invalid value: "` + now.Add(2*time.Hour).Format(time.RFC3339) +
				`": must be at most exceptions.maxLifetime (1h0m0s) after the exception's creation`,
		}, {
			name: "an administrative group",
			edit: func(e *config.HostProcessException) { e.Spec.Grants.LocalGroups = []string{"Administrators"} },
			want: `spec.grants.localGroups[0]: Forbidden: "Administrators" names the built-in group Administrators (S-1-5-32-544), which has administrative rights`,
		}, {
			name: "no reason, by the CRD's schema",
			edit: func(e *config.HostProcessException) { e.Spec.Reason = "" },
			want: `HostProcessException.hostprocess.dev "bad" is invalid: spec.reason: Invalid value: "": spec.reason in body should be at least 1 chars long`,
		}} {
			t.Run(tc.name, func(t *testing.T) {
				e := exception("bad", now.Add(time.Minute))
				tc.edit(e)
				err := c.Create(ctx, e)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error:\ngot:  %v\nwant it to contain: %s", err, tc.want)
				}
			})
		}
	})

	t.Run("a user who may create pods in the namespace cannot create an exception", func(t *testing.T) {
		// alice may do anything in ops, pods and roles included, and
		// nothing at the cluster scope.
		if _, err := cs.RbacV1().Roles("ops").Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "everything"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RbacV1().RoleBindings("ops").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-everything"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "everything"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		alice := rest.CopyConfig(env.Config)
		alice.Impersonate = rest.ImpersonationConfig{UserName: "alice"}
		ac, err := client.New(alice, client.Options{Scheme: scheme})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "alice's role binding", func() error {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "alice-web", Namespace: "ops"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
			return ac.Create(ctx, p)
		})
		err = ac.Create(ctx, exception("alice", time.Now().Add(30*time.Minute)))
		want := `hostprocessexceptions.hostprocess.dev is forbidden: User "alice" cannot create resource "hostprocessexceptions" in API group "hostprocess.dev" at the cluster scope`
		if err == nil || err.Error() != want {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, want)
		}
	})

	// The exception lives a few seconds; the steps below run inside them.
	expires := time.Now().Add(12 * time.Second).Truncate(time.Second)
	t.Run("a valid exception records its creator", func(t *testing.T) {
		e := exception("debug", expires)
		e.Annotations = map[string]string{config.CreatedByAnnotation: "somebody-else"}
		if err := c.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got := e.Annotations[config.CreatedByAnnotation]; got != me {
			t.Fatalf("created-by %q, want %q", got, me)
		}
		e.Annotations[config.CreatedByAnnotation] = "somebody-else"
		err := c.Update(ctx, e)
		want := `metadata.annotations[hostprocess.dev/created-by]: Invalid value: "somebody-else": is immutable: the exception was created by "` + me + `"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("changing the creator:\ngot:  %v\nwant: %s", err, want)
		}
	})

	t.Run("the same pod is admitted under the exception with a warning naming it", func(t *testing.T) {
		warned.take()
		eventually(t, 5*time.Second, "the exception in the webhook's cache", func() error { return createSystemPod("debug-1") })
		want := fmt.Sprintf(`admitted under HostProcessException "debug", which expires at %s`, expires.UTC().Format(time.RFC3339))
		if got := warned.take(); len(got) != 1 || got[0] != want {
			t.Fatalf("warnings %q, want [%q]", got, want)
		}
		if err := createSystemPod("agent-1"); err == nil || err.Error() != fmt.Sprintf(systemDenied, "agent-1") {
			t.Fatalf("a pod the exception does not select: %v", err)
		}
		m := scrape(t, serve.MetricsURL)
		if !strings.Contains(m, `hostprocess_admission_exception_admissions_total{exception="debug",namespace="ops"} 1`) {
			t.Fatalf("no exception metric:\n%s", grepLines(m, "exception"))
		}
	})

	t.Run("after expiry a new pod is denied again", func(t *testing.T) {
		time.Sleep(time.Until(expires))
		if err := createSystemPod("debug-2"); err == nil || err.Error() != fmt.Sprintf(systemDenied, "debug-2") {
			t.Fatalf("error:\ngot:  %v\nwant: %s", err, fmt.Sprintf(systemDenied, "debug-2"))
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
