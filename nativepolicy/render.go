package nativepolicy

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// gaps lists where the native policies do not say what the Go engine and the
// webhook say, so that nothing is silently weaker. docs/native.md lists them
// too.
func (g *generator) gaps() []string {
	gaps := []string{
		"Denial wording: the API server frames the same violation messages as " +
			`<resource> "<name>" is forbidden: ValidatingAdmissionPolicy 'pods.hostprocess.dev' with binding 'pods.hostprocess.dev' denied request: violates the HostProcess policy: <messages>` +
			" where the webhook's reads " + `admission webhook "validate.hostprocess.dev" denied the request: <resource> "<name>" is forbidden: violates the HostProcess policy: <messages>.`,
		"Warn mode: one warning per object (its violations joined by \"; \", each prefixed with \"would violate the HostProcess policy: \"), " +
			"where the webhook sends one warning per violation.",
		"Messages over 5 KiB (the API server's limit for a messageExpression) are cut, ending with \"... (cut to the API " +
			"server's 5 KiB message limit; N violations in all)\"; the webhook's are not. When an object's warnings exceed " +
			"4,096 characters in all, the API server cuts each to 256 characters: the webhook's one warning per violation " +
			"mostly survives that, the policies' one warning per object is cut. The verdict and the rules are the same.",
		"Quoted values with invisible or control characters other than \\a \\b \\f \\n \\r \\t \\v (e.g. U+200B, U+00A0): " +
			"the message shows the character itself where the Go engine writes \\uXXXX. The verdict and the rule are the same.",
		"Audit: the audit annotation <policy>/violations lists the violated rule IDs (the full messages are in " +
			"validation.policy.admission.k8s.io/validation_failure), where the webhook's holds JSON with container and field. " +
			"Exempt requests are skipped without an audit annotation. The project's Prometheus metrics count webhook reviews only; " +
			"the API server's apiserver_validating_admission_policy_* metrics count policy checks.",
		"Warnings that are not violations (securityContext.privileged ignored, names the runtime cannot log on, " +
			"the inherit-user and rootfs-location annotations) come from the policies *-warnings.hostprocess.dev, " +
			"joined into one warning per object.",
	}
	if g.cfg.Defaults.LocalGroupNodeAffinity {
		gaps = append(gaps, "defaults.localGroupNodeAffinity is NOT compiled: pods running as a local group get no "+
			"hostprocess.dev/local-groups-ready node affinity from the native policies. Run the webhook too (enforcement: both) for it.")
	}
	return gaps
}

// Render writes the policies as one multi-document YAML stream, the gaps
// first as comments.
func Render(p *Policies, header string) ([]byte, error) {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
	b.WriteString("#\n# Where these policies do not say what the webhook says:\n")
	for _, gap := range p.Gaps {
		b.WriteString(wrapComment("- "+gap, "#   ", 100))
	}
	type object struct {
		obj     any
		comment string
	}
	var objs []object
	for i := range p.Validating {
		objs = append(objs, object{&p.Validating[i], p.Comments[p.Validating[i].Name]}, object{&p.ValidatingBindings[i], ""})
	}
	for i := range p.Mutating {
		objs = append(objs, object{&p.Mutating[i], p.Comments[p.Mutating[i].Name]}, object{&p.MutatingBindings[i], ""})
	}
	for _, o := range objs {
		y, err := yaml.Marshal(o.obj)
		if err != nil {
			return nil, fmt.Errorf("encoding %T: %w", o.obj, err)
		}
		b.WriteString("---\n")
		if o.comment != "" {
			b.WriteString(wrapComment(o.comment, "# ", 100))
		}
		b.Write(bytes.ReplaceAll(y, []byte("  creationTimestamp: null\n"), nil))
	}
	return b.Bytes(), nil
}

// wrapComment wraps text at width: "# " before the first line, indent
// before the others.
func wrapComment(text, indent string, width int) string {
	var b strings.Builder
	line, empty := "#", true
	for _, w := range strings.Fields(text) {
		if !empty && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line, empty = strings.TrimSuffix(indent, " "), true
		}
		line += " " + w
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}
