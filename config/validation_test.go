package config

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *AdmissionConfiguration)
		// want lists each expected error as "<type> <field>".
		want []string
	}{
		{
			name: "the defaults are valid",
			edit: func(*AdmissionConfiguration) {},
		},
		{
			name: "a configuration using every field is valid",
			edit: func(c *AdmissionConfiguration) {
				c.Mode, c.WorkloadMode = ModeAudit, ModeEnforce
				c.AllowedLocalGroups = []string{"hpc-agents", `.\log-shippers`}
				c.NamespaceRules = []NamespaceRule{
					{
						Namespaces:         []string{"kube-system"},
						AllowedUsers:       []string{`nt authority\system`},
						AllowedLocalGroups: []string{`.\LOG-SHIPPERS`},
						AllowedImages:      []string{"mcr.microsoft.com/*", "registry.k8s.io/pause:3.10"},
					},
					{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hostprocess.dev/allowed": "true"}}},
					{NamespaceSelector: &metav1.LabelSelector{}},
				}
				c.Exemptions = Exemptions{Namespaces: []string{"hostprocess-admission"}, Usernames: []string{"system:serviceaccount:ci:deployer", "alice@example.com"}}
				c.Defaults.Tolerations = []corev1.Toleration{
					{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule},
					{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
					{Operator: corev1.TolerationOpExists},
				}
				c.Defaults.LocalGroupNodeAffinity = true
				c.Audit.Interval = &metav1.Duration{Duration: 10 * time.Second}
			},
		},
		{
			name: "an explicit empty allowedUsers list is valid",
			edit: func(c *AdmissionConfiguration) { c.AllowedUsers = []string{} },
		},
		{
			name: "unknown modes are rejected with the supported values",
			edit: func(c *AdmissionConfiguration) { c.Mode, c.WorkloadMode = "deny", "Warn" },
			want: []string{"FieldValueNotSupported mode", "FieldValueNotSupported workloadMode"},
		},
		{
			name: "an empty mode is rejected because Validate expects a defaulted configuration",
			edit: func(c *AdmissionConfiguration) { c.Mode = "" },
			want: []string{"FieldValueNotSupported mode"},
		},
		{
			name: "a wrong apiVersion and kind are rejected",
			edit: func(c *AdmissionConfiguration) { c.APIVersion, c.Kind = "v1", "" },
			want: []string{"FieldValueNotSupported apiVersion", "FieldValueRequired kind"},
		},
		{
			name: "malformed user names are rejected",
			edit: func(c *AdmissionConfiguration) {
				c.AllowedUsers = []string{
					"",
					` NT AUTHORITY\SYSTEM`,
					"NT AUTHORITY\\SYSTEM\u00A0",
					"NT AUTHORITY\\SYS\tTEM",
					"NT AUTHORITY\\SYS\u200BTEM",
					"NT AUTHORITY\\\u202ESYSTEM",
					"NT AUTHORITY\\\xffSYSTEM",
				}
			},
			want: []string{
				"FieldValueRequired allowedUsers[0]",
				"FieldValueInvalid allowedUsers[1]",
				"FieldValueInvalid allowedUsers[2]",
				"FieldValueInvalid allowedUsers[3]",
				"FieldValueInvalid allowedUsers[4]",
				"FieldValueInvalid allowedUsers[5]",
				"FieldValueInvalid allowedUsers[6]",
			},
		},
		{
			name: "users that differ only in ASCII case are duplicates",
			edit: func(c *AdmissionConfiguration) {
				c.AllowedUsers = []string{`NT AUTHORITY\SYSTEM`, `nt authority\system`, "\u017Fystem", "system"}
			},
			want: []string{"FieldValueDuplicate allowedUsers[1]"},
		},
		{
			name: "groups that differ only in ASCII case are duplicates",
			edit: func(c *AdmissionConfiguration) { c.AllowedLocalGroups = []string{"hpc-agents", "HPC-Agents"} },
			want: []string{"FieldValueDuplicate allowedLocalGroups[1]"},
		},
		{
			name: "a refused group is rejected among the users too, since containerd treats a group name as a group",
			edit: func(c *AdmissionConfiguration) { c.AllowedUsers = append(c.AllowedUsers, "Administrators") },
			want: []string{"FieldValueForbidden allowedUsers[3]"},
		},
		{
			name: "refused groups are rejected in every form",
			edit: func(c *AdmissionConfiguration) {
				c.AllowedLocalGroups = []string{
					"Administrators",
					`BUILTIN\administrators`,
					`.\Backup Operators`,
					`NODE-01\Hyper-V Administrators`,
					`CONTOSO\Domain Admins`,
					"Enterprise Admins@contoso.com",
					"S-1-5-32-544",
					"s-1-5-32-551",
					"S-1-5-21-3623811015-3361044348-30300820-512",
					"hpc-agents",
				}
			},
			want: []string{
				"FieldValueForbidden allowedLocalGroups[0]",
				"FieldValueForbidden allowedLocalGroups[1]",
				"FieldValueForbidden allowedLocalGroups[2]",
				"FieldValueForbidden allowedLocalGroups[3]",
				"FieldValueForbidden allowedLocalGroups[4]",
				"FieldValueForbidden allowedLocalGroups[5]",
				"FieldValueForbidden allowedLocalGroups[6]",
				"FieldValueForbidden allowedLocalGroups[7]",
				"FieldValueForbidden allowedLocalGroups[8]",
			},
		},
		{
			name: "built-in accounts are rejected as local groups",
			edit: func(c *AdmissionConfiguration) {
				c.AllowedLocalGroups = []string{`NT AUTHORITY\SYSTEM`, `nt authority\Local service`, "NetworkService", "S-1-5-18", `NT AUTHORITY\Authenticated Users`, `.\Administrator`}
			},
			want: []string{
				"FieldValueForbidden allowedLocalGroups[0]",
				"FieldValueForbidden allowedLocalGroups[1]",
				"FieldValueForbidden allowedLocalGroups[2]",
				"FieldValueForbidden allowedLocalGroups[3]",
				"FieldValueForbidden allowedLocalGroups[4]",
				"FieldValueForbidden allowedLocalGroups[5]",
			},
		},
		{
			name: "a rule without namespaces or a selector is rejected",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{Namespaces: []string{}, AllowedImages: []string{"mcr.microsoft.com/*"}}}
			},
			want: []string{"FieldValueRequired namespaceRules[0]"},
		},
		{
			name: "namespace names that are not DNS labels are rejected",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{Namespaces: []string{"kube-system", "Kube_System", ""}}}
				c.Exemptions.Namespaces = []string{"ok", "not/ok"}
			},
			want: []string{
				"FieldValueInvalid namespaceRules[0].namespaces[1]",
				"FieldValueInvalid namespaceRules[0].namespaces[2]",
				"FieldValueInvalid exemptions.namespaces[1]",
			},
		},
		{
			name: "a selector that does not parse is rejected at the failing path",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"bad key!": "v"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "tier", Operator: "Like", Values: []string{"x"}},
						{Key: "tier", Operator: metav1.LabelSelectorOpIn},
					},
				}}}
			},
			want: []string{
				"FieldValueInvalid namespaceRules[0].namespaceSelector.matchLabels",
				"FieldValueInvalid namespaceRules[0].namespaceSelector.matchExpressions[0].operator",
				"FieldValueRequired namespaceRules[0].namespaceSelector.matchExpressions[1].values",
			},
		},
		{
			name: "a rule that widens the users or groups is rejected",
			edit: func(c *AdmissionConfiguration) {
				c.AllowedLocalGroups = []string{"hpc-agents"}
				c.NamespaceRules = []NamespaceRule{{
					Namespaces:         []string{"monitoring"},
					AllowedUsers:       []string{`NT AUTHORITY\SYSTEM`, `CONTOSO\svc-agent`, "\u017Fystem"},
					AllowedLocalGroups: []string{"HPC-AGENTS", "log-shippers"},
				}}
			},
			want: []string{
				"FieldValueInvalid namespaceRules[0].allowedUsers[1]",
				"FieldValueInvalid namespaceRules[0].allowedUsers[2]",
				"FieldValueInvalid namespaceRules[0].allowedLocalGroups[1]",
			},
		},
		{
			name: "a rule cannot allow a user when the top-level list is explicitly empty",
			edit: func(c *AdmissionConfiguration) {
				c.AllowedUsers = []string{}
				c.NamespaceRules = []NamespaceRule{{Namespaces: []string{"kube-system"}, AllowedUsers: []string{`NT AUTHORITY\SYSTEM`}}}
			},
			want: []string{"FieldValueInvalid namespaceRules[0].allowedUsers[0]"},
		},
		{
			name: "malformed rule entries are rejected",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{
					Namespaces:    []string{"kube-system"},
					AllowedUsers:  []string{"", `NT AUTHORITY\SYSTEM`, `nt authority\SYSTEM`},
					AllowedImages: []string{"", "mcr.microsoft.com/ *", "mcr.microsoft.com/*\n", "mcr.microsoft.com/*"},
				}}
			},
			want: []string{
				"FieldValueRequired namespaceRules[0].allowedUsers[0]",
				"FieldValueDuplicate namespaceRules[0].allowedUsers[2]",
				"FieldValueRequired namespaceRules[0].allowedImages[0]",
				"FieldValueInvalid namespaceRules[0].allowedImages[1]",
				"FieldValueInvalid namespaceRules[0].allowedImages[2]",
			},
		},
		{
			name: "an explicit empty allowedImages list is rejected because it could mean no image or any image",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{Namespaces: []string{"kube-system"}, AllowedImages: []string{}}}
			},
			want: []string{"FieldValueRequired namespaceRules[0].allowedImages"},
		},
		{
			name: "an empty exempt username is rejected",
			edit: func(c *AdmissionConfiguration) { c.Exemptions.Usernames = []string{"admin", ""} },
			want: []string{"FieldValueRequired exemptions.usernames[1]"},
		},
		{
			name: "exempt usernames of pod-creating controllers, nodes and groups are rejected",
			edit: func(c *AdmissionConfiguration) {
				c.Exemptions.Usernames = []string{
					"system:serviceaccount:kube-system:daemon-set-controller",
					"system:serviceaccount:kube-system:replicaset-controller",
					"system:serviceaccount:kube-system:job-controller",
					"system:serviceaccount:kube-system:statefulset-controller",
					"system:kube-controller-manager",
					"system:kube-scheduler",
					"system:node:win-node-1",
					"system:authenticated",
					"system:unauthenticated",
					"system:serviceaccounts",
					"system:serviceaccounts:kube-system",
					"system:masters",
					"system:nodes",
					"system:anonymous",
					// Allowed: a named service account, and names that only look alike.
					"system:serviceaccount:kube-system:my-agent",
					"system:serviceaccount:ci:replicaset-controller",
					"System:Nodes",
				}
			},
			want: []string{
				"FieldValueInvalid exemptions.usernames[0]", "FieldValueInvalid exemptions.usernames[1]",
				"FieldValueInvalid exemptions.usernames[2]", "FieldValueInvalid exemptions.usernames[3]",
				"FieldValueInvalid exemptions.usernames[4]", "FieldValueInvalid exemptions.usernames[5]",
				"FieldValueInvalid exemptions.usernames[6]", "FieldValueInvalid exemptions.usernames[7]",
				"FieldValueInvalid exemptions.usernames[8]", "FieldValueInvalid exemptions.usernames[9]",
				"FieldValueInvalid exemptions.usernames[10]", "FieldValueInvalid exemptions.usernames[11]",
				"FieldValueInvalid exemptions.usernames[12]", "FieldValueInvalid exemptions.usernames[13]",
			},
		},
		{
			name: "tolerations the API server would reject are rejected",
			edit: func(c *AdmissionConfiguration) {
				c.Defaults.Tolerations = []corev1.Toleration{
					{Key: "os", Operator: "In", Value: "windows"},
					{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: "NoRun"},
					{Key: "os", Operator: corev1.TolerationOpExists, Value: "windows"},
					{Key: "bad key", Operator: corev1.TolerationOpExists},
					{Operator: corev1.TolerationOpEqual, Value: "windows"},
					{Key: "os", Value: "not a label value"},
					{Key: "os", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: new(int64(60))},
				}
			},
			want: []string{
				"FieldValueNotSupported defaults.tolerations[0].operator",
				"FieldValueNotSupported defaults.tolerations[1].effect",
				"FieldValueInvalid defaults.tolerations[2].value",
				"FieldValueInvalid defaults.tolerations[3].key",
				"FieldValueInvalid defaults.tolerations[4].operator",
				"FieldValueInvalid defaults.tolerations[5].value",
				"FieldValueInvalid defaults.tolerations[6].tolerationSeconds",
			},
		},
		{
			name: "an audit interval under 10s is rejected",
			edit: func(c *AdmissionConfiguration) { c.Audit.Interval = &metav1.Duration{Duration: 9 * time.Second} },
			want: []string{"FieldValueInvalid audit.interval"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(c)
			got := summarize(Validate(c))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Validate:\ngot  %q\nwant %q\nerrors: %v", got, tc.want, Validate(c))
			}
		})
	}
}

