package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// specFromBytes builds a pod spec from fuzz input: which containers exist and
// what each sets at pod and container level.
func specFromBytes(data []byte) *corev1.PodSpec {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	users := []string{"", `NT AUTHORITY\SYSTEM`, `nt authority\system`, "NT AUTHORITY\\\u017fYSTEM", "hpc-agents", "Administrator", "NT AUTHORITY\\SYSTEM "}
	tri := func(b byte) *bool {
		switch b % 3 {
		case 1:
			v := true
			return &v
		case 2:
			v := false
			return &v
		}
		return nil
	}
	user := func(b byte) *string {
		if b%8 == 7 {
			return nil
		}
		u := users[int(b%8)%len(users)]
		return &u
	}
	windows := func() *corev1.WindowsSecurityContextOptions {
		b := next()
		if b%5 == 0 {
			return nil
		}
		return &corev1.WindowsSecurityContextOptions{HostProcess: tri(b), RunAsUserName: user(next())}
	}
	spec := &corev1.PodSpec{HostNetwork: next()%2 == 0}
	if b := next(); b%4 != 0 {
		spec.SecurityContext = &corev1.PodSecurityContext{WindowsOptions: windows(), RunAsNonRoot: tri(b)}
	}
	switch next() % 4 {
	case 1:
		spec.NodeSelector = map[string]string{OSLabel: "linux"}
	case 2:
		spec.OS = &corev1.PodOS{Name: corev1.OSName([]string{"linux", "windows", ""}[next()%3])}
	case 3:
		requireTerms(osTerm([]corev1.NodeSelectorOperator{"In", "NotIn", "Exists", "DoesNotExist", "Gt"}[next()%5], "windows"))(&corev1.Pod{Spec: *spec})
	}
	container := func(name string) corev1.Container {
		c := corev1.Container{Name: name, Image: "mcr.microsoft.com/x"}
		if b := next(); b%3 != 0 {
			c.SecurityContext = &corev1.SecurityContext{WindowsOptions: windows(), RunAsNonRoot: tri(b), Privileged: tri(next())}
		}
		return c
	}
	for i := next() % 3; i > 0; i-- {
		spec.InitContainers = append(spec.InitContainers, container("init"))
	}
	for i := next() % 4; i > 0; i-- {
		spec.Containers = append(spec.Containers, container("app"))
	}
	for i := next() % 3; i > 0; i-- {
		spec.EphemeralContainers = append(spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(container("debug"))})
	}
	return spec
}

// FuzzEvaluate checks that IsHostProcess agrees with pod-security-admission's
// windowsHostProcess check on generated pod specs, and that Evaluate and
// Default never panic and only report violations for HostProcess pods.
func FuzzEvaluate(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{1, 1, 1, 1},
		{0, 1, 0, 2, 1, 1, 1, 1, 2, 2, 2},
		{1, 3, 1, 2, 0, 0, 1, 2, 3, 1, 1, 4, 5},
		{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
		{255, 254, 253, 252, 251, 250, 249, 248, 247, 246},
	} {
		f.Add(seed)
	}
	psaCheck := psapolicy.CheckWindowsHostProcess().Versions[0].CheckPod
	cfg := config.Default()
	cfg.AllowedLocalGroups = []string{"hpc-agents"}
	cfg.Defaults.LocalGroupNodeAffinity = true
	p, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec := specFromBytes(data)
		hp := IsHostProcess(spec)
		if psa := psaCheck(&metav1.ObjectMeta{}, spec); psa.Allowed == hp {
			t.Fatalf("IsHostProcess = %v but PSA windowsHostProcess allowed = %v (%s)", hp, psa.Allowed, psa.ForbiddenDetail)
		}
		res := p.Evaluate(Input{Namespace: Namespace{Name: "kube-system"}, Spec: spec})
		if res.HostProcess != hp {
			t.Fatalf("Result.HostProcess = %v, IsHostProcess = %v", res.HostProcess, hp)
		}
		if !hp && (len(res.Violations) > 0 || p.Default(Input{Spec: spec}) != nil) {
			t.Fatal("a non-HostProcess pod got violations or defaults")
		}
		for _, v := range res.Violations {
			if v.Rule == "" || v.Container == "" || v.Field == "" || v.Message == "" {
				t.Fatalf("incomplete violation %+v", v)
			}
		}
		p.Default(Input{Namespace: Namespace{Name: "kube-system"}, Spec: spec})
	})
}
