// Command hostprocess-admission is the admission layer for Windows HostProcess pods.
package main

import (
	"os"

	"github.com/hostprocess-admission/hostprocess-admission/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
