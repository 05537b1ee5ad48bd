package executor

import "time"

const (
	// APIVersion is the only task version this build understands.
	APIVersion = "executor.hostprocess.dev/v1alpha1"
	// KindTask is the kind of a task document. A file holds one Task per YAML
	// document; several documents are separated by "---".
	KindTask = "Task"

	// DefaultTimeout bounds a run whose task sets no timeout.
	DefaultTimeout = 10 * time.Minute
	// DefaultMaxOutputBytes is how much output a run keeps when the task does
	// not say.
	DefaultMaxOutputBytes = 4096
	// MaxMaxOutputBytes caps maxOutputBytes: the status ConfigMap of a node
	// holds the last output of every task and a ConfigMap holds at most 1 MiB.
	MaxMaxOutputBytes = 64 * 1024
	// MinInterval is the shortest interval trigger allowed.
	MinInterval = time.Second
)

// Trigger says when a task runs.
type Trigger string

const (
	// TriggerOnce runs a task once per content hash: a definition that has run
	// never runs again, also not after a restart when a state file is used.
	// The default.
	TriggerOnce Trigger = "once"
	// TriggerInterval runs a task when it appears, when its definition changes,
	// and then every interval after the previous run ended.
	TriggerInterval Trigger = "interval"
	// TriggerOnChange runs a task when the executor starts and whenever its
	// definition changes. Unlike once, it runs again after a restart.
	TriggerOnChange Trigger = "onChange"
)

// Shell interprets a task's script.
type Shell string

const (
	// ShellPowerShell runs the script as a .ps1 file with powershell.exe
	// (pwsh on Linux).
	ShellPowerShell Shell = "powershell"
	// ShellCmd runs the script as a .cmd file with cmd.exe /d /c. Windows only.
	ShellCmd Shell = "cmd"
)

// Task is one document of a task file:
//
//	apiVersion: executor.hostprocess.dev/v1alpha1
//	kind: Task
//	name: flush-dns
//	command: ["ipconfig.exe", "/flushdns"]   # or script + shell
//	trigger: interval                        # once (default) | interval | onChange
//	interval: 1h
//	timeout: 1m
//	limits: {memory: 256Mi, processMemory: 128Mi, cpuRate: 20, maxProcesses: 4}
//	maxOutputBytes: 4096
//
// Durations use Go syntax ("90s", "1h30m") and memory sizes Kubernetes
// quantities ("256Mi").
type Task struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// Name identifies the task on the node: a DNS label (lower case letters,
	// digits and '-', at most 63 characters), unique across the directory.
	Name string `json:"name"`
	// Command is the argv to run. Exactly one of command and script is set.
	Command []string `json:"command,omitempty"`
	// Script is run by Shell.
	Script string `json:"script,omitempty"`
	// Shell is powershell or cmd; required with script.
	Shell Shell `json:"shell,omitempty"`
	// Env is added to the executor's own environment.
	Env []EnvVar `json:"env,omitempty"`
	// WorkingDir is the directory the command starts in. Default: the
	// executor's working directory.
	WorkingDir string `json:"workingDir,omitempty"`
	// Trigger is once, interval or onChange. Default once.
	Trigger Trigger `json:"trigger,omitempty"`
	// Interval is required with trigger interval and forbidden otherwise.
	Interval string `json:"interval,omitempty"`
	// Timeout ends a run, with its whole process tree. Default 10m.
	Timeout string `json:"timeout,omitempty"`
	// Limits bound the process tree of a run.
	Limits Limits `json:"limits,omitempty"`
	// MaxOutputBytes is how much of the combined stdout and stderr a run keeps
	// (the last bytes). 0 keeps none. Default 4096, at most 65536.
	MaxOutputBytes *int64 `json:"maxOutputBytes,omitempty"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Limits bound the process tree of one run. A limit the backend cannot apply
// is reported with the run, never silently dropped.
type Limits struct {
	// Memory is the committed memory of the whole tree (a quantity).
	Memory string `json:"memory,omitempty"`
	// ProcessMemory is the committed memory of each process (a quantity).
	ProcessMemory string `json:"processMemory,omitempty"`
	// CPURate is the share of the whole node's CPU the tree may use, in
	// percent, 1 to 100.
	CPURate int32 `json:"cpuRate,omitempty"`
	// MaxProcesses is how many processes of the tree may be alive at once.
	MaxProcesses int32 `json:"maxProcesses,omitempty"`
}

// TaskSpec is a validated task with its values parsed and defaulted: what the
// scheduler and the backends work with.
type TaskSpec struct {
	Name       string
	Command    []string
	Script     string
	Shell      Shell
	Env        []EnvVar
	WorkingDir string
	Trigger    Trigger
	Interval   time.Duration
	Timeout    time.Duration
	Limits     ResourceLimits
	// MaxOutputBytes is at least 0.
	MaxOutputBytes int64
	// Hash identifies the definition: the SHA-256 of the defaulted task, hex.
	// Formatting and comments do not change it; hashSpec leaves it out, as
	// it leaves out Source.
	Hash string `json:"-"`
	// Source is the file the task came from; empty for built-in tasks.
	Source string `json:"-"`
	// builtin, when set, runs in the executor instead of a process.
	builtin builtinFunc
}

// ResourceLimits are parsed Limits; zero means unset.
type ResourceLimits struct {
	MemoryBytes        int64
	ProcessMemoryBytes int64
	CPURatePercent     int32
	MaxProcesses       int32
}

// IsZero reports whether no limit is set.
func (l ResourceLimits) IsZero() bool { return l == ResourceLimits{} }
