package policy

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// containerKind names the three container lists of a pod spec.
type containerKind uint8

const (
	initContainer containerKind = iota
	regularContainer
	ephemeralContainer
)

var containerListField = [...]string{"initContainers", "containers", "ephemeralContainers"}

// containerRef is one container of a pod spec with its Windows security
// fields resolved against the pod level.
type containerRef struct {
	kind      containerKind
	index     int
	container *corev1.Container
	eff       effective
}

// Name returns the container's name.
func (c containerRef) Name() string { return c.container.Name }

// path returns the container's field path under specPath, e.g. spec.initContainers[1].
func (c containerRef) path(specPath string) string {
	return specPath + "." + containerListField[c.kind] + "[" + strconv.Itoa(c.index) + "]"
}

// source says where an effective value came from.
type source uint8

const (
	unset source = iota
	fromContainer
	fromPod
)

// effective holds the effective values of the Windows security fields of one
// container: the container's own value if set, otherwise the pod's.
type effective struct {
	hostProcess       bool
	hostProcessSrc    source
	runAsUserName     string
	runAsUserNameSrc  source
	runAsNonRoot      bool
	runAsNonRootSrc   source
	privilegedIgnored bool
}

// resolve computes a container's effective values. It is the only place that
// implements inheritance from spec.securityContext.
func resolve(pod *corev1.PodSecurityContext, c *corev1.Container) effective {
	var e effective
	var podWin *corev1.WindowsSecurityContextOptions
	if pod != nil {
		podWin = pod.WindowsOptions
	}
	var sc *corev1.SecurityContext = c.SecurityContext
	var win *corev1.WindowsSecurityContextOptions
	if sc != nil {
		win = sc.WindowsOptions
		e.privilegedIgnored = sc.Privileged != nil && *sc.Privileged
	}

	switch {
	case win != nil && win.HostProcess != nil:
		e.hostProcess, e.hostProcessSrc = *win.HostProcess, fromContainer
	case podWin != nil && podWin.HostProcess != nil:
		e.hostProcess, e.hostProcessSrc = *podWin.HostProcess, fromPod
	}
	switch {
	case win != nil && win.RunAsUserName != nil:
		e.runAsUserName, e.runAsUserNameSrc = *win.RunAsUserName, fromContainer
	case podWin != nil && podWin.RunAsUserName != nil:
		e.runAsUserName, e.runAsUserNameSrc = *podWin.RunAsUserName, fromPod
	}
	switch {
	case sc != nil && sc.RunAsNonRoot != nil:
		e.runAsNonRoot, e.runAsNonRootSrc = *sc.RunAsNonRoot, fromContainer
	case pod != nil && pod.RunAsNonRoot != nil:
		e.runAsNonRoot, e.runAsNonRootSrc = *pod.RunAsNonRoot, fromPod
	}
	return e
}

// visitContainers calls fn for every init, regular and ephemeral container,
// in that order, with its effective values resolved. fn returns false to stop.
func visitContainers(spec *corev1.PodSpec, fn func(c containerRef) bool) {
	var ref containerRef
	for i := range spec.InitContainers {
		ref = containerRef{kind: initContainer, index: i, container: &spec.InitContainers[i]}
		ref.eff = resolve(spec.SecurityContext, ref.container)
		if !fn(ref) {
			return
		}
	}
	for i := range spec.Containers {
		ref = containerRef{kind: regularContainer, index: i, container: &spec.Containers[i]}
		ref.eff = resolve(spec.SecurityContext, ref.container)
		if !fn(ref) {
			return
		}
	}
	for i := range spec.EphemeralContainers {
		ref = containerRef{kind: ephemeralContainer, index: i,
			container: (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)}
		ref.eff = resolve(spec.SecurityContext, ref.container)
		if !fn(ref) {
			return
		}
	}
}

// podHostProcess returns the pod-level hostProcess value and whether it is set.
func podHostProcess(spec *corev1.PodSpec) (value, set bool) {
	if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil {
		return *sc.WindowsOptions.HostProcess, true
	}
	return false, false
}

// IsHostProcess reports whether spec is a HostProcess pod: the pod-level
// hostProcess is true, or the effective hostProcess of any container is true.
func IsHostProcess(spec *corev1.PodSpec) bool {
	if v, _ := podHostProcess(spec); v {
		return true
	}
	hp := false
	visitContainers(spec, func(c containerRef) bool {
		hp = c.eff.hostProcess
		return !hp
	})
	return hp
}

// ForEachEffectiveUser calls fn with the effective runAsUserName of every
// container, in init, regular, ephemeral order; set is false when neither the
// container nor the pod sets one. The audit's inventory uses it.
func ForEachEffectiveUser(spec *corev1.PodSpec, fn func(user string, set bool)) {
	visitContainers(spec, func(c containerRef) bool {
		fn(c.eff.runAsUserName, c.eff.runAsUserNameSrc != unset)
		return true
	})
}
