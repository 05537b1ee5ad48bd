//go:build !windows

package charttest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImagePlatformsAreTheOnesBuildAllBuilds keeps hack/image.sh, the
// Dockerfile and `make build-all` (which CI runs, without Docker) on the
// same platforms and the same version stamping.
func TestImagePlatformsAreTheOnesBuildAllBuilds(t *testing.T) {
	makefile := readRepoFile(t, "Makefile")
	script := readRepoFile(t, "hack/image.sh")
	dockerfile := readRepoFile(t, "Dockerfile")

	var buildAll []string
	for _, m := range regexp.MustCompile(`GOOS=(\w+)\s+GOARCH=(\w+)`).FindAllStringSubmatch(makefile, -1) {
		buildAll = append(buildAll, m[1]+"/"+m[2])
	}
	var images []string
	for _, m := range regexp.MustCompile(`(?m)^(?:LINUX|WINDOWS)_PLATFORMS=(\S+)$`).FindAllStringSubmatch(script, -1) {
		images = append(images, strings.Split(m[1], ",")...)
	}
	slices.Sort(buildAll)
	slices.Sort(images)
	if len(images) == 0 || !slices.Equal(slices.Compact(buildAll), images) {
		t.Errorf("hack/image.sh builds %v, make build-all cross-compiles %v", images, buildAll)
	}

	for _, v := range []string{"internal/version.Version=", "internal/version.Commit="} {
		if !strings.Contains(makefile, v) || !strings.Contains(dockerfile, "github.com/hostprocess-admission/hostprocess-admission/"+v) {
			t.Errorf("the Makefile and the Dockerfile do not both stamp %s", v)
		}
	}
	for _, want := range []string{
		"ARG LINUX_BASE=gcr.io/distroless/static-debian12:nonroot",
		"ARG WINDOWS_BASE=mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:",
		"ENV CGO_ENABLED=0",
		"USER 65532:65532",
		"FROM ${TARGETOS} AS image",
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	stages := regexp.MustCompile(`(?m)^FROM .* AS (\w+)$`).FindAllStringSubmatch(dockerfile, -1)
	if last := stages[len(stages)-1][1]; last != "image" {
		t.Errorf("the default (last) stage is %s, want image", last)
	}

	// The chart runs the image as the user the image declares.
	d := get[appsv1.Deployment](t, render(t), "Deployment", fullname)
	if uid := d.Spec.Template.Spec.SecurityContext.RunAsUser; uid == nil || *uid != 65532 {
		t.Errorf("the chart runs the webhook as UID %v, the image as 65532", uid)
	}
}
