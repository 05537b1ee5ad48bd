package checker

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/hostprocess-admission/hostprocess-admission/config"
	"github.com/hostprocess-admission/hostprocess-admission/internal/manifest"
	"github.com/hostprocess-admission/hostprocess-admission/policy"
)

const defaultAllowed = `NT AUTHORITY\Local service, NT AUTHORITY\NetworkService, NT AUTHORITY\SYSTEM`

// hostProcessPod returns a HostProcess pod manifest in namespace ns (none
// when empty) that runs as user, with extra lines appended to its spec.
func hostProcessPod(name, ns, user string, specLines ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n")
	if ns != "" {
		b.WriteString("  namespace: " + ns + "\n")
	}
	b.WriteString("spec:\n  hostNetwork: true\n  securityContext:\n    windowsOptions:\n      hostProcess: true\n")
	b.WriteString("      runAsUserName: '" + user + "'\n")
	for _, l := range specLines {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("  containers:\n  - name: agent\n    image: registry.example.com/agent:v1\n")
	return b.String()
}

const windowsSelector = "nodeSelector: {kubernetes.io/os: windows}"

func hostProcessDeployment(name, ns, user string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  selector:
    matchLabels: {app: a}
  template:
    metadata:
      labels: {app: a}
    spec:
      hostNetwork: true
      nodeSelector: {kubernetes.io/os: windows}
      securityContext:
        windowsOptions:
          hostProcess: true
          runAsUserName: '` + user + `'
      containers:
      - name: agent
        image: registry.example.com/agent:v1
`
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		// config is an AdmissionConfiguration without apiVersion and kind; empty
		// means the defaults.
		config string
		input  string
		// stdout is the text output; stderr the notes.
		stdout string
		stderr string
	}{{
		name:  "admits an allowed HostProcess pod and shows the nodeSelector the mutating webhook adds",
		input: hostProcessPod("agent", "kube-system", `NT AUTHORITY\SYSTEM`),
		stdout: `ADMITTED Pod kube-system/agent (x.yaml)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:  "denies a pod with a violation in enforce mode, still showing its defaults",
		input: hostProcessPod("agent", "kube-system", `NT AUTHORITY\ANONYMOUS LOGON`),
		stdout: `DENIED Pod kube-system/agent (x.yaml)
  violation runAsUserName: pod: spec.securityContext.windowsOptions.runAsUserName "NT AUTHORITY\ANONYMOUS LOGON" is not allowed (allowed: ` + defaultAllowed + `)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
1 object: 0 admitted, 1 denied, 0 skipped
`,
	}, {
		name:  "admits a workload with violations as warnings under the default workload mode, without defaults",
		input: hostProcessDeployment("web", "kube-system", "ContainerAdministrator"),
		stdout: `ADMITTED Deployment kube-system/web (x.yaml)
  warning runAsUserName: pod: spec.template.spec.securityContext.windowsOptions.runAsUserName "ContainerAdministrator" is not allowed (allowed: ` + defaultAllowed + `)
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:   "denies a workload when workloadMode is enforce",
		config: "workloadMode: enforce",
		input:  hostProcessDeployment("web", "kube-system", "ContainerAdministrator"),
		stdout: `DENIED Deployment kube-system/web (x.yaml)
  violation runAsUserName: pod: spec.template.spec.securityContext.windowsOptions.runAsUserName "ContainerAdministrator" is not allowed (allowed: ` + defaultAllowed + `)
1 object: 0 admitted, 1 denied, 0 skipped
`,
	}, {
		name:   "admits a violating pod in audit mode and lists its violations",
		config: "mode: audit",
		input:  hostProcessPod("agent", "kube-system", "ContainerAdministrator", windowsSelector),
		stdout: `ADMITTED Pod kube-system/agent (x.yaml)
  audit runAsUserName: pod: spec.securityContext.windowsOptions.runAsUserName "ContainerAdministrator" is not allowed (allowed: ` + defaultAllowed + `)
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:   "admits a violating pod in warn mode with its violations as warnings",
		config: "mode: warn",
		input:  hostProcessPod("agent", "kube-system", "ContainerAdministrator", windowsSelector),
		stdout: `ADMITTED Pod kube-system/agent (x.yaml)
  warning runAsUserName: pod: spec.securityContext.windowsOptions.runAsUserName "ContainerAdministrator" is not allowed (allowed: ` + defaultAllowed + `)
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:   "admits a pod in an exempt namespace without evaluating or defaulting it",
		config: "exemptions: {namespaces: [node-repair]}",
		input:  hostProcessPod("agent", "node-repair", "ContainerAdministrator"),
		stdout: `ADMITTED Pod node-repair/agent (x.yaml)
  exempt: namespace node-repair is exempt
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:  "takes an object without a namespace to be in default",
		input: hostProcessPod("agent", "", `NT AUTHORITY\SYSTEM`, windowsSelector),
		stdout: `ADMITTED Pod default/agent (x.yaml)
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:  "admits a pod that is not a HostProcess pod unchanged",
		input: "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: web, image: nginx}\n",
		stdout: `ADMITTED Pod default/web (x.yaml)
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name: "shows warnings for fields that have no effect",
		input: hostProcessPod("agent", "kube-system", `NT AUTHORITY\SYSTEM`, windowsSelector) +
			"    securityContext: {privileged: true}\n",
		stdout: `ADMITTED Pod kube-system/agent (x.yaml)
  warning: container "agent": securityContext.privileged is ignored for HostProcess containers
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name:   "evaluates the pod after the configured defaults and lists each",
		config: "defaults: {tolerations: [{key: os, value: windows, effect: NoSchedule}], localGroupNodeAffinity: true}\nallowedLocalGroups: [hostprocess-agents]",
		input:  hostProcessPod("agent", "kube-system", "hostprocess-agents", "tolerations: [{key: CriticalAddonsOnly, operator: Exists}]"),
		stdout: `ADMITTED Pod kube-system/agent (x.yaml)
  default: add /spec/nodeSelector {"kubernetes.io/os":"windows"}
  default: add /spec/tolerations/- {"key":"os","value":"windows","effect":"NoSchedule"}
  default: add /spec/affinity {"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"hostprocess.dev/local-groups-ready","operator":"In","values":["837ede1743fd81fb"]}]}]}}}
1 object: 1 admitted, 0 denied, 0 skipped
`,
	}, {
		name: "uses the labels of a Namespace in the input for a selector rule, and notes a namespace without one",
		config: `namespaceRules:
- namespaceSelector: {matchLabels: {hostprocess.dev/tier: node-agents}}
  allowedImages: ["registry.example.com/*"]`,
		input: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: agents\n  labels: {hostprocess.dev/tier: node-agents}\n---\n" +
			hostProcessPod("agent", "agents", `NT AUTHORITY\SYSTEM`, windowsSelector) + "---\n" +
			hostProcessPod("agent", "team-a", `NT AUTHORITY\SYSTEM`, windowsSelector) + "---\n" +
			hostProcessPod("agent-2", "team-a", `NT AUTHORITY\SYSTEM`, windowsSelector),
		stdout: `ADMITTED Pod agents/agent (x.yaml, document 2)
DENIED Pod team-a/agent (x.yaml, document 3)
  violation namespace: pod: namespace "team-a" is not allowed to run HostProcess pods (allowed: namespaces with labels hostprocess.dev/tier=node-agents)
DENIED Pod team-a/agent-2 (x.yaml, document 4)
  violation namespace: pod: namespace "team-a" is not allowed to run HostProcess pods (allowed: namespaces with labels hostprocess.dev/tier=node-agents)
4 objects: 1 admitted, 2 denied, 1 skipped
`,
		stderr: `note: skipped Namespace agents (x.yaml, document 1): not a pod or workload; its labels are used by namespace rules
note: namespace team-a has no Namespace object in the input: namespace rules see only its name (kubernetes.io/metadata.name=team-a)
`,
	}, {
		name: "applies the images of the matching rule",
		config: `namespaceRules:
- namespaces: [kube-system]
  allowedImages: ["mcr.microsoft.com/*"]`,
		input: hostProcessPod("agent", "kube-system", `NT AUTHORITY\SYSTEM`, windowsSelector),
		stdout: `DENIED Pod kube-system/agent (x.yaml)
  violation image: container "agent": image "registry.example.com/agent:v1" is not allowed (allowed: mcr.microsoft.com/*)
1 object: 0 admitted, 1 denied, 0 skipped
`,
	}, {
		name: "skips kinds that are not pods or workloads, each with a note",
		input: `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: kube-system}
---
apiVersion: hostprocess.dev/v1alpha1
kind: AdmissionConfiguration
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: old, namespace: kube-system}
spec:
  schedule: "@daily"
  jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: a}]}}}}
`,
		stdout: "4 objects: 0 admitted, 0 denied, 4 skipped\n",
		stderr: `note: skipped ConfigMap kube-system/settings (x.yaml, document 1): not a pod or workload
note: skipped AdmissionConfiguration (x.yaml, document 2): not a pod or workload; pass a configuration with --config
note: skipped Widget w (x.yaml, document 3): not a pod or workload
note: skipped CronJob kube-system/old (x.yaml, document 4): batch/v1beta1 is not evaluated: the API server no longer serves it
`,
	}, {
		name: "evaluates every item of a List, naming the item",
		input: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ReplicationController
  metadata: {name: no-template, namespace: kube-system}
  spec: {}
- apiVersion: batch/v1
  kind: Job
  metadata: {name: job, namespace: kube-system}
  spec:
    template:
      spec:
        restartPolicy: Never
        hostNetwork: true
        containers:
        - name: a
          image: a
          securityContext: {windowsOptions: {hostProcess: true}}
`,
		stdout: `ADMITTED ReplicationController kube-system/no-template (x.yaml, document 1, item 1)
ADMITTED Job kube-system/job (x.yaml, document 1, item 2)
  warning runAsUserName: container "a": securityContext.windowsOptions.runAsUserName is not set (allowed: ` + defaultAllowed + `)
2 objects: 2 admitted, 0 denied, 0 skipped
`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Decode([]byte("apiVersion: hostprocess.dev/v1alpha1\nkind: AdmissionConfiguration\n" + tc.config))
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			p, err := policy.New(cfg)
			if err != nil {
				t.Fatalf("policy.New: %v", err)
			}
			objs, err := manifest.Read("x.yaml", []byte(tc.input))
			if err != nil {
				t.Fatalf("manifest.Read: %v", err)
			}
			report := Check(p, objs)
			var stdout, stderr bytes.Buffer
			if err := report.WriteText(&stdout); err != nil {
				t.Fatal(err)
			}
			if err := report.WriteNotes(&stderr); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.stdout, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stderr, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	p, err := policy.New(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Read("x.yaml", []byte(
		hostProcessPod("agent", "kube-system", `NT AUTHORITY\SYSTEM`, windowsSelector)+"---\n"+
			hostProcessPod("bad", "kube-system", "<script>")+"---\n"+
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Check(p, objs).WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	want := `{
  "results": [
    {
      "kind": "Pod",
      "namespace": "kube-system",
      "name": "agent",
      "file": "x.yaml",
      "document": 1,
      "line": 1,
      "allowed": true,
      "mode": "enforce",
      "exempt": false,
      "hostProcess": true,
      "violations": [],
      "warnings": [],
      "patch": []
    },
    {
      "kind": "Pod",
      "namespace": "kube-system",
      "name": "bad",
      "file": "x.yaml",
      "document": 2,
      "line": 17,
      "allowed": false,
      "mode": "enforce",
      "exempt": false,
      "hostProcess": true,
      "violations": [
        {
          "rule": "runAsUserName",
          "container": "pod",
          "field": "spec.securityContext.windowsOptions.runAsUserName",
          "message": "pod: spec.securityContext.windowsOptions.runAsUserName \"<script>\" is not allowed (allowed: NT AUTHORITY\\Local service, NT AUTHORITY\\NetworkService, NT AUTHORITY\\SYSTEM)"
        }
      ],
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
  "skipped": [
    {
      "kind": "ConfigMap",
      "name": "c",
      "file": "x.yaml",
      "document": 3,
      "line": 32,
      "reason": "not a pod or workload"
    }
  ],
  "summary": {
    "objects": 3,
    "admitted": 1,
    "denied": 1,
    "skipped": 1
  }
}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

func TestWriteJSONEmpty(t *testing.T) {
	var out bytes.Buffer
	if err := Check(nil, nil).WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	want := `{
  "results": [],
  "skipped": [],
  "summary": {
    "objects": 0,
    "admitted": 0,
    "denied": 0,
    "skipped": 0
  }
}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

func TestApplyPatch(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: map[string]string{}}}
	tests := []struct {
		name    string
		ops     []policy.PatchOp
		want    map[string]string
		wantErr string
	}{{
		name: "applies an add to a missing map",
		ops:  []policy.PatchOp{{Op: "add", Path: "/spec/nodeSelector", Value: map[string]string{"a": "b"}}},
		want: map[string]string{"a": "b"},
	}, {
		name:    "fails, as the API server would, to add to a map that JSON leaves out because it is empty",
		ops:     []policy.PatchOp{{Op: "add", Path: "/spec/nodeSelector/a", Value: "b"}},
		wantErr: `add operation does not apply: doc is missing path: "/spec/nodeSelector/a": missing value`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyPatch(pod, tc.ops)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.(*corev1.Pod).Spec.NodeSelector); diff != "" {
				t.Errorf("nodeSelector (-want +got):\n%s", diff)
			}
			if len(pod.Spec.NodeSelector) != 0 {
				t.Errorf("the original pod was changed: %v", pod.Spec.NodeSelector)
			}
		})
	}
}
