package webhook

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// The scan reads the common forms of the small leaves of a pod spec itself:
// security contexts with Windows options, tolerations, and the node affinity
// the DaemonSet controller writes. A leaf in any other form (another member,
// a null array element, a number that is not a plain integer) is decoded by
// json.Unmarshal of its own bytes, which is what decoding the whole review
// would do with it.

// orLeaf reads the value at s.i with read, or, when read gives up, with
// json.Unmarshal of its bytes.
func orLeaf[T any](s *scanner, v *T, read func(*scanner, *T) bool) bool {
	start, mark, depth := s.i, len(s.names), s.depth
	var t T
	if read(s, &t) {
		*v = t
		return true
	}
	s.i, s.names, s.depth = start, s.names[:mark], depth
	return s.leaf(v)
}

var podSecurityContext = pointer(podSecurityContextMember)

func podSecurityContextMember(s *scanner, c *corev1.PodSecurityContext, name []byte) bool {
	switch string(name) {
	case "windowsOptions":
		return objectPtr(s, &c.WindowsOptions, windowsOptionsMember)
	case "runAsNonRoot":
		return boolPtr(s, &c.RunAsNonRoot)
	}
	return false
}

var securityContext = pointer(securityContextMember)

func securityContextMember(s *scanner, c *corev1.SecurityContext, name []byte) bool {
	switch string(name) {
	case "windowsOptions":
		return objectPtr(s, &c.WindowsOptions, windowsOptionsMember)
	case "runAsNonRoot":
		return boolPtr(s, &c.RunAsNonRoot)
	case "privileged":
		return boolPtr(s, &c.Privileged)
	case "allowPrivilegeEscalation":
		return boolPtr(s, &c.AllowPrivilegeEscalation)
	case "readOnlyRootFilesystem":
		return boolPtr(s, &c.ReadOnlyRootFilesystem)
	}
	return false
}

func windowsOptionsMember(s *scanner, w *corev1.WindowsSecurityContextOptions, name []byte) bool {
	switch string(name) {
	case "hostProcess":
		return boolPtr(s, &w.HostProcess)
	case "runAsUserName":
		return strPtr(s, &w.RunAsUserName)
	case "gmsaCredentialSpecName":
		return strPtr(s, &w.GMSACredentialSpecName)
	case "gmsaCredentialSpec":
		return strPtr(s, &w.GMSACredentialSpec)
	}
	return false
}

func tolerations(s *scanner, p *[]corev1.Toleration) bool {
	return arrayVia(s, p, &s.tolerations, toleration)
}

var toleration = element(tolerationMember)

func tolerationMember(s *scanner, t *corev1.Toleration, name []byte) bool {
	switch string(name) {
	case "key":
		return s.str(&t.Key)
	case "operator":
		return s.str((*string)(&t.Operator))
	case "value":
		return s.str(&t.Value)
	case "effect":
		return s.str((*string)(&t.Effect))
	case "tolerationSeconds":
		return int64Ptr(s, &t.TolerationSeconds)
	}
	return false
}

var affinity = pointer(affinityMember)

func affinityMember(s *scanner, a *corev1.Affinity, name []byte) bool {
	if string(name) == "nodeAffinity" {
		return objectPtr(s, &a.NodeAffinity, nodeAffinityMember)
	}
	return false
}

func nodeAffinityMember(s *scanner, a *corev1.NodeAffinity, name []byte) bool {
	if string(name) == "requiredDuringSchedulingIgnoredDuringExecution" {
		return objectPtr(s, &a.RequiredDuringSchedulingIgnoredDuringExecution, nodeSelectorMember)
	}
	return false
}

func nodeSelectorMember(s *scanner, n *corev1.NodeSelector, name []byte) bool {
	if string(name) == "nodeSelectorTerms" {
		return array(s, &n.NodeSelectorTerms, nodeSelectorTerm)
	}
	return false
}

var nodeSelectorTerm = element(nodeSelectorTermMember)

func nodeSelectorTermMember(s *scanner, t *corev1.NodeSelectorTerm, name []byte) bool {
	switch string(name) {
	case "matchExpressions":
		return array(s, &t.MatchExpressions, requirement)
	case "matchFields":
		return array(s, &t.MatchFields, requirement)
	}
	return false
}

var requirement = element(requirementMember)

func requirementMember(s *scanner, r *corev1.NodeSelectorRequirement, name []byte) bool {
	switch string(name) {
	case "key":
		return s.str(&r.Key)
	case "operator":
		return s.str((*string)(&r.Operator))
	case "values":
		return array(s, &r.Values, stringElem)
	}
	return false
}

// stringElem reads an array element that must be a string.
func stringElem(s *scanner, v *string) bool {
	return s.peek() == '"' && s.str(v)
}

// boolPtr reads a boolean into a new bool; null leaves *p nil.
func boolPtr(s *scanner, p **bool) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case 't', 'f':
		*p = new(bool)
		return s.boolean(*p)
	}
	return false
}

// strPtr reads a string into a new string; null leaves *p nil.
func strPtr(s *scanner, p **string) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
		*p = new(string)
		return s.str(*p)
	}
	return false
}

// int64Ptr reads an integer written without a fraction or exponent (and
// not -0) into a new int64; null leaves *p nil.
func int64Ptr(s *scanner, p **int64) bool {
	switch c := s.peek(); {
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
	default:
		return false
	}
	start := s.i
	if !s.number() {
		return false
	}
	lit := s.b[start:s.i]
	if string(lit) == "-0" {
		return false
	}
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		return false
	}
	*p = &n
	return true
}
