package cmd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/hostprocess-admission/hostprocess-admission/config"
)

// exceptionOptions are the exception command's flags.
type exceptionOptions struct {
	name           string
	namespaces     []string
	accounts       []string
	localGroups    []string
	images         []string
	inheritUser    bool
	namePrefix     string
	serviceAccount string
	selector       string
	lifetime       time.Duration
	reason         string
	ticket         string
	configPath     string
}

func newExceptionCommand() *cobra.Command {
	o := &exceptionOptions{}
	c := &cobra.Command{
		Use:   "exception",
		Short: "Print a HostProcessException for kubectl apply",
		Long: `Print a HostProcessException (YAML) that grants, from now for --for, the pods it
selects what the configuration does not allow: accounts, local groups, images or
the inherit-user annotation. Apply it with kubectl apply -f -. It is validated
as the webhook validates it, against --config (its exceptions.maxLifetime);
exit code 2 names what is wrong. See docs/exceptions.md.

  hostprocess-admission exception --namespace ops --account 'NT AUTHORITY\SYSTEM' \
    --for 1h --reason "debug node win-1" --ticket INC-1234 | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runException(c.OutOrStdout(), o, time.Now())
		},
	}
	f := c.Flags()
	f.StringVar(&o.name, "name", "", "name of the exception; default break-glass-NAMESPACE-TIME")
	f.StringArrayVar(&o.namespaces, "namespace", nil, "namespace the exception applies in (repeat for several)")
	f.StringArrayVar(&o.accounts, "account", nil, `runAsUserName to allow, e.g. 'NT AUTHORITY\SYSTEM' (repeatable)`)
	f.StringArrayVar(&o.localGroups, "local-group", nil, "local group to allow as runAsUserName (repeatable)")
	f.StringArrayVar(&o.images, "image", nil, "image pattern to allow, '*' matching anything (repeatable)")
	f.BoolVar(&o.inheritUser, "inherit-user", false, "allow the annotation microsoft.com/hostprocess-inherit-user")
	f.StringVar(&o.namePrefix, "name-prefix", "", "select only pods whose name starts with this (a workload's name for its template)")
	f.StringVar(&o.serviceAccount, "service-account", "", "select only pods running as this service account")
	f.StringVar(&o.selector, "selector", "", "select only pods with these labels, e.g. app=agent,tier!=test")
	f.DurationVar(&o.lifetime, "for", time.Hour, "how long the exception lasts from now")
	f.StringVar(&o.reason, "reason", "", "why the exception is needed (required)")
	f.StringVar(&o.ticket, "ticket", "", "the change or incident that approved it")
	f.StringVar(&o.configPath, "config", "", "AdmissionConfiguration file whose exceptions.maxLifetime applies; empty means the defaults (24h)")
	return c
}

func runException(out io.Writer, o *exceptionOptions, now time.Time) error {
	usage := func(err error) error { return &ExitError{Code: 2, Err: err} }
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return usage(err)
	}
	now = now.UTC().Truncate(time.Second)
	e := &config.HostProcessException{
		TypeMeta:   metav1.TypeMeta{APIVersion: config.GroupVersion.String(), Kind: config.ExceptionKind},
		ObjectMeta: metav1.ObjectMeta{Name: o.name},
		Spec: config.ExceptionSpec{
			Namespaces: o.namespaces,
			Grants:     config.ExceptionGrants{Accounts: o.accounts, LocalGroups: o.localGroups, Images: o.images, InheritUser: o.inheritUser},
			ExpiresAt:  metav1.NewTime(now.Add(o.lifetime)),
			Reason:     o.reason,
			Ticket:     o.ticket,
		},
	}
	if e.Name == "" && len(o.namespaces) > 0 {
		e.Name = "break-glass-" + o.namespaces[0] + "-" + now.Format("20060102-150405")
	}
	if o.namePrefix != "" || o.serviceAccount != "" || o.selector != "" {
		e.Spec.Pods = &config.ExceptionPods{NamePrefix: o.namePrefix, ServiceAccountName: o.serviceAccount}
		if o.selector != "" {
			sel, err := metav1.ParseToLabelSelector(o.selector)
			if err != nil {
				return usage(fmt.Errorf("--selector %q: %w", o.selector, err))
			}
			e.Spec.Pods.Selector = sel
		}
	}
	if errs := config.ValidateException(e, cfg, config.ExceptionChange{Now: now, Created: now}); len(errs) > 0 {
		return usage(fmt.Errorf("the exception would be refused: %w", errs.ToAggregate()))
	}
	b, err := yaml.Marshal(e)
	if err != nil {
		return err
	}
	// The object has no creation time until the API server sets one.
	_, err = io.WriteString(out, strings.Replace(string(b), "  creationTimestamp: null\n", "", 1))
	return err
}
