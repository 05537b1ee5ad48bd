package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// minAuditInterval is the shortest audit.interval accepted: each pass lists
// every pod and workload of the cluster.
const minAuditInterval = 10 * time.Second

var supportedModes = []Mode{ModeEnforce, ModeWarn, ModeAudit}

// Validate returns every error in c, each with its field path. c is expected to
// be defaulted: an empty mode is an error.
func Validate(c *AdmissionConfiguration) field.ErrorList {
	errs := validateTypeMeta(c)
	errs = append(errs, validateMode(c.Mode, field.NewPath("mode"))...)
	errs = append(errs, validateMode(c.WorkloadMode, field.NewPath("workloadMode"))...)
	errs = append(errs, validateAccounts(c.AllowedUsers, false, field.NewPath("allowedUsers"))...)
	errs = append(errs, validateAccounts(c.AllowedLocalGroups, true, field.NewPath("allowedLocalGroups"))...)
	for i := range c.NamespaceRules {
		errs = append(errs, validateNamespaceRule(&c.NamespaceRules[i], c, field.NewPath("namespaceRules").Index(i))...)
	}
	errs = append(errs, validateExemptions(&c.Exemptions, field.NewPath("exemptions"))...)
	errs = append(errs, validateDefaults(&c.Defaults, field.NewPath("defaults"))...)
	errs = append(errs, validateAudit(&c.Audit, field.NewPath("audit"))...)
	if m := c.Exceptions.MaxLifetime; m != nil && m.Duration <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("exceptions", "maxLifetime"), m.Duration.String(), "must be positive"))
	}
	return errs
}

// validateTypeMeta checks that c is a configuration of the one version this
// build reads.
func validateTypeMeta(c *AdmissionConfiguration) field.ErrorList {
	var errs field.ErrorList
	check := func(name, got, want string) {
		p := field.NewPath(name)
		switch got {
		case want:
		case "":
			errs = append(errs, field.Required(p, fmt.Sprintf("must be %s", want)))
		default:
			errs = append(errs, field.NotSupported(p, got, []string{want}))
		}
	}
	check("apiVersion", c.APIVersion, APIVersion)
	check("kind", c.Kind, Kind)
	return errs
}

func validateMode(m Mode, p *field.Path) field.ErrorList {
	for _, s := range supportedModes {
		if m == s {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, m, supportedModes)}
}

// validateAccounts checks allowedUsers (groups false) or allowedLocalGroups
// (groups true): well-formed names, no refused groups, no built-in accounts
// among the groups, and no duplicates under ASCII case folding.
func validateAccounts(names []string, groups bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		ip := p.Index(i)
		if nameErrs := validateAccountName(name, ip); len(nameErrs) > 0 {
			errs = append(errs, nameErrs...)
			continue
		}
		if groups && isBuiltinAccount(name) {
			errs = append(errs, field.Forbidden(ip, strconv.Quote(name)+" names a built-in account, not a local group; accounts belong in allowedUsers"))
			continue
		}
		if g, ok := refusedGroupFor(name); ok {
			detail := strconv.Quote(name) + " " + refusedDetail(g)
			if !groups {
				detail += "; a runAsUserName that names a local group runs as a member of that group"
			}
			errs = append(errs, field.Forbidden(ip, detail))
			continue
		}
		if key := foldASCII(name); seen[key] {
			errs = append(errs, field.Duplicate(ip, name))
		} else {
			seen[key] = true
		}
	}
	return errs
}

func refusedDetail(g refusedGroup) string {
	id := g.name
	if sid := g.sid(); sid != "" {
		id += " (" + sid + ")"
	}
	return fmt.Sprintf("names the built-in group %s, which has administrative rights: %s", id, g.reason)
}

