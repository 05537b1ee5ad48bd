package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newExecutorCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "executor",
		Short: "executor (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return &ExitError{Code: 2, Err: errors.New("executor is not implemented yet")}
		},
	}
}
