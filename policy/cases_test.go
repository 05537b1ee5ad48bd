package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// podCase is a rule case on a whole pod, run inside every workload kind.
type podCase struct {
	name      string
	config    func(*config.AdmissionConfiguration)
	namespace *Namespace
	pod       func(p *corev1.Pod)
	want      []want
}

func runPods(t *testing.T, cases []podCase) {
	t.Helper()
	for _, tc := range cases {
		p := mustPolicy(t, tc.config)
		for _, w := range wrappers {
			t.Run(tc.name+"/"+w.kind, func(t *testing.T) {
				pod := validPod()
				tc.pod(pod)
				ns := Namespace{Name: pod.Namespace}
				if tc.namespace != nil {
					ns = *tc.namespace
				}
				tmpl, err := Extract(w.wrap(pod))
				if err != nil {
					t.Fatal(err)
				}
				res := p.Evaluate(Input{Namespace: ns, Spec: tmpl.Spec, SpecPath: tmpl.SpecPath})
				var expected []Violation
				for _, wt := range tc.want {
					expected = append(expected, wt.expand(w.specPath, ""))
				}
				assertViolations(t, res.Violations, expected)
			})
		}
	}
}

func setHostProcess(c *corev1.Container, v *bool) {
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	if c.SecurityContext.WindowsOptions == nil {
		c.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
	}
	c.SecurityContext.WindowsOptions.HostProcess = v
}

func setUser(c *corev1.Container, user string) {
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	if c.SecurityContext.WindowsOptions == nil {
		c.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
	}
	c.SecurityContext.WindowsOptions.RunAsUserName = &user
}
