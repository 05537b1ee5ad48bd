//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The program starts the control plane through internal/testenv and reads /proc, so it runs on
// Linux only; this stub lets the whole module build and vet for other platforms.
func main() {
	fmt.Fprintln(os.Stderr, "linux only")
	os.Exit(2)
}
