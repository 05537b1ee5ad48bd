# shellcheck shell=bash
# Shell helpers for the network namespace of the e2e suite and the demo (hack/e2e.sh,
# hack/demo.sh, hack/demo-down.sh). Source it; every function acts on one named namespace
# and on the processes inside it only.

netns_require_root() { # WHAT
	if [[ $(id -u) -ne 0 ]]; then
		echo "$1: needs root for ip netns (network namespaces); run it as root" >&2
		exit 1
	fi
	if ! command -v ip >/dev/null; then
		echo "$1: installing iproute2 (ip netns) from Debian's packages"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
	fi
}

netns_exists() { # NAME
	[[ -e /run/netns/$1 ]]
}

# netns_create NAME ADDRESS: a namespace whose lo is up with ADDRESS/32 on it, and no other
# interface or route.
netns_create() {
	ip netns add "$1"
	ip netns exec "$1" ip link set lo up
	ip netns exec "$1" ip addr add "$2/32" dev lo
}

# netns_ps NAME: the processes inside the namespace.
netns_ps() {
	local pids
	pids=$(ip netns pids "$1" | paste -sd, -)
	[[ -z $pids ]] || ps -o pid=,args= -p "$pids" || true
}

# netns_wait_pid PID SECONDS: wait up to SECONDS for PID to exit.
netns_wait_pid() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# netns_kill NAME: SIGTERM to every process inside the namespace, SIGKILL to those left after
# 15 seconds.
netns_kill() {
	local pids pid i
	pids=$(ip netns pids "$1")
	[[ -n $pids ]] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		[[ -n $(ip netns pids "$1") ]] || return 0
		sleep 0.1
	done
	for pid in $(ip netns pids "$1"); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 50; i++)); do
		[[ -n $(ip netns pids "$1") ]] || return 0
		sleep 0.1
	done
}

# netns_delete NAME: stop what runs inside, then delete the namespace.
netns_delete() {
	netns_kill "$1"
	ip netns del "$1"
}
