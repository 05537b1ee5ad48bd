package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "check (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return &ExitError{Code: 2, Err: errors.New("check is not implemented yet")}
		},
	}
}