func summarize(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s", string(e.Type), e.Field))
	}
	return out
}

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *AdmissionConfiguration)
		want string
	}{
		{
			name: "a refused group names the group, its SID and why",
			edit: func(c *AdmissionConfiguration) { c.AllowedLocalGroups = []string{`BUILTIN\Backup Operators`} },
			want: "allowedLocalGroups[0]: Forbidden: \"BUILTIN\\\\Backup Operators\" names the built-in group Backup Operators (S-1-5-32-551), which has administrative rights: " +
				"members read and replace any file (SeBackupPrivilege, SeRestorePrivilege)",
		},
		{
			name: "a refused group among the users says why users are checked",
			edit: func(c *AdmissionConfiguration) { c.AllowedUsers = []string{`CONTOSO\Domain Admins`} },
			want: "allowedUsers[0]: Forbidden: \"CONTOSO\\\\Domain Admins\" names the built-in group Domain Admins (S-1-5-21-<domain>-512), which has administrative rights: " +
				"members administer the domain; a runAsUserName that names a local group runs as a member of that group",
		},
		{
			name: "a built-in account among the groups says where it belongs",
			edit: func(c *AdmissionConfiguration) { c.AllowedLocalGroups = []string{`NT AUTHORITY\SYSTEM`} },
			want: "allowedLocalGroups[0]: Forbidden: \"NT AUTHORITY\\\\SYSTEM\" names a built-in account, not a local group; accounts belong in allowedUsers",
		},
		{
			name: "an exempt controller says why and what to write instead",
			edit: func(c *AdmissionConfiguration) {
				c.Exemptions.Usernames = []string{"system:serviceaccount:kube-system:daemon-set-controller"}
			},
			want: `exemptions.usernames[0]: Invalid value: "system:serviceaccount:kube-system:daemon-set-controller": ` +
				`is the identity of a controller that creates or places pods for other users: exempting it would exempt every pod it creates for anybody; ` +
				`exempt a namespace (exemptions.namespaces) or narrow a namespace rule instead`,
		},
		{
			name: "an exempt group says that groups never match",
			edit: func(c *AdmissionConfiguration) { c.Exemptions.Usernames = []string{"system:masters"} },
			want: `exemptions.usernames[0]: Invalid value: "system:masters": is a group, not a username, so it never matches a request's user; ` +
				`exempting a group would exempt every member; exempt a namespace (exemptions.namespaces) or narrow a namespace rule instead`,
		},
		{
			name: "a rule that widens says that rules only narrow",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{Namespaces: []string{"a"}, AllowedLocalGroups: []string{"hpc-agents"}}}
			},
			want: `namespaceRules[0].allowedLocalGroups[0]: Invalid value: "hpc-agents": not in the top-level allowedLocalGroups; a rule can only narrow it`,
		},
		{
			name: "a selector with an unknown operator names the operator",
			edit: func(c *AdmissionConfiguration) {
				c.NamespaceRules = []NamespaceRule{{NamespaceSelector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Like"}},
				}}}
			},
			want: `namespaceRules[0].namespaceSelector.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator`,
		},
		{
			name: "a whitespace-padded user says so",
			edit: func(c *AdmissionConfiguration) { c.AllowedUsers = []string{`NT AUTHORITY\SYSTEM `} },
			want: `allowedUsers[0]: Invalid value: "NT AUTHORITY\\SYSTEM ": must not begin or end with whitespace`,
		},
		{
			name: "a toleration effect lists the supported effects",
			edit: func(c *AdmissionConfiguration) {
				c.Defaults.Tolerations = []corev1.Toleration{{Key: "os", Value: "windows", Effect: "NoRun"}}
			},
			want: `defaults.tolerations[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(c)
			errs := Validate(c)
			if len(errs) != 1 || errs[0].Error() != tc.want {
				t.Errorf("Validate:\ngot  %v\nwant [%s]", errs, tc.want)
			}
		})
	}
}
