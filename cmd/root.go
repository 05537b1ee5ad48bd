// Package cmd holds the cobra commands: serve, check, generate, exception, audit, executor and version.
package cmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// ExitError carries a process exit code out of a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// NewRootCommand builds the command tree.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "hostprocess-admission",
		Short:         "Admission control for Windows HostProcess pods",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCommand(),
		newCheckCommand(),
		newGenerateCommand(),
		newExceptionCommand(),
		newAuditCommand(),
		newExecutorCommand(),
		newVersionCommand(),
	)
	return root
}

// Execute runs the root command and returns the process exit code:
// 0 success, 1 policy violations, 2 usage, input or configuration errors.
func Execute() int {
	root := NewRootCommand()
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(os.Stderr, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(os.Stderr, "error:", err)
	return 2
}