// validateName checks one name: not empty, no surrounding whitespace, no
// control or invisible formatting characters, valid UTF-8.
func validateName(name string, p *field.Path) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(p, "must not be empty")}
	case !utf8.ValidString(name):
		return field.ErrorList{field.Invalid(p, name, "must be valid UTF-8")}
	case strings.IndexFunc(name, isControlOrFormat) >= 0:
		return field.ErrorList{field.Invalid(p, name, "must not contain control or formatting characters")}
	case strings.TrimSpace(name) != name:
		return field.ErrorList{field.Invalid(p, name, "must not begin or end with whitespace")}
	}
	return nil
}

// accountNameInvalidChars are the characters Windows never accepts in a user
// or group name ("Naming conventions in Active Directory"; NetUserAdd and
// NetLocalGroupAdd refuse them). The backslash and the at sign are left to
// validateAccountName: one of each may separate a domain.
const accountNameInvalidChars = `"/[]:;|=,+*?<>`

// validateAccountName checks an entry of allowedUsers or allowedLocalGroups:
// a well-formed name (validateName) that Windows could accept as an account:
// none of the characters it refuses, at most one backslash (after a domain)
// and one @ (before a domain), no empty part, not only dots and spaces.
// Such a name can name no account, so it is a mistake (BUILTIN/Administrators
// for BUILTIN\Administrators, say) rather than something to allow.
func validateAccountName(name string, p *field.Path) field.ErrorList {
	if errs := validateName(name, p); len(errs) > 0 {
		return errs
	}
	invalid := func(why string) field.ErrorList {
		return field.ErrorList{field.Invalid(p, name, why)}
	}
	if i := strings.IndexAny(name, accountNameInvalidChars); i >= 0 {
		return invalid(fmt.Sprintf("must not contain %q: Windows accepts none of %s in account names", name[i], accountNameInvalidChars))
	}
	if strings.Count(name, `\`) > 1 {
		return invalid(`must have at most one backslash, between a domain and the name (DOMAIN\name); the runtime refuses more`)
	}
	if strings.Count(name, "@") > 1 {
		return invalid("must have at most one @, between the name and its domain (name@domain)")
	}
	domain, account, hasDomain := strings.Cut(name, `\`)
	if !hasDomain {
		account = domain
	}
	user, suffix, hasSuffix := strings.Cut(account, "@")
	switch {
	case hasDomain && domain == "":
		return invalid(`must name a domain before the backslash (DOMAIN\name)`)
	case user == "":
		return invalid("must name an account")
	case hasSuffix && suffix == "":
		return invalid("must name a domain after the @ (name@domain)")
	case strings.Trim(user, ". ") == "":
		return invalid("must not consist only of dots and spaces")
	}
	return nil
}

// isControlOrFormat reports control characters (such as tab or newline) and
// invisible formatting characters (such as the zero-width space or a
// right-to-left override), which make a name look like another.
func isControlOrFormat(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

func validateNamespaceRule(r *NamespaceRule, c *AdmissionConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.Namespaces) == 0 && r.NamespaceSelector == nil {
		errs = append(errs, field.Required(p, "set namespaces, namespaceSelector, or both"))
	}
	errs = append(errs, validateNamespaceNames(r.Namespaces, p.Child("namespaces"))...)
	errs = append(errs, validateSelector(r.NamespaceSelector, p.Child("namespaceSelector"))...)
	errs = append(errs, validateNarrowing(r.AllowedUsers, c.AllowedUsers, "allowedUsers", p.Child("allowedUsers"))...)
	errs = append(errs, validateNarrowing(r.AllowedLocalGroups, c.AllowedLocalGroups, "allowedLocalGroups", p.Child("allowedLocalGroups"))...)
	if r.AllowedImages != nil && len(r.AllowedImages) == 0 {
		// An empty list could mean "no image" or "any image"; make the author say which.
		errs = append(errs, field.Required(p.Child("allowedImages"), "list at least one pattern, or leave allowedImages out to allow any image"))
	}
	return append(errs, validateImagePatterns(r.AllowedImages, p.Child("allowedImages"))...)
}

// validateImagePatterns checks allowedImages patterns, or an exception's
// granted images.
func validateImagePatterns(images []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, image := range images {
		ip := p.Index(i)
		switch {
		case image == "":
			errs = append(errs, field.Required(ip, "must not be empty"))
		case strings.IndexFunc(image, func(r rune) bool { return unicode.IsSpace(r) || isControlOrFormat(r) }) >= 0:
			errs = append(errs, field.Invalid(ip, image, "must not contain whitespace or control characters"))
		}
	}
	return errs
}

// validateSelector checks that s parses, reporting errors at their own paths.
func validateSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	if errs := metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p); len(errs) > 0 {
		return errs
	}
	// The policy parses the selector with LabelSelectorAsSelector; make sure it can.
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return field.ErrorList{field.Invalid(p, s, err.Error())}
	}
	return nil
}

// validateNarrowing checks a rule's list: every entry a well-formed name that
// is also in the top-level list, so that a rule can only narrow it.
func validateNarrowing(names, top []string, topName string, p *field.Path) field.ErrorList {
	allowed := make(map[string]bool, len(top))
	for _, name := range top {
		allowed[AccountKey(name)] = true
	}
	var errs field.ErrorList
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		ip := p.Index(i)
		key := AccountKey(name)
		switch nameErrs := validateAccountName(name, ip); {
		case len(nameErrs) > 0:
			errs = append(errs, nameErrs...)
		case !allowed[key]:
			errs = append(errs, field.Invalid(ip, name, fmt.Sprintf("not in the top-level %s; a rule can only narrow it", topName)))
		case seen[key]:
			errs = append(errs, field.Duplicate(ip, name))
		}
		seen[key] = true
	}
	return errs
}

func validateNamespaceNames(names []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, name := range names {
		for _, msg := range validation.IsDNS1123Label(name) {
			errs = append(errs, field.Invalid(p.Index(i), name, msg))
		}
	}
	return errs
}

func validateExemptions(e *Exemptions, p *field.Path) field.ErrorList {
	errs := validateNamespaceNames(e.Namespaces, p.Child("namespaces"))
	for i, name := range e.Usernames {
		ip := p.Child("usernames").Index(i)
		errs = append(errs, validateName(name, ip)...)
		if why := exemptUserProblem(name); why != "" {
			errs = append(errs, field.Invalid(ip, name, why))
		}
	}
	return errs
}

var (
	supportedEffects   = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
	supportedOperators = []corev1.TolerationOperator{corev1.TolerationOpExists, corev1.TolerationOpEqual}
)

// validateDefaults checks the tolerations the mutating webhook adds. They get
// the API server's own checks: an invalid one would make it reject every
// HostProcess pod.
func validateDefaults(d *Defaults, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range d.Tolerations {
		tp := p.Child("tolerations").Index(i)
		if t.Key != "" {
			for _, msg := range validation.IsQualifiedName(t.Key) {
				errs = append(errs, field.Invalid(tp.Child("key"), t.Key, msg))
			}
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("value"), t.Value, "must be empty when operator is Exists"))
			}
		case corev1.TolerationOpEqual, "":
			if t.Key == "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Operator, "must be Exists when key is empty"))
			}
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(tp.Child("value"), t.Value, msg))
			}
		default:
			errs = append(errs, field.NotSupported(tp.Child("operator"), t.Operator, supportedOperators))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, supportedEffects))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(tp.Child("tolerationSeconds"), *t.TolerationSeconds, "may be set only when effect is NoExecute"))
		}
	}
	return errs
}

func validateAudit(a *Audit, p *field.Path) field.ErrorList {
	if a.Interval != nil && a.Interval.Duration < minAuditInterval {
		return field.ErrorList{field.Invalid(p.Child("interval"), a.Interval.Duration.String(), fmt.Sprintf("must be at least %s", minAuditInterval))}
	}
	return nil
}
