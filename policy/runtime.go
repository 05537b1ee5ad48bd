package policy

import "github.com/hostprocess-admission/hostprocess-admission/config"

/*
What the node's runtime does with a HostProcess pod, beyond the fields of its
spec. containerd hands the pod's annotations to hcsshim only for the keys its
runtime's pod_annotations setting lists (none by default); an operator may
list microsoft.com/*, so the policy assumes every annotation arrives.

hcsshim's annotations for job containers (pkg/annotations/annotations.go) and
what the policy does with each, as docs/policy.md explains:

  microsoft.com/hostprocess-inherit-user     every container runs with the
      shim's own token (SYSTEM), whatever runAsUserName says: rule inheritUser.
  microsoft.com/hostprocess-rootfs-location  where the image's files are put:
      no change of account or privilege, a warning.
  microsoft.com/hostprocess-container        containerd overwrites it from
      securityContext.windowsOptions.hostProcess: no effect.
  microsoft.com/disable-hostprocess-container  can only stop a HostProcess
      container from starting: no effect on what runs.
*/

const (
	// InheritUserAnnotation makes hcsshim run every container of a
	// HostProcess pod with the shim's own token.
	InheritUserAnnotation = "microsoft.com/hostprocess-inherit-user"
	// RootfsLocationAnnotation sets where hcsshim puts a job container's files.
	RootfsLocationAnnotation = "microsoft.com/hostprocess-rootfs-location"
)

// RuntimeAnnotations are the annotations the policy reads.
var RuntimeAnnotations = []string{InheritUserAnnotation, RootfsLocationAnnotation}

// InheritUserValues are the values of InheritUserAnnotation taken to make
// every container run as SYSTEM. hcsshim honours exactly "true"
// (internal/jobcontainers/oci.go, inheritUserTokenIsSet); the other values Go's
// strconv.ParseBool reads as true are taken the same way, so that a runtime
// that parses the value as a boolean cannot run a pod as SYSTEM unjudged.
var InheritUserValues = []string{"true", "1", "t", "T", "TRUE", "True"}

// inheritsUser reports whether annotations make every container run as SYSTEM,
// with the annotation's value.
func inheritsUser(annotations map[string]string) (value string, ok bool) {
	v, found := annotations[InheritUserAnnotation]
	if !found {
		return "", false
	}
	for _, t := range InheritUserValues {
		if v == t {
			return v, true
		}
	}
	return v, false
}

// annotationPath returns the field path of the annotation key beside the spec
// at specPath, e.g. metadata.annotations[microsoft.com/hostprocess-inherit-user].
func annotationPath(specPath, key string) string {
	return metaPath(specPath) + ".annotations[" + key + "]"
}

// systemAllowed reports whether NT AUTHORITY\SYSTEM is allowed in s.
func (s *scope) systemAllowed() bool { return s.allowsUser(config.SystemAccount) }
