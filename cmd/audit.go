package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newAuditCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "audit (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return &ExitError{Code: 2, Err: errors.New("audit is not implemented yet")}
		},
	}
}
