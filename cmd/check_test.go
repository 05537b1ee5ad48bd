package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs the command line in-process and returns what a user of the
// binary sees: the exit code, stdout, and stderr with the "error:" line that
// Execute prints.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := NewRootCommand()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	code = 0
	if err != nil {
		code = 2
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
			err = ee.Err
		}
		if err != nil {
			fmt.Fprintln(&errOut, "error:", err)
		}
	}
	return code, out.String(), errOut.String()
}

// chdirRoot makes the repository root the working directory, so that paths
// in commands and output read as in the README: examples/...
func chdirRoot(t *testing.T) {
	t.Chdir("..")
}

const defaultAllowed = `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM`

const badUserPod = `apiVersion: v1
kind: Pod
metadata:
  name: from-stdin
spec:
  hostNetwork: true
  securityContext:
    windowsOptions:
      hostProcess: true
      runAsUserName: "NT AUTHORITY\\ANONYMOUS LOGON"
  containers:
  - name: agent
    image: mcr.microsoft.com/windows/nanoserver:ltsc2022
`

func TestCheckCommand(t *testing.T) {
	chdirRoot(t)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{{
		name: "admits a kube-proxy DaemonSet with a warning, and exits 0",
		args: []string{"check", "-f", "examples/admitted/kube-proxy.yaml"},
		code: 0,
		stdout: `ADMITTED DaemonSet kube-system/kube-proxy-windows (examples/admitted/kube-proxy.yaml)
  warning: container "kube-proxy": securityContext.privileged is ignored for HostProcess containers
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name: "denies a pod that runs as a user that is not allowed, and exits 1",
		args: []string{"check", "-f", "examples/rejected/bad-user.yaml"},
		code: 1,
		stdout: `DENIED Pod hostprocess-examples/bad-user (examples/rejected/bad-user.yaml)
  violation runAsUserName: container "agent": securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: ` + defaultAllowed + `)
1 object: 0 admitted, 1 denied, 0 skipped
`,
	}, {
		name: "admits a violating Deployment under the default workload mode, with warnings, and exits 0",
		args: []string{"check", "-f", "examples/warned"},
		code: 0,
		stdout: `ADMITTED Deployment hostprocess-examples/metrics-agent (examples/warned/agent-deployment.yaml)
  warning runAsUserName: pod: spec.template.spec.securityContext.windowsOptions.runAsUserName "ContainerAdministrator" is not allowed (allowed: ` + defaultAllowed + `)
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name: "denies only the local-group pod of the admitted examples under the defaults",
		args: []string{"check", "-f", "examples/admitted"},
		code: 1,
		stdout: `ADMITTED DaemonSet kube-system/csi-proxy (examples/admitted/csi-proxy.yaml)
ADMITTED Pod hostprocess-examples/inherit-user (examples/admitted/inherit-user-pod.yaml)
  warning: pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM; runAsUserName has no effect
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
ADMITTED DaemonSet kube-system/kube-proxy-windows (examples/admitted/kube-proxy.yaml)
  warning: container "kube-proxy": securityContext.privileged is ignored for HostProcess containers
ADMITTED Pod hostprocess-examples/node-debugger-win-node-1-x7k2p (examples/admitted/kubectl-debug-node.yaml)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
DENIED Pod hostprocess-examples/local-group-agent (examples/admitted/local-group-pod.yaml)
  violation runAsUserName: container "agent": securityContext.windowsOptions.runAsUserName "hostprocess-agents" is not allowed (allowed: ` + defaultAllowed + `)
ADMITTED CronJob hostprocess-examples/log-cleanup (examples/admitted/log-cleanup-cronjob.yaml)
ADMITTED Pod hostprocess-examples/lowercase-domain (examples/admitted/lowercase-domain-pod.yaml)
  warning: container "agent": securityContext.windowsOptions.runAsUserName "nt authority\system" will fail to start on the node: the runtime logs NT AUTHORITY accounts on as services only when the domain is written "NT AUTHORITY" in capitals, and this account cannot log on otherwise; write "NT AUTHORITY\system"
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
ADMITTED Pod hostprocess-examples/network-report (examples/admitted/network-service-pod.yaml)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
8 objects: 7 admitted, 1 denied, 0 skipped
`,
	}, {
		name: "admits every admitted example under examples/config.yaml, and exits 0",
		args: []string{"check", "--config", "examples/config.yaml", "-f", "examples/admitted"},
		code: 0,
		stdout: `ADMITTED DaemonSet kube-system/csi-proxy (examples/admitted/csi-proxy.yaml)
ADMITTED Pod hostprocess-examples/inherit-user (examples/admitted/inherit-user-pod.yaml)
  warning: pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM; runAsUserName has no effect
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
ADMITTED DaemonSet kube-system/kube-proxy-windows (examples/admitted/kube-proxy.yaml)
  warning: container "kube-proxy": securityContext.privileged is ignored for HostProcess containers
ADMITTED Pod hostprocess-examples/node-debugger-win-node-1-x7k2p (examples/admitted/kubectl-debug-node.yaml)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
ADMITTED Pod hostprocess-examples/local-group-agent (examples/admitted/local-group-pod.yaml)
ADMITTED CronJob hostprocess-examples/log-cleanup (examples/admitted/log-cleanup-cronjob.yaml)
ADMITTED Pod hostprocess-examples/lowercase-domain (examples/admitted/lowercase-domain-pod.yaml)
  warning: container "agent": securityContext.windowsOptions.runAsUserName "nt authority\system" will fail to start on the node: the runtime logs NT AUTHORITY accounts on as services only when the domain is written "NT AUTHORITY" in capitals, and this account cannot log on otherwise; write "NT AUTHORITY\system"
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
ADMITTED Pod hostprocess-examples/network-report (examples/admitted/network-service-pod.yaml)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
8 objects: 8 admitted, 0 denied, 0 skipped
`,
	}, {
		name:  "reads stdin for -, in the default namespace",
		args:  []string{"check", "-f", "-"},
		stdin: badUserPod,
		code:  1,
		stdout: `DENIED Pod default/from-stdin (stdin)
  violation runAsUserName: pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: ` + defaultAllowed + `)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
1 object: 0 admitted, 1 denied, 0 skipped
`,
	}, {
		name:  "reads paths given comma-separated and repeated, in order",
		args:  []string{"check", "-f", "examples/rejected/windows-os.yaml,-", "-f", "examples/admitted/csi-proxy.yaml"},
		stdin: badUserPod,
		code:  1,
		stdout: `DENIED Pod hostprocess-examples/linux-node-selector (examples/rejected/windows-os.yaml)
  violation windowsOS: pod: spec.nodeSelector["kubernetes.io/os"] "linux" is not allowed (allowed: windows)
DENIED Pod default/from-stdin (stdin)
  violation runAsUserName: pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: ` + defaultAllowed + `)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
ADMITTED DaemonSet kube-system/csi-proxy (examples/admitted/csi-proxy.yaml)
3 objects: 1 admitted, 2 denied, 0 skipped
`,
	}, {
		name: "evaluates the items of a List and skips the kinds without a pod spec",
		args: []string{"check", "-f", "cmd/testdata/check/list.yaml"},
		code: 1,
		stdout: `ADMITTED Pod kube-system/agent (cmd/testdata/check/list.yaml, document 1, item 2)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
DENIED Pod kube-system/agent-as-guest (cmd/testdata/check/list.yaml, document 1, item 3)
  violation runAsUserName: pod: spec.securityContext.windowsOptions.runAsUserName "Guest" is not allowed (allowed: ` + defaultAllowed + `)
3 objects: 1 admitted, 1 denied, 1 skipped
`,
		stderr: "note: skipped ConfigMap kube-system/agent-settings (cmd/testdata/check/list.yaml, document 1, item 1): not a pod or workload\n",
	}, {
		name: "selects namespaces by the labels of a Namespace in the input, and notes one without",
		args: []string{"check", "--config", "cmd/testdata/check/selector-config.yaml", "-f", "cmd/testdata/check/selector.yaml"},
		code: 1,
		stdout: `ADMITTED Pod node-agents/agent (cmd/testdata/check/selector.yaml, document 2)
DENIED Pod team-a/agent (cmd/testdata/check/selector.yaml, document 3)
  violation namespace: pod: namespace "team-a" is not allowed to run HostProcess pods (allowed: namespaces with labels hostprocess.dev/tier=node-agents)
3 objects: 1 admitted, 1 denied, 1 skipped
`,
		stderr: `note: skipped Namespace node-agents (cmd/testdata/check/selector.yaml, document 1): not a pod or workload; its labels are used by namespace rules
note: namespace team-a has no Namespace object in the input: namespace rules see only its name (kubernetes.io/metadata.name=team-a)
`,
	}, {
		name: "denies a pod whose inherit-user annotation runs it as SYSTEM when only Local service is allowed, naming the annotation, and exits 1",
		args: []string{"check", "--config", "cmd/testdata/check/only-local-service.yaml", "-f", "cmd/testdata/check/inherit-user.yaml"},
		code: 1,
		stdout: `DENIED Pod kube-system/inherit-agent (cmd/testdata/check/inherit-user.yaml)
  violation inheritUser: pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM, which is not allowed (allowed: NT AUTHORITY\Local service)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
1 object: 0 admitted, 1 denied, 0 skipped
`,
	}, {
		name: "admits the inherit-user pod under the defaults, which allow SYSTEM, with a warning, and exits 0",
		args: []string{"check", "-f", "cmd/testdata/check/inherit-user.yaml"},
		code: 0,
		stdout: `ADMITTED Pod kube-system/inherit-agent (cmd/testdata/check/inherit-user.yaml)
  warning: pod: metadata.annotations[microsoft.com/hostprocess-inherit-user] "true" makes every container run as NT AUTHORITY\SYSTEM; runAsUserName has no effect
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:   "refuses Administrators written as a SID with a hexadecimal RID, naming the entry, and exits 2",
		args:   []string{"check", "--config", "cmd/testdata/check/admin-group-hex-sid.yaml", "-f", "cmd/testdata/check/inherit-user.yaml"},
		code:   2,
		stderr: `error: configuration file cmd/testdata/check/admin-group-hex-sid.yaml: allowedLocalGroups[0]: Forbidden: "S-1-5-32-0x220" names the built-in group Administrators (S-1-5-32-544), which has administrative rights: members have full control of the node` + "\n",
	}, {
		name:   "refuses a name Windows does not accept, naming the entry, and exits 2",
		args:   []string{"check", "--config", "cmd/testdata/check/admin-group-slash.yaml", "-f", "cmd/testdata/check/inherit-user.yaml"},
		code:   2,
		stderr: `error: configuration file cmd/testdata/check/admin-group-slash.yaml: allowedLocalGroups[0]: Invalid value: "BUILTIN/Administrators": must not contain '/': Windows accepts none of "/[]:;|=,+*?<> in account names` + "\n",
	}, {
		name:   "refuses RDS Management Servers, a privileged BUILTIN group, and exits 2",
		args:   []string{"check", "--config", "cmd/testdata/check/admin-group-rds.yaml", "-f", "cmd/testdata/check/inherit-user.yaml"},
		code:   2,
		stderr: `error: configuration file cmd/testdata/check/admin-group-rds.yaml: allowedLocalGroups[0]: Forbidden: "RDS Management Servers" names the built-in group RDS Management Servers (S-1-5-32-577), which has administrative rights: members perform administrative actions on Remote Desktop servers` + "\n",
	}, {
		name:   "rejects malformed YAML, naming the file, the document and the line, and exits 2",
		args:   []string{"check", "-f", "cmd/testdata/check/malformed.yaml"},
		code:   2,
		stderr: "error: cmd/testdata/check/malformed.yaml: document 2: invalid YAML: line 15: did not find expected key\n",
	}, {
		name:   "rejects an unknown field in a Pod, naming it, and exits 2",
		args:   []string{"check", "-f", "cmd/testdata/check/unknown-field.yaml"},
		code:   2,
		stderr: "error: cmd/testdata/check/unknown-field.yaml: document 1: unknown field \"spec.securityContext.windowsOptions.runAsUsername\"\n",
	}, {
		name:   "rejects a manifest without kind, and exits 2",
		args:   []string{"check", "-f", "cmd/testdata/check/no-kind.yaml"},
		code:   2,
		stderr: "error: cmd/testdata/check/no-kind.yaml: document 1: kind must be set to a non-empty string\n",
	}, {
		name:   "rejects a missing file, and exits 2",
		args:   []string{"check", "-f", "examples/missing.yaml"},
		code:   2,
		stderr: "error: examples/missing.yaml: no such file or directory\n",
	}, {
		name: "names every unreadable input and evaluates nothing",
		args: []string{"check", "-f", "examples/admitted,examples/missing.yaml,cmd/testdata/check/malformed.yaml"},
		code: 2,
		stderr: `error: examples/missing.yaml: no such file or directory
error: cmd/testdata/check/malformed.yaml: document 2: invalid YAML: line 15: did not find expected key
`,
	}, {
		name:   "rejects a directory without manifests, and exits 2",
		args:   []string{"check", "-f", "docs"},
		code:   2,
		stderr: "error: docs: no .json, .yaml or .yml files in the directory\n",
	}, {
		name:   "rejects input without objects, and exits 2",
		args:   []string{"check", "-f", "-"},
		stdin:  "# nothing\n---\n",
		code:   2,
		stderr: "error: no objects in the input\n",
	}, {
		name:   "rejects an invalid configuration with its path and field, and exits 2",
		args:   []string{"check", "--config", "cmd/testdata/check/invalid-config.yaml", "-f", "examples"},
		code:   2,
		stderr: "error: configuration file cmd/testdata/check/invalid-config.yaml: unknown field \"allowedUser\"\n",
	}, {
		name:   "rejects an unknown mode, and exits 2",
		args:   []string{"check", "--config", "cmd/testdata/check/bad-mode.yaml", "-f", "examples"},
		code:   2,
		stderr: "error: configuration file cmd/testdata/check/bad-mode.yaml: mode: Unsupported value: \"deny\": supported values: \"enforce\", \"warn\", \"audit\"\n",
	}, {
		name: "refuses to exempt the DaemonSet controller, naming the entry, and exits 2",
		args: []string{"check", "--config", "cmd/testdata/check/exempt-controller.yaml", "-f", "examples"},
		code: 2,
		stderr: `error: configuration file cmd/testdata/check/exempt-controller.yaml: exemptions.usernames[0]: Invalid value: "system:serviceaccount:kube-system:daemon-set-controller": ` +
			`is the identity of a controller that creates or places pods for other users: exempting it would exempt every pod it creates for anybody; ` +
			`exempt a namespace (exemptions.namespaces) or narrow a namespace rule instead` + "\n",
	}, {
		name:   "rejects a missing configuration file, and exits 2",
		args:   []string{"check", "--config", "missing.yaml", "-f", "examples"},
		code:   2,
		stderr: "error: reading configuration: open missing.yaml: no such file or directory\n",
	}, {
		name:   "rejects a call without -f, and exits 2",
		args:   []string{"check"},
		code:   2,
		stderr: "error: no input: give manifests with -f PATH (a file, a directory or - for stdin)\n",
	}, {
		name:   "rejects an unknown output format, and exits 2",
		args:   []string{"check", "-o", "yaml", "-f", "examples"},
		code:   2,
		stderr: "error: --output must be one of text, json, sarif, junit or github, not \"yaml\"\n",
	}, {
		name:   "rejects an unknown flag, and exits 2",
		args:   []string{"check", "--filenames", "examples"},
		code:   2,
		stderr: "error: unknown flag: --filenames\n",
	}, {
		name:   "rejects a path given without -f, and exits 2",
		args:   []string{"check", "examples"},
		code:   2,
		stderr: "error: unknown command \"examples\" for \"hostprocess-admission check\"\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d", code, tc.code)
			}
			if diff := cmp.Diff(tc.stdout, stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stderr, stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckCommandJSON(t *testing.T) {
	chdirRoot(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{{
		name: "reports an admitted pod with its default patch",
		args: []string{"check", "-o", "json", "-f", "examples/admitted/network-service-pod.yaml"},
		code: 0,
		want: `{
  "results": [
    {
      "kind": "Pod",
      "namespace": "hostprocess-examples",
      "name": "network-report",
      "file": "examples/admitted/network-service-pod.yaml",
      "document": 1,
      "line": 7,
      "allowed": true,
      "mode": "enforce",
      "exempt": false,
      "hostProcess": true,
      "violations": [],
      "warnings": [],
      "patch": [
        {
          "op": "add",
          "path": "/spec/nodeSelector",
          "value": {
            "kubernetes.io/os": "windows"
          }
        }
      ]
    }
  ],
  "skipped": [],
  "summary": {
    "objects": 1,
    "admitted": 1,
    "denied": 0,
    "skipped": 0
  }
}
`,
	}, {
		name: "reports a denied pod with each violation's rule, container and field",
		args: []string{"check", "--output=json", "-f", "examples/rejected/run-as-non-root.yaml"},
		code: 1,
		want: `{
  "results": [
    {
      "kind": "Pod",
      "namespace": "hostprocess-examples",
      "name": "non-root",
      "file": "examples/rejected/run-as-non-root.yaml",
      "document": 1,
      "line": 7,
      "allowed": false,
      "mode": "enforce",
      "exempt": false,
      "hostProcess": true,
      "violations": [
        {
          "rule": "runAsNonRoot",
          "container": "agent",
          "field": "spec.containers[0].securityContext.runAsNonRoot",
          "message": "container \"agent\": securityContext.runAsNonRoot is true (allowed: unset or false)"
        }
      ],
      "warnings": [],
      "patch": []
    }
  ],
  "skipped": [],
  "summary": {
    "objects": 1,
    "admitted": 0,
    "denied": 1,
    "skipped": 0
  }
}
`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d", code, tc.code)
			}
			if diff := cmp.Diff(tc.want, stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want none", stderr)
			}
		})
	}
}

