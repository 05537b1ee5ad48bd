package config

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bounds of an exception's free-text fields.
const (
	maxExceptionReason = 1024
	maxExceptionTicket = 256
)

// ExceptionChange is what ValidateException needs to know about the request
// that writes an exception.
type ExceptionChange struct {
	// Now is the time of the request.
	Now time.Time
	// Created is the exception's creation time: Now for a CREATE.
	Created time.Time
	// Old is the exception before an UPDATE; nil for a CREATE.
	Old *HostProcessException
}

// ValidateException returns every problem of e, an exception created or
// updated under the configuration c, each with its field path: the
// namespaces and pods it selects, grants that the configuration could
// express (no administrative group, no name Windows refuses, at least one
// grant), an expiresAt in the future and at most exceptions.maxLifetime
// after the creation (on an UPDATE only when expiresAt changes, so that an
// expired exception can still be relabelled and deleted), and a reason.
func ValidateException(e *HostProcessException, c *AdmissionConfiguration, ch ExceptionChange) field.ErrorList {
	var errs field.ErrorList
	if e.Namespace != "" {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "namespace"), "HostProcessException is cluster-scoped; leave the namespace out"))
	}
	spec := field.NewPath("spec")
	s := &e.Spec
	if len(s.Namespaces) == 0 {
		errs = append(errs, field.Required(spec.Child("namespaces"), "list the namespaces the exception applies in"))
	}
	errs = append(errs, validateNamespaceNames(s.Namespaces, spec.Child("namespaces"))...)
	seen := map[string]bool{}
	for i, ns := range s.Namespaces {
		if seen[ns] {
			errs = append(errs, field.Duplicate(spec.Child("namespaces").Index(i), ns))
		}
		seen[ns] = true
	}
	if p := s.Pods; p != nil {
		pp := spec.Child("pods")
		if p.NamePrefix == "" && p.ServiceAccountName == "" && p.Selector == nil {
			errs = append(errs, field.Required(pp, "set namePrefix, serviceAccountName or selector, or leave pods out to select every HostProcess pod of the namespaces"))
		}
		if p.NamePrefix != "" {
			// A prefix of a pod name: a DNS subdomain once completed.
			for _, msg := range validation.IsDNS1123Subdomain(strings.TrimRight(p.NamePrefix, "-.") + "x") {
				errs = append(errs, field.Invalid(pp.Child("namePrefix"), p.NamePrefix, msg))
			}
		}
		if p.ServiceAccountName != "" {
			for _, msg := range validation.IsDNS1123Subdomain(p.ServiceAccountName) {
				errs = append(errs, field.Invalid(pp.Child("serviceAccountName"), p.ServiceAccountName, msg))
			}
		}
		errs = append(errs, validateSelector(p.Selector, pp.Child("selector"))...)
	}
	errs = append(errs, ValidateExceptionGrants(&s.Grants, spec.Child("grants"))...)
	errs = append(errs, validateExpiry(e, c, ch, spec.Child("expiresAt"))...)
	errs = append(errs, validateText(s.Reason, true, maxExceptionReason, spec.Child("reason"))...)
	errs = append(errs, validateText(s.Ticket, false, maxExceptionTicket, spec.Child("ticket"))...)
	return errs
}

func validateExpiry(e *HostProcessException, c *AdmissionConfiguration, ch ExceptionChange, p *field.Path) field.ErrorList {
	exp := e.Spec.ExpiresAt
	if exp.IsZero() {
		return field.ErrorList{field.Required(p, "set when the exception expires (RFC 3339, e.g. 2006-01-02T15:04:05Z)")}
	}
	if ch.Old != nil && ch.Old.Spec.ExpiresAt.Equal(&exp) {
		return nil
	}
	maxLifetime := DefaultExceptionMaxLifetime
	if c != nil && c.Exceptions.MaxLifetime != nil {
		maxLifetime = c.Exceptions.MaxLifetime.Duration
	}
	value := exp.UTC().Format(time.RFC3339)
	switch {
	case !exp.After(ch.Now):
		return field.ErrorList{field.Invalid(p, value, "must be in the future (now: "+ch.Now.UTC().Format(time.RFC3339)+")")}
	case exp.Sub(ch.Created) > maxLifetime:
		return field.ErrorList{field.Invalid(p, value, fmt.Sprintf("must be at most exceptions.maxLifetime (%s) after the exception's creation, i.e. not after %s",
			maxLifetime, ch.Created.Add(maxLifetime).UTC().Format(time.RFC3339)))}
	}
	return nil
}

// validateText checks a free-text field: valid UTF-8, no control
// characters, at most max bytes, and not blank when required.
func validateText(s string, required bool, max int, p *field.Path) field.ErrorList {
	switch {
	case strings.TrimSpace(s) == "":
		if required || s != "" {
			return field.ErrorList{field.Required(p, "must not be empty")}
		}
	case !utf8.ValidString(s):
		return field.ErrorList{field.Invalid(p, s, "must be valid UTF-8")}
	case strings.IndexFunc(s, isControlOrFormat) >= 0:
		return field.ErrorList{field.Invalid(p, s, "must not contain control or formatting characters")}
	case len(s) > max:
		return field.ErrorList{field.TooLong(p, "", max)}
	}
	return nil
}

// ValidateExceptionGrants checks an exception's grants at p: at least one,
// and only what the configuration could express (administrative groups and
// names Windows refuses are refused as in allowedUsers and
// allowedLocalGroups).
func ValidateExceptionGrants(g *ExceptionGrants, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(g.Accounts) == 0 && len(g.LocalGroups) == 0 && len(g.Images) == 0 && !g.InheritUser {
		errs = append(errs, field.Required(p, "grant at least one of accounts, localGroups, images or inheritUser"))
	}
	errs = append(errs, validateAccounts(g.Accounts, false, p.Child("accounts"))...)
	errs = append(errs, validateAccounts(g.LocalGroups, true, p.Child("localGroups"))...)
	return append(errs, validateImagePatterns(g.Images, p.Child("images"))...)
}
