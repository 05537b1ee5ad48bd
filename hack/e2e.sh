#!/usr/bin/env bash
# Runs the e2e suite (e2e/, Ginkgo) inside a network namespace of its own.
#
# Usage: hack/e2e.sh [test binary flags, e.g. -ginkgo.focus=uninstall]
#
# 1. Builds everything first, while the network is still there: bin/hostprocess-admission
#    (make build), the control plane and helm (make tools) and the test binary bin/e2e.test.
# 2. Creates the network namespace (ip netns add), brings its lo up and gives it one extra
#    private /32 address. The namespace has no route out: etcd, kube-apiserver, the webhook,
#    kubectl and helm talk only to each other.
# 3. Runs bin/e2e.test inside it (ip netns exec). The suite stops everything it started.
# 4. Always, also on failure or interrupt: stops whatever still runs in the namespace (by the
#    process IDs `ip netns pids` lists), deletes the namespace and the run's temporary files.
#
# Needs root (ip netns). Environment: HOSTPROCESS_E2E_NETNS (default hpa-e2e-PID),
# HOSTPROCESS_E2E_ADDRESS (default 10.123.0.1), E2E_TIMEOUT (default 20m), GO (default go).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=e2e/scripts/netns.sh
source "$ROOT/e2e/scripts/netns.sh"

NETNS=${HOSTPROCESS_E2E_NETNS:-hpa-e2e-$$}
ADDRESS=${HOSTPROCESS_E2E_ADDRESS:-10.123.0.1}
TIMEOUT=${E2E_TIMEOUT:-20m}
GO=${GO:-go}

netns_require_root e2e

echo "== e2e: building (before entering the network namespace, which has no route out)"
make build tools
"$GO" test -c -o bin/e2e.test ./e2e

RUN=$(mktemp -d "${TMPDIR:-/tmp}/hostprocess-e2e-run.XXXXXX")
suite_pid=
leftover=0
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $suite_pid ]] && kill -0 "$suite_pid" 2>/dev/null; then
		# Interrupted: let Ginkgo run its cleanup (it stops the webhook and the control plane).
		echo "== e2e: interrupting the suite (pid $suite_pid)"
		kill -INT "$suite_pid" 2>/dev/null || true
		netns_wait_pid "$suite_pid" 60
	fi
	if netns_exists "$NETNS"; then
		if [[ -n $(ip netns pids "$NETNS") ]]; then
			echo "== e2e: processes left in $NETNS:" >&2
			netns_ps "$NETNS" >&2
			leftover=1
		fi
		netns_delete "$NETNS"
	fi
	rm -rf "$RUN"
	if ((rc == 0 && leftover)); then
		echo "== e2e: FAIL: the suite left processes behind" >&2
		rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== e2e: network namespace $NETNS, address $ADDRESS/32 on its lo"
netns_create "$NETNS" "$ADDRESS"

echo "== e2e: running the suite (timeout $TIMEOUT)"
color=()
[[ -t 1 ]] || color=(-ginkgo.no-color)
set +e
(
	cd "$ROOT/e2e"
	exec ip netns exec "$NETNS" env \
		HOSTPROCESS_E2E_NETNS="$NETNS" HOSTPROCESS_E2E_ADDRESS="$ADDRESS" TMPDIR="$RUN" \
		"$ROOT/bin/e2e.test" -test.v -test.timeout="$TIMEOUT" -ginkgo.v -ginkgo.timeout="$TIMEOUT" "${color[@]}" "$@"
) &
suite_pid=$!
wait "$suite_pid"
rc=$?
suite_pid=
set -e
exit "$rc"
