package cmd

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/checker"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const checkLong = `Check evaluates manifests offline, as the admission webhooks would on CREATE:
the mutating webhook's defaults are applied to Pods first, then the policy is
evaluated under the mode that applies (mode for Pods, workloadMode for the pod
templates of workloads).

Input: files, directories (recursively, their .yaml, .yml and .json files) and
"-" for stdin. YAML may hold several documents; v1 Lists are expanded.
Namespace objects in the input supply labels for namespace rules. Objects
without a namespace are taken to be in "default". Other kinds are skipped with
a note on stderr.

Output (-o): text (the default), json, sarif (SARIF 2.1.0, for GitHub and
GitLab code scanning), junit (JUnit XML test reports) and github (GitHub
Actions workflow commands, which annotate each object's file and line).

Exit codes: 0 every object is admitted; 1 at least one is denied; 2 the input
cannot be read, the configuration is invalid, or the command is misused.`

// checkFormats are the output formats of check, by -o value.
var checkFormats = map[string]func(*checker.Report, io.Writer) error{
	"text":   (*checker.Report).WriteText,
	"json":   (*checker.Report).WriteJSON,
	"sarif":  (*checker.Report).WriteSARIF,
	"junit":  (*checker.Report).WriteJUnit,
	"github": (*checker.Report).WriteGitHub,
}

// checkFormatNames lists the formats for messages, in the order of the docs.
const checkFormatNames = "text, json, sarif, junit or github"

func newCheckCommand() *cobra.Command {
	var (
		configPath string
		output     string
		files      []string
	)
	c := &cobra.Command{
		Use:   "check -f PATH...",
		Short: "Check manifests against the HostProcess policy offline",
		Long:  checkLong,
		Example: `  hostprocess-admission check -f examples/
  hostprocess-admission check --config examples/config.yaml -f examples/admitted
  kubectl get pods -A -o yaml | hostprocess-admission check -o json -f -
  hostprocess-admission check -o sarif -f manifests/ > hostprocess.sarif`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			write, ok := checkFormats[output]
			if !ok {
				return &ExitError{Code: 2, Err: fmt.Errorf("--output must be one of %s, not %q", checkFormatNames, output)}
			}
			if len(files) == 0 {
				return &ExitError{Code: 2, Err: errors.New("no input: give manifests with -f PATH (a file, a directory or - for stdin)")}
			}
			cfg, err := config.Load(configPath)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			p, err := policy.New(cfg)
			if err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("configuration file %s: %w", configPath, err)}
			}
			objs, errs := manifest.ReadPaths(files, c.InOrStdin())
			if len(errs) == 0 && len(objs) == 0 {
				errs = append(errs, errors.New("no objects in the input"))
			}
			if len(errs) > 0 {
				// Every unreadable input is named, then nothing is evaluated.
				for _, err := range errs[:len(errs)-1] {
					fmt.Fprintln(c.ErrOrStderr(), "error:", err)
				}
				return &ExitError{Code: 2, Err: errs[len(errs)-1]}
			}

			report := checker.Check(p, objs)
			if err := report.WriteNotes(c.ErrOrStderr()); err != nil {
				return err
			}
			if err := write(report, c.OutOrStdout()); err != nil {
				return err
			}
			if report.Denied() {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&configPath, "config", "", "AdmissionConfiguration file (default: the built-in defaults)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: "+checkFormatNames)
	c.Flags().StringSliceVarP(&files, "filename", "f", nil, "manifest file, directory or - for stdin; repeatable, comma-separated")
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	return c
}
