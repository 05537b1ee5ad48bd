//go:build linux

package harness

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestShiftPortsMovesContainerPortsAndTheArgsThatNameThem(t *testing.T) {
	c := corev1.Container{
		Ports: []corev1.ContainerPort{{Name: "webhook", ContainerPort: 9443}, {Name: "metrics", ContainerPort: 8080}, {Name: "probes", ContainerPort: 8081}},
		Args: []string{"serve", "--port=9443", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
			"--shutdown-delay=5s", "--other=127.0.0.1:8080", "--unrelated=9000", "9443"},
	}
	got, args := shiftPorts(c, 10)
	var ports []int32
	for _, p := range got.Ports {
		ports = append(ports, p.ContainerPort)
	}
	if want := []int32{9453, 8090, 8091}; !slices.Equal(ports, want) {
		t.Errorf("ports = %v, want %v", ports, want)
	}
	want := []string{"serve", "--port=9453", "--metrics-bind-address=:8090", "--health-probe-bind-address=:8091",
		"--shutdown-delay=5s", "--other=127.0.0.1:8090", "--unrelated=9000", "9443"}
	if !slices.Equal(args, want) {
		t.Errorf("args = %q, want %q", args, want)
	}
	if c.Ports[0].ContainerPort != 9443 || c.Args[1] != "--port=9443" {
		t.Errorf("the original container changed: %v %v", c.Ports, c.Args)
	}
}
