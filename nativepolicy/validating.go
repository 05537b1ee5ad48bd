package nativepolicy

import (
	"regexp"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

// target is what one validating policy evaluates: Pods or workload pod
// templates.
type target struct {
	name     string
	workload bool
	rules    []admissionregistrationv1.NamedRuleWithOperations
	// inScope are matchConditions selecting HostProcess pods (templates) and
	// the UPDATEs the webhook evaluates.
	inScope []admissionregistrationv1.MatchCondition
	// prelude are variables that spec, specPath, annotations and metaPath
	// read.
	prelude []admissionregistrationv1.Variable
	// spec, specPath, annotations and metaPath are CEL expressions for the
	// pod spec, its field path, the pod's (template's) annotations and their
	// metadata's field path.
	spec, specPath, annotations, metaPath string
	// oldSpec and oldAnnotations, for Pods, are the pod before an UPDATE: only
	// the violations an update introduces count (policy.Introduced).
	oldSpec, oldAnnotations string
}

func podTarget() target {
	return target{
		name: PodsPolicy,
		rules: []admissionregistrationv1.NamedRuleWithOperations{
			rule(createUpdate, "", "pods", "pods/ephemeralcontainers", "pods/status", "pods/binding"),
		},
		inScope: []admissionregistrationv1.MatchCondition{{
			// A Binding does not show its pod: one that carries a runtime
			// annotation is judged by it (policy.EvaluateBinding).
			Name: "hostprocess-pod",
			Expression: "request.?subResource.orValue('') == 'binding' ? " + runtimeAnnotationsSet("object.metadata.?annotations") +
				" : has(object.spec) && " + hostProcessOf("object.spec"),
		}, {
			// Pod UPDATEs, through the pod or a subresource, that change none
			// of the fields the policy reads (labels, other annotations,
			// finalizers, tolerations, scheduling gates, status) are admitted,
			// as in the webhook.
			Name:       "changes-policy-fields",
			Expression: "request.operation != 'UPDATE' || [[object, oldObject].map(t, " + templateView("t") + ")].exists(l, l[0] != l[1])",
		}},
		spec:           "object.spec",
		specPath:       "'spec'",
		annotations:    "object.metadata.?annotations.orValue({})",
		metaPath:       "'metadata'",
		oldSpec:        "oldObject.spec",
		oldAnnotations: "oldObject.metadata.?annotations.orValue({})",
	}
}

// runtimeAnnotationsSet is true when the optional annotations a have one of
// the annotations the policy reads (policy.RuntimeAnnotations).
func runtimeAnnotationsSet(a string) string {
	return litList(policy.RuntimeAnnotations) + ".exists(k, k in " + a + ".orValue({}))"
}

// byResource picks a CEL expression by the workload's resource, from the
// template path of each kind of policy.Kinds: expr(path) for the kinds whose
// template is elsewhere than at spec.template (CronJobs, PodTemplates), then
// for the rest.
func byResource(expr func(templatePath string) string) string {
	out := ""
	for _, k := range policy.Kinds {
		if k.Workload() && k.TemplatePath != defaultTemplatePath {
			out += "request.resource.resource == '" + k.Resource + "' ? " + expr(k.TemplatePath) + " : "
		}
	}
	return "(" + out + expr(defaultTemplatePath) + ")"
}

// defaultTemplatePath is where most workloads keep their pod template.
const defaultTemplatePath = "spec.template"

// optional writes a field path as CEL optional field selection under root:
// spec.template is root.spec.?template.
func optional(root, path string) string {
	first, rest, _ := strings.Cut(path, ".")
	if rest == "" {
		return root + ".?" + first
	}
	return root + "." + first + ".?" + strings.ReplaceAll(rest, ".", ".?")
}

// workloadRules are the webhook rules of the workload kinds of
// policy.Kinds, one per API group in the order the groups first appear.
func workloadRules() []admissionregistrationv1.NamedRuleWithOperations {
	var groups []string
	byGroup := map[string][]string{}
	for _, k := range policy.Kinds {
		if !k.Workload() {
			continue
		}
		if _, ok := byGroup[k.Group]; !ok {
			groups = append(groups, k.Group)
		}
		byGroup[k.Group] = append(byGroup[k.Group], k.Resource)
	}
	rules := make([]admissionregistrationv1.NamedRuleWithOperations, len(groups))
	for i, g := range groups {
		rules[i] = rule(createUpdate, g, byGroup[g]...)
	}
	return rules
}

func workloadTarget() target {
	tmpl := func(o string) string {
		return byResource(func(p string) string { return optional(o, p) }) + ".orValue({})"
	}
	return target{
		name:     WorkloadsPolicy,
		workload: true,
		rules:    workloadRules(),
		inScope: []admissionregistrationv1.MatchCondition{{
			Name:       "hostprocess-template",
			Expression: "[" + tmpl("object") + "].exists(t, has(t.spec) && " + hostProcessOf("t.spec") + ")",
		}, {
			// Controllers' own updates (revision annotations, scaling, labels)
			// change none of the fields the policy reads and are admitted, as
			// in the webhook.
			Name:       "changes-policy-fields",
			Expression: "request.operation != 'UPDATE' || [[object, oldObject].map(o, " + tmpl("o") + ").map(t, " + templateView("t") + ")].exists(l, l[0] != l[1])",
		}},
		prelude: []admissionregistrationv1.Variable{
			{Name: "tmpl", Expression: tmpl("object")},
			{Name: "tmplPath", Expression: byResource(lit)},
		},
		spec:        "variables.tmpl.spec",
		specPath:    "variables.tmplPath + '.spec'",
		annotations: "variables.tmpl.?metadata.?annotations.orValue({})",
		metaPath:    "variables.tmplPath + '.metadata'",
	}
}

// maxMessageBytes is the longest message the API server takes from a
// messageExpression (celconfig.MaxEvaluatedMessageExpressionSizeBytes, 5 KiB);
// a longer one is replaced by "failed expression: ...".
const maxMessageBytes = 5 * 1024

// TruncatedMarker ends a message that was cut to the API server's limit.
const TruncatedMarker = " ... (cut to the API server's 5 KiB message limit; "

// capMessage cuts the message msg (a CEL string expression) to fit
// maxMessageBytes, saying how many items of the list variable there are. The
// cut is by characters: 4,500 when all are ASCII, else 1,100 (at most 4 bytes
// each).
func capMessage(msg, list string) string {
	return "size(bytes(" + msg + ")) <= " + strconv.Itoa(maxMessageBytes) + " ? " + msg + " : " + msg + ".substring(0, size(bytes(" + msg + ")) == size(" + msg + ") ? 4500 : 1100) + " +
		lit(TruncatedMarker) + " + string(size(variables." + list + ")) + ' " + list + " in all)'"
}

// optList is a list of the value of the optional expression opt, or empty.
func optList(opt string) string {
	return "(" + opt + ".hasValue() ? [" + opt + ".value()] : [])"
}

// templateView lists what the webhook compares on an UPDATE (policy/update.go,
// policy.SameForPolicy) of the pod or pod template t (a map): hostNetwork,
// securityContext, os, nodeSelector, affinity, the sizes of the container
// lists and each container's name, image and securityContext, and the
// runtime annotations (policy.SameRuntimeAnnotations); tolerations are left
// out.
func templateView(t string) string {
	s := t + ".?spec"
	view := "[dyn(" + s + ".?hostNetwork.orValue(false))"
	for _, f := range []string{"securityContext", "os", "nodeSelector", "affinity"} {
		view += ", dyn(" + optList(s+".?"+f) + ")"
	}
	return view + ", dyn([" + s + ".?initContainers.orValue([]).size(), " + s + ".?containers.orValue([]).size()]), " +
		"dyn((" + s + ".?initContainers.orValue([]) + " + s + ".?containers.orValue([]) + " + s + ".?ephemeralContainers.orValue([]))" +
		".map(c, [dyn(c.name), dyn(c.?image.orValue('')), dyn(" + optList("c.?securityContext") + ")])), " +
		"dyn(" + litList(policy.RuntimeAnnotations) + ".map(k, " + optList(t+".?metadata.?annotations[?k]") + "))]"
}

// InheritUserAnnotation makes hcsshim run every container of a HostProcess
// pod as NT AUTHORITY\SYSTEM.
const InheritUserAnnotation = policy.InheritUserAnnotation

const mixedAllowed = " (allowed: true; a HostProcess pod cannot mix HostProcess and non-HostProcess containers)"

// variables are the policy's CEL variables; later ones use earlier ones. The
// API server evaluates a variable only when an expression reads it, once per
// request: the deciding validation reads the cheap <id>Fails booleans, and
// the containers view, the quoted names and the messages are built only
// when a rule fails. withViolations adds the rules' variables (the warnings
// policy needs them only in audit mode).
func (g *generator) variables(t target, withViolations bool) []admissionregistrationv1.Variable {
	v := func(name, expr string) admissionregistrationv1.Variable {
		return admissionregistrationv1.Variable{Name: name, Expression: expr}
	}
	podWin := "variables.spec.?securityContext.?windowsOptions"
	vars := append([]admissionregistrationv1.Variable(nil), t.prelude...)
	vars = append(vars,
		v("spec", t.spec),
		v("specPath", t.specPath),
		v("annotations", t.annotations),
		v("metaPath", t.metaPath),
		v("podHPSet", podWin+".?hostProcess.hasValue()"),
		v("podHP", podWin+".?hostProcess.orValue(false)"),
		v("podUserSet", podWin+".?runAsUserName.hasValue()"),
		v("podUser", podWin+".?runAsUserName.orValue('')"),
		v("podNRSet", "variables.spec.?securityContext.?runAsNonRoot.hasValue()"),
		v("podNR", "variables.spec.?securityContext.?runAsNonRoot.orValue(false)"),
		v("all", "variables.spec.?initContainers.orValue([]) + variables.spec.?containers.orValue([]) + variables.spec.?ephemeralContainers.orValue([])"),
	)
	// The containers' effective values, for messages only.
	sc := "c.?securityContext"
	win := sc + ".?windowsOptions"
	src := func(opt, pod string) string {
		return opt + ".hasValue() ? 'c' : (variables." + pod + "Set ? 'p' : '')"
	}
	vars = append(vars, v("containers", "variables.all.transformList(i, c, {\n"+
		"  'name': dyn(c.name),\n"+
		"  'qname': dyn("+quoteCEL("c.name")+"),\n"+
		"  'k': dyn(i),\n"+
		"  'image': dyn(c.?image.orValue('')),\n"+
		"  'hp': dyn("+win+".?hostProcess.orValue(variables.podHP)),\n"+
		"  'hpSrc': dyn("+src(win+".?hostProcess", "podHP")+"),\n"+
		"  'user': dyn("+win+".?runAsUserName.orValue(variables.podUser)),\n"+
		"  'userSrc': dyn("+src(win+".?runAsUserName", "podUser")+"),\n"+
		"  'nr': dyn("+sc+".?runAsNonRoot.orValue(variables.podNR)),\n"+
		"  'nrSrc': dyn("+src(sc+".?runAsNonRoot", "podNR")+"),\n"+
		"  'privileged': dyn("+sc+".?privileged.orValue(false))})"))
	// The first container that inherits the pod level's user (runAsNonRoot):
	// a pod-level value is reported once, there.
	first := func(src string) string {
		return "variables.containers.exists(x, x." + src + " == 'p') ? variables.containers.filter(x, x." + src + " == 'p')[0].k : -1"
	}
	vars = append(vars, v("firstPodUser", first("userSrc")), v("firstPodNR", first("nrSrc")))
	if g.needLabels() {
		vars = append(vars, v("nsLabels", "namespaceObject.?metadata.?labels.orValue({})"))
	}
	ruleIdx := "-1"
	for i := len(g.ruleMatch) - 1; i >= 0; i-- {
		ruleIdx = g.ruleMatch[i] + " ? " + strconv.Itoa(i) + " : (" + ruleIdx + ")"
	}
	vars = append(vars,
		v("rule", ruleIdx),
		v("allowed", g.pick(func(s *scope) string { return litList(s.spellings) })),
		v("allowedNames", g.pick(func(s *scope) string { return lit(s.allowedNames) })),
		v("inheritUser", "("+lit(InheritUserAnnotation)+" in variables.annotations) && variables.annotations["+lit(InheritUserAnnotation)+"] in "+litList(policy.InheritUserValues)),
	)
	if !withViolations {
		return vars
	}
	// Each rule's cheap boolean and its violations, which are read only when
	// the boolean is true; then all of them in the order of policy.RuleTable.
	base := vars
	var fails, found []string
	var failVars, guarded []admissionregistrationv1.Variable
	for _, id := range policy.Rules {
		r := ruleBuilders[id](g)
		failVars = append(failVars, v(id+"Fails", r.fails))
		guarded = append(guarded, v(id+"Violations", "variables."+id+"Fails ? ("+r.violations+") : []"))
		fails = append(fails, "variables."+id+"Fails")
		found = append(found, "variables."+id+"Violations")
	}
	foundVar := v("found", strings.Join(found, " + "))
	vars = append(append(append(append([]admissionregistrationv1.Variable(nil), base...), failVars...), guarded...),
		v("failing", strings.Join(fails, " || ")), foundVar)
	if t.oldSpec == "" {
		return append(vars, v("fails", "variables.failing"), v("violations", "variables.found"))
	}
	// The same over the pod before an UPDATE, evaluated only for UPDATEs that
	// break a rule, and only when it was a HostProcess pod.
	// (A rule's violations assume its Fails: the copies keep both.)
	old := renamed(append(append(append(append([]admissionregistrationv1.Variable(nil), base...), failVars...), guarded...), foundVar),
		"old", map[string]string{"spec": t.oldSpec, "annotations": t.oldAnnotations})
	last := &old[len(old)-1]
	last.Expression = hostProcessOf(t.oldSpec) + " ? (" + last.Expression + ") : []"
	vars = append(vars, old...)
	// Debug containers run under the pod's own violations (messages that
	// start "pod: "): those count again when ephemeral containers are added.
	binding := "request.?subResource.orValue('') == 'binding'"
	return append(vars,
		v("priorFound", "request.?subResource.orValue('') == 'ephemeralcontainers' ? "+
			"variables.oldFound.filter(x, !x.msg.startsWith('pod: ')) : variables.oldFound"),
		// A Binding does not show its pod's spec: only its annotations count.
		v("fails", binding+" ? variables."+policy.RuleInheritUser+"Fails : variables.failing"),
		v("violations", binding+" ? variables."+policy.RuleInheritUser+"Violations : "+
			"request.operation == 'UPDATE' ? variables.found.filter(x, !(x in variables.priorFound)) : variables.found"))
}

// renamed copies vars with each name prefixed (spec becomes oldSpec) and the
// references between them renamed alike; roots replaces the expressions of
// the variables named in it.
func renamed(vars []admissionregistrationv1.Variable, prefix string, roots map[string]string) []admissionregistrationv1.Variable {
	name := func(n string) string { return prefix + strings.ToUpper(n[:1]) + n[1:] }
	known := map[string]bool{}
	for _, v := range vars {
		known[v.Name] = true
	}
	ref := regexp.MustCompile(`variables\.(\w+)`)
	out := make([]admissionregistrationv1.Variable, len(vars))
	for i, v := range vars {
		expr := ref.ReplaceAllStringFunc(v.Expression, func(m string) string {
			if n := m[len("variables."):]; known[n] {
				return "variables." + name(n)
			}
			return m
		})
		if r, ok := roots[v.Name]; ok {
			expr = r
		}
		out[i] = admissionregistrationv1.Variable{Name: name(v.Name), Expression: expr}
	}
	return out
}

func (g *generator) needLabels() bool {
	for _, r := range g.cfg.NamespaceRules {
		if r.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// validating is the policy for t under mode. It decides on variables.fails,
// a boolean; the violations, their messages and the audit annotations are
// built only when a rule fails (an empty audit annotation is not written).
func (g *generator) validating(t target, mode config.Mode) admissionregistrationv1.ValidatingAdmissionPolicy {
	msg := "'" + policy.DeniedPrefix + "' + variables.violations.map(v, v.msg).join('; ')"
	if mode == config.ModeWarn {
		msg = "variables.violations.map(v, '" + policy.WarnedPrefix + "' + v.msg).join('; ')"
	}
	forbidden := metav1.StatusReasonForbidden
	violated := "variables.fails && size(variables.violations) > 0"
	return admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: t.name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: g.matchResources(t.rules),
			MatchConditions:  append(g.exemptions(), t.inScope...),
			FailurePolicy:    failClosed,
			Variables:        append(g.variables(t, true), admissionregistrationv1.Variable{Name: "message", Expression: msg}),
			Validations: []admissionregistrationv1.Validation{{
				Expression:        "!variables.fails || size(variables.violations) == 0",
				MessageExpression: capMessage("variables.message", "violations"),
				Reason:            &forbidden,
			}},
			AuditAnnotations: []admissionregistrationv1.AuditAnnotation{{
				Key:             "violations",
				ValueExpression: violated + " ? variables.violations.map(v, v.rule).join(',') : ''",
			}, {
				Key:             "mode",
				ValueExpression: violated + " ? " + lit(string(mode)) + " : ''",
			}},
		},
	}
}

// warningVariables mirror policy's warnings (warnings.go, warnings_runtime.go):
// fields that have no effect, names the runtime cannot log on, and the
// runtime annotations. warns is their cheap boolean; warnings, the
// messages, is read only when warns is true.
func (g *generator) warningVariables(t target) []admissionregistrationv1.Variable {
	v := func(name, expr string) admissionregistrationv1.Variable {
		return admissionregistrationv1.Variable{Name: name, Expression: expr}
	}
	// The reasons are config.StartFailure's own words.
	twoBackslashes, _ := config.StartFailure(`a\b\c`)
	lowerDomain, _ := config.StartFailure(`nt authority\x`)
	rootfs := policy.RootfsLocationAnnotation
	// cannotStart is true for a name the runtime cannot log on with: more
	// than one backslash, or the service domain in another letter case.
	cannotStart := func(u string) string {
		account := u + ".substring(" + u + ".indexOf('\\\\') + 1)"
		domain := u + ".substring(0, " + u + ".indexOf('\\\\'))"
		return u + ".contains('\\\\') && (" + account + ".contains('\\\\') || (" + domain + " != " + lit(config.ServiceDomain) + " && " +
			domain + ".lowerAscii() == " + lit(strings.ToLower(config.ServiceDomain)) + "))"
	}
	account := "x.user.substring(x.user.indexOf('\\\\') + 1)"
	systemAllowed := "(" + lit(systemSpellings[0]) + " in variables.allowed)"
	userSet := "c.?securityContext.?windowsOptions.?runAsUserName"
	placementWarns, placementWarnings := g.placementCEL(t)
	return []admissionregistrationv1.Variable{
		// A Binding gets no warnings: it does not show the pod.
		v("warns", "request.?subResource.orValue('') != 'binding' && ("+
			"variables.all.exists(c, c.?securityContext.?privileged.orValue(false)) || "+
			"(variables.inheritUser && "+systemAllowed+") || "+
			"(!variables.inheritUser && variables.all.exists(c, "+userSet+".hasValue() ? "+cannotStart(userSet+".value()")+" : "+
			"variables.podUserSet && "+cannotStart("variables.podUser")+")) || "+
			"("+lit(rootfs)+" in variables.annotations) || "+placementWarns+")"),
		v("privilegedWarnings", "variables.containers.filter(x, x.privileged).map(x, 'container ' + x.qname + ': securityContext.privileged is ignored for HostProcess containers')"),
		v("inheritUserWarnings", "variables.inheritUser && "+systemAllowed+" ? ["+
			"'pod: ' + variables.metaPath + "+lit(".annotations["+InheritUserAnnotation+"] ")+" + "+quoteCEL("variables.annotations["+lit(InheritUserAnnotation)+"]")+" + "+
			lit(" makes every container run as "+config.SystemAccount+"; runAsUserName has no effect")+"] : []"),
		v("startWarnings", "variables.inheritUser ? [] : variables.containers.filter(x, x.userSrc != '' && "+cannotStart("x.user")+" && "+
			"(x.userSrc == 'c' || x.k == variables.firstPodUser)).map(x, "+
			"(x.userSrc == 'c' ? 'container ' + x.qname + ': securityContext.windowsOptions.runAsUserName ' : 'pod: ' + variables.specPath + '.securityContext.windowsOptions.runAsUserName ') + "+
			quoteCEL("x.user")+" + ' will fail to start on the node: ' + ("+account+".contains('\\\\') ? "+lit(twoBackslashes)+" : "+
			lit(lowerDomain+"; write ")+" + "+quoteCEL(lit(config.ServiceDomain+`\`)+" + "+account)+"))"),
		v("rootfsWarnings", "("+lit(rootfs)+" in variables.annotations) ? ['pod: ' + variables.metaPath + "+lit(".annotations["+rootfs+"] ")+" + "+
			quoteCEL("variables.annotations["+lit(rootfs)+"]")+" + "+lit(" makes the runtime put the containers' files at that path on the node")+"] : []"),
		v("placementWarnings", placementWarnings),
		v("warnings", "variables.privilegedWarnings + variables.inheritUserWarnings + variables.startWarnings + variables.rootfsWarnings + variables.placementWarnings"),
	}
}

// warnings is the Warn-only policy for t: the engine's warnings, which the
// webhook sends in every mode but audit, and in audit mode only for objects
// without violations.
func (g *generator) warnings(t target, mode config.Mode) admissionregistrationv1.ValidatingAdmissionPolicy {
	expr := "!variables.warns || size(variables.warnings) == 0"
	if mode == config.ModeAudit {
		expr = "(variables.fails && size(variables.violations) > 0) || " + expr
	}
	name := strings.Replace(t.name, ".", "-warnings.", 1)
	return admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: g.matchResources(t.rules),
			MatchConditions:  append(g.exemptions(), t.inScope...),
			FailurePolicy:    failClosed,
			Variables: append(append(g.variables(t, mode == config.ModeAudit), g.warningVariables(t)...),
				admissionregistrationv1.Variable{Name: "message", Expression: "variables.warnings.join('; ')"}),
			Validations: []admissionregistrationv1.Validation{{
				Expression:        expr,
				MessageExpression: capMessage("variables.message", "warnings"),
			}},
		},
	}
}
