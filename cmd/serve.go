package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newServeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "serve (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return &ExitError{Code: 2, Err: errors.New("serve is not implemented yet")}
		},
	}
}