// TestCheckExamplesGolden runs check over the whole examples directory and
// compares with the golden files. UPDATE_CHECK_GOLDEN=true rewrites them.
func TestCheckExamplesGolden(t *testing.T) {
	chdirRoot(t)
	for _, format := range []string{"text", "json", "sarif", "junit", "github"} {
		t.Run("check -o "+format+" -f examples/", func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "check", "-o", format, "-f", "examples/")
			got := fmt.Sprintf("exit code %d\n--- stderr\n%s--- stdout\n%s", code, stderr, stdout)
			golden := filepath.Join("cmd", "testdata", "check", "examples-"+format+".golden")
			if os.Getenv("UPDATE_CHECK_GOLDEN") == "true" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (UPDATE_CHECK_GOLDEN=true writes it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s is stale (-want +got); UPDATE_CHECK_GOLDEN=true rewrites it:\n%s", golden, diff)
			}
		})
	}
}

// exampleDetail matches the lines in an example's top comment that quote
// check's output: "#   violation runAsUserName: ...", "#   warning: ...".
var exampleDetail = regexp.MustCompile(`^#   ((violation|warning|audit) \w+: |warning: |default: )`)

// TestExampleComments checks that the output each example's comment quotes
// is what check prints for it under the defaults, and that the comment says
// DENIED exactly when it is denied.
func TestExampleComments(t *testing.T) {
	chdirRoot(t)
	files, err := filepath.Glob("examples/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 {
		t.Fatalf("found %d examples, want at least 12: %v", len(files), files)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			quoted := []string{}
			var comment strings.Builder
			for line := range strings.Lines(string(data)) {
				if !strings.HasPrefix(line, "#") {
					break
				}
				comment.WriteString(line)
				if exampleDetail.MatchString(line) {
					quoted = append(quoted, strings.TrimSpace(strings.TrimPrefix(line, "#")))
				}
			}
			code, stdout, stderr := runCLI(t, "", "check", "-f", file)
			if code == 2 {
				t.Fatalf("check failed: %s", stderr)
			}
			printed := []string{}
			for line := range strings.Lines(stdout) {
				if strings.HasPrefix(line, "  ") {
					printed = append(printed, strings.TrimSpace(line))
				}
			}
			if diff := cmp.Diff(printed, quoted); diff != "" {
				t.Errorf("the top comment quotes other output than check prints (-printed +quoted):\n%s", diff)
			}
			if denied, says := code == 1, strings.Contains(comment.String(), "DENIED"); denied != says {
				t.Errorf("check denied it: %v; the comment says DENIED: %v", denied, says)
			}
		})
	}
}
