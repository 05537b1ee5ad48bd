//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The demo needs Linux network namespaces (ip netns).
func main() {
	fmt.Fprintln(os.Stderr, "demo: needs Linux network namespaces; run make demo on Linux")
	os.Exit(1)
}
