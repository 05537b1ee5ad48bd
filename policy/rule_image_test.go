package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

func imageRules(c *config.AdmissionConfiguration) {
	c.NamespaceRules = []config.NamespaceRule{{
		Namespaces:    []string{"kube-system"},
		AllowedImages: []string{"mcr.microsoft.com/*", "registry.example.com/windows/agent:v*"},
	}}
}

func TestImage(t *testing.T) {
	const allowed = "(allowed: mcr.microsoft.com/*, registry.example.com/windows/agent:v*)"
	for _, list := range []struct {
		name, container, path string
	}{{"init", "init", "initContainers[0]"}, {"regular", "app", "containers[0]"}, {"ephemeral", "debug", "ephemeralContainers[0]"}} {
		setImage := func(image string) func(p *corev1.Pod) {
			return func(p *corev1.Pod) { containerOf(&p.Spec, list.container).Image = image }
		}
		deny := func(image string) []want {
			return []want{{RuleImage, list.container, "{spec}." + list.path + ".image",
				`container "` + list.container + `": image "` + image + `" is not allowed ` + allowed}}
		}
		runPods(t, []podCase{
			{name: "an image under an allowed registry prefix is admitted in the " + list.name + " container", config: imageRules,
				pod: setImage("mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2")},
			{name: "an image matching a pattern with an inner wildcard is admitted in the " + list.name + " container", config: imageRules,
				pod: setImage("registry.example.com/windows/agent:v1.2")},
			{name: "an image from another registry is denied in the " + list.name + " container", config: imageRules,
				pod: setImage("docker.io/library/nginx:latest"), want: deny("docker.io/library/nginx:latest")},
			{name: "a registry that only starts with the allowed host is denied in the " + list.name + " container", config: imageRules,
				pod: setImage("mcr.microsoft.com.evil.io/agent"), want: deny("mcr.microsoft.com.evil.io/agent")},
			{name: "an unqualified image is denied in the " + list.name + " container", config: imageRules,
				pod: setImage("nanoserver"), want: deny("nanoserver")},
		})
	}
}

func TestImagePattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, image string
		want           bool
	}{
		{"mcr.microsoft.com/*", "mcr.microsoft.com/a/b/c:1", true},
		{"mcr.microsoft.com/*", "mcr.microsoft.com/", true},
		{"mcr.microsoft.com/*", "mcr.microsoft.com", false},
		{"exact:v1", "exact:v1", true},
		{"exact:v1", "exact:v1x", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false},
		{"a*bc*bc", "abcbc", true},
		{"a*bc*bc", "abc", false},
		{"*", "", true},
		{"*:v1", "anything/at:v1", true},
	} {
		if got := compileImagePattern(tc.pattern).match(tc.image); got != tc.want {
			t.Errorf("pattern %q match %q = %v, want %v", tc.pattern, tc.image, got, tc.want)
		}
	}
}
