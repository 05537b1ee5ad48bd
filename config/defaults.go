package config

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultAllowedUsers are the built-in service accounts a HostProcess
// container may run as when allowedUsers is absent.
var defaultAllowedUsers = []string{
	`NT AUTHORITY\SYSTEM`,
	`NT AUTHORITY\Local service`,
	`NT AUTHORITY\NetworkService`,
}

// defaultAuditInterval is the time between audit passes when audit.interval is unset.
const defaultAuditInterval = 5 * time.Minute

// DefaultExceptionMaxLifetime is exceptions.maxLifetime when it is unset.
const DefaultExceptionMaxLifetime = 24 * time.Hour

// Default returns the configuration used when there is no configuration file.
func Default() *AdmissionConfiguration {
	c := &AdmissionConfiguration{}
	SetDefaults(c)
	return c
}

// SetDefaults fills every unset field of c with its default. allowedUsers is
// defaulted only when absent (nil): an explicit empty list allows no users.
func SetDefaults(c *AdmissionConfiguration) {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	if c.Mode == "" {
		c.Mode = ModeEnforce
	}
	if c.WorkloadMode == "" {
		c.WorkloadMode = ModeWarn
	}
	if c.AllowedUsers == nil {
		c.AllowedUsers = append([]string(nil), defaultAllowedUsers...)
	}
	if c.Defaults.NodeSelector == nil {
		c.Defaults.NodeSelector = new(true)
	}
	if c.Audit.Enabled == nil {
		c.Audit.Enabled = new(true)
	}
	if c.Audit.Interval == nil {
		c.Audit.Interval = &metav1.Duration{Duration: defaultAuditInterval}
	}
	if c.Exceptions.MaxLifetime == nil {
		c.Exceptions.MaxLifetime = &metav1.Duration{Duration: DefaultExceptionMaxLifetime}
	}
}
