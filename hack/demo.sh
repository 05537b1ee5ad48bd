#!/usr/bin/env bash
# make demo: builds what is missing, brings up the e2e suite's control plane (etcd and
# kube-apiserver from bin/) inside a network namespace of its own, with kube-controller-manager,
# kube-scheduler and kwok simulating two Windows nodes (tainted os=windows:NoSchedule) and one
# Linux node, installs the Helm chart the same way the suite does (its webhook runs from
# bin/hostprocess-admission with the chart's Deployment args and ServiceAccount; the Windows
# toleration as its default, for pods and, with defaults.workloadTemplates, for the templates of
# new HostProcess workloads), applies every example and prints each kubectl command with its
# outcome and a summary, then where each HostProcess pod runs and the line
# "Scheduling: N HostProcess pods running on Windows nodes, 0 on Linux nodes".
#
# The cluster then keeps running, with a printed KUBECONFIG and kubectl/helm wrappers, until
# make demo-down (hack/demo-down.sh). DEMO_EXIT=1 tears everything down at the end instead.
#
# Needs root (ip netns). Environment: DEMO_DIR (state: kubeconfig, wrappers, logs; default
# /tmp/hostprocess-admission-demo), DEMO_NETNS (default hpa-demo), DEMO_ADDRESS (default
# 10.123.0.1), DEMO_EXIT, GO (default go).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=e2e/scripts/netns.sh
source "$ROOT/e2e/scripts/netns.sh"

STATE=${DEMO_DIR:-/tmp/hostprocess-admission-demo}
NETNS=${DEMO_NETNS:-hpa-demo}
ADDRESS=${DEMO_ADDRESS:-10.123.0.1}
GO=${GO:-go}
READY="demo: ready" # e2e/cmd/demo's ReadyLine

netns_require_root demo
if netns_exists "$NETNS" || [[ -e $STATE/pid ]]; then
	echo "demo: already running (network namespace $NETNS, state in $STATE); make demo-down first" >&2
	exit 1
fi

# with_progress LABEL CMD...: runs CMD, saying every 30 seconds that it is still at it.
with_progress() {
	local label=$1 pid t=0
	shift
	echo "==> $label"
	"$@" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		t=$((t + 1))
		if ((t % 30 == 0)); then
			echo "    ... $label: still running after $((t / 60))m$((t % 60))s"
		fi
	done
	wait "$pid"
}

with_progress "building bin/hostprocess-admission (make build)" make --no-print-directory build
with_progress "building the control plane into bin/ (make tools; the first build takes several minutes)" make --no-print-directory tools
# With make build's compiler settings (no cgo, -trimpath), so that the packages they share are
# compiled once.
with_progress "building bin/demo" env CGO_ENABLED=0 "$GO" build -trimpath -o bin/demo ./e2e/cmd/demo

down() {
	trap - EXIT INT TERM
	"$ROOT/hack/demo-down.sh" >/dev/null || true
}

mkdir -p "$STATE/tmp"
echo "$NETNS" >"$STATE/netns"
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "==> network namespace $NETNS, address $ADDRESS/32 on its lo"
netns_create "$NETNS" "$ADDRESS"

run_demo=(ip netns exec "$NETNS" env HOSTPROCESS_E2E_NETNS="$NETNS" HOSTPROCESS_E2E_ADDRESS="$ADDRESS"
	TMPDIR="$STATE/tmp" "$ROOT/bin/demo" -state "$STATE")

if [[ ${DEMO_EXIT:-} == 1 ]]; then
	"${run_demo[@]}" -exit
	echo "==> DEMO_EXIT=1: torn down"
	exit 0
fi

# Detached (own session), so that it outlives this script; its output goes to demo.log, which
# is shown here until it is ready.
setsid "${run_demo[@]}" >"$STATE/demo.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$STATE/pid"
tail -n +1 -f "$STATE/demo.log" --pid="$pid" &
tail_pid=$!
while kill -0 "$pid" 2>/dev/null && ! grep -qx "$READY" "$STATE/demo.log"; do
	sleep 0.5
done
sleep 0.5
kill "$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
if ! grep -qx "$READY" "$STATE/demo.log"; then
	echo "demo: failed; its log is above" >&2
	exit 1
fi
trap - EXIT INT TERM
