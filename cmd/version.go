package cmd

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/hostprocess-admission/hostprocess-admission/internal/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(c.OutOrStdout(), "hostprocess-admission %s (commit %s, %s, %s/%s)\n",
				version.Version, version.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
