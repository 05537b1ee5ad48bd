package nativepolicy

import (
	"bytes"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StaticSuffix ends the name of every policy and binding that kube-apiserver
// loads from an AdmissionConfiguration's staticManifestsDir (KEP-5793,
// Kubernetes 1.37): such objects are in force before the API server serves
// its first request, do not depend on etcd, cannot be listed, changed or
// deleted through the API, and are reloaded when their files change.
const StaticSuffix = ".static.k8s.io"

// GuardPolicy is the static policy that protects the API-based copies of
// the policies and the webhook configurations.
const GuardPolicy = "guard.hostprocess.dev" + StaticSuffix

// StaticOptions say what the guard policy protects and who may still change
// it.
type StaticOptions struct {
	// Users and Groups may change and delete the protected objects (e.g. the
	// identity that installs the chart, and the cert-manager cainjector's
	// service account when it injects the webhooks' CA bundle).
	Users, Groups []string
	// WebhookConfigurations are the names of this project's
	// ValidatingWebhookConfiguration and MutatingWebhookConfiguration (the
	// chart's release full name, "hostprocess-admission" by default).
	WebhookConfigurations []string
}

// Static returns p's policies and bindings renamed for staticManifestsDir
// (name + StaticSuffix), plus a guard policy that denies changing or
// deleting the API-based policies and bindings of p and the webhook
// configurations named in opts, except by opts' users and groups.
func Static(p *Policies, opts StaticOptions) *Policies {
	s := &Policies{Gaps: p.Gaps, Comments: map[string]string{}}
	var vapNames, mapNames []string
	for i := range p.Validating {
		vap, b := p.Validating[i].DeepCopy(), p.ValidatingBindings[i].DeepCopy()
		vapNames = append(vapNames, vap.Name)
		s.Comments[vap.Name+StaticSuffix] = p.Comments[vap.Name]
		vap.Name += StaticSuffix
		b.Name += StaticSuffix
		b.Spec.PolicyName += StaticSuffix
		s.Validating = append(s.Validating, *vap)
		s.ValidatingBindings = append(s.ValidatingBindings, *b)
	}
	for i := range p.Mutating {
		m, b := p.Mutating[i].DeepCopy(), p.MutatingBindings[i].DeepCopy()
		mapNames = append(mapNames, m.Name)
		s.Comments[m.Name+StaticSuffix] = p.Comments[m.Name]
		m.Name += StaticSuffix
		b.Name += StaticSuffix
		b.Spec.PolicyName += StaticSuffix
		s.Mutating = append(s.Mutating, *m)
		s.MutatingBindings = append(s.MutatingBindings, *b)
	}
	guard := guardPolicy(vapNames, mapNames, opts)
	s.Comments[guard.Name] = "Denies changing or deleting the API-based copies of these policies and the webhook configurations " +
		strings.Join(opts.WebhookConfigurations, ", ") + ", except by " + identities(opts) + "."
	s.Validating = append(s.Validating, guard)
	s.ValidatingBindings = append(s.ValidatingBindings, admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: guard.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: guard.Name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	})
	s.wrapExpressions()
	return s
}

func identities(opts StaticOptions) string {
	var who []string
	for _, u := range opts.Users {
		who = append(who, "user "+u)
	}
	for _, g := range opts.Groups {
		who = append(who, "group "+g)
	}
	if len(who) == 0 {
		return "no one"
	}
	return strings.Join(who, ", ")
}

func guardPolicy(vapNames, mapNames []string, opts StaticOptions) admissionregistrationv1.ValidatingAdmissionPolicy {
	byResource := map[string][]string{
		"validatingadmissionpolicies":       vapNames,
		"validatingadmissionpolicybindings": vapNames,
		"mutatingadmissionpolicies":         mapNames,
		"mutatingadmissionpolicybindings":   mapNames,
		"validatingwebhookconfigurations":   opts.WebhookConfigurations,
		"mutatingwebhookconfigurations":     opts.WebhookConfigurations,
	}
	resources := make([]string, 0, len(byResource))
	for r := range byResource {
		resources = append(resources, r)
	}
	sort.Strings(resources)
	protected := ""
	for _, r := range resources {
		protected += "request.resource.resource == " + lit(r) + " ? request.name in " + litList(byResource[r]) + " : "
	}
	protected += "false"
	cluster := admissionregistrationv1.ClusterScope
	equivalent := admissionregistrationv1.Equivalent
	forbidden := metav1.StatusReasonForbidden
	return admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: GuardPolicy},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{MatchPolicy: &equivalent, ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update, admissionregistrationv1.Delete},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{admissionregistrationv1.GroupName}, APIVersions: []string{"*"},
						Resources: resources, Scope: &cluster},
				},
			}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{
				Name: "protected", Expression: protected,
			}, {
				Name: "not-a-named-identity",
				Expression: "!(request.userInfo.username in " + litList(opts.Users) + ") && " +
					"!request.userInfo.?groups.orValue([]).exists(g, g in " + litList(opts.Groups) + ")",
			}},
			FailurePolicy: failClosed,
			Validations: []admissionregistrationv1.Validation{{
				Expression: "false",
				MessageExpression: "request.resource.resource + ' ' + request.name + ' enforces the HostProcess policy and may only be changed or deleted by " +
					strings.ReplaceAll(identities(opts), "'", "\\'") + " (" + GuardPolicy + ")'",
				Reason: &forbidden,
			}},
		},
	}
}

// RenderStatic writes the static policies as two YAML streams, one for the
// ValidatingAdmissionPolicy plugin's staticManifestsDir and one for the
// MutatingAdmissionPolicy plugin's (each plugin reads only its own kinds).
func RenderStatic(s *Policies, header string) (validating, mutating []byte, err error) {
	// kube-apiserver's loader reads a document of comments alone as an
	// object without a kind: the header goes into the first document.
	render := func(p *Policies) ([]byte, error) {
		out, err := Render(p, header)
		return bytes.Replace(out, []byte("\n---\n"), []byte("\n"), 1), err
	}
	v := *s
	v.Mutating, v.MutatingBindings = nil, nil
	if validating, err = render(&v); err != nil {
		return nil, nil, err
	}
	m := *s
	m.Validating, m.ValidatingBindings = nil, nil
	if mutating, err = render(&m); err != nil {
		return nil, nil, err
	}
	return validating, mutating, nil
}
