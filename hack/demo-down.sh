#!/usr/bin/env bash
# make demo-down: stops what make demo (hack/demo.sh) left running: the demo process (which
# stops the webhook and the control plane), then anything else inside its network namespace;
# deletes the namespace and the demo's state directory.
#
# Environment: DEMO_DIR and DEMO_NETNS, as for hack/demo.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=e2e/scripts/netns.sh
source "$ROOT/e2e/scripts/netns.sh"

STATE=${DEMO_DIR:-/tmp/hostprocess-admission-demo}
NETNS=${DEMO_NETNS:-hpa-demo}
[[ -f $STATE/netns ]] && NETNS=$(<"$STATE/netns")

netns_require_root demo-down
stopped=0
if [[ -f $STATE/pid ]]; then
	pid=$(<"$STATE/pid")
	# Only the demo's own process, not whatever may have reused its ID since.
	if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$ROOT/bin/demo"; then
		echo "demo-down: stopping the demo (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		netns_wait_pid "$pid" 60 || echo "demo-down: pid $pid still running after 60s; killing what is left" >&2
		stopped=1
	fi
fi
if netns_exists "$NETNS"; then
	if [[ -n $(ip netns pids "$NETNS") ]]; then
		echo "demo-down: stopping the processes left in network namespace $NETNS"
	fi
	netns_delete "$NETNS"
	echo "demo-down: deleted network namespace $NETNS"
	stopped=1
fi
rm -rf "$STATE"
if ((stopped)); then
	echo "demo-down: done"
else
	echo "demo-down: no demo was running"
fi
