# shellcheck shell=bash
# Sourced first by every test script, inside the private network namespace the harness made
# (tests/common/mod.rs). Gives the helpers below and cleans up after the script, also on failure:
# background programs are killed, the scratch directory removed. The namespace itself disappears
# with its last process.
set -euo pipefail

WORK=$(mktemp -d)
# Every process this script started, children before parents' parents, deepest first.
descendants() {
	local child
	for child in $(pgrep -P "$1"); do
		descendants "$child"
		echo "$child"
	done
}
cleanup() {
	local pids
	# A background program may have been started through a wrapper or timeout: kill the whole
	# tree, so nothing outlives the test holding its output open.
	pids=$(descendants $$)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086 # one pid per word
		kill $pids 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

ip link set lo up
if ! nstat -asz MPTcpExtMPCapableSYNRX | grep -q MPTcpExtMPCapableSYNRX; then
	echo "this kernel reports no MPTCP counters: the tests need an MPTCP kernel" >&2
	exit 1
fi

# Reports a fact for the Rust side to assert: fact NAME VALUE.
fact() { printf 'FACT %s=%s\n' "$1" "$2"; }

# The absolute value of one counter of this namespace.
counter() { nstat -asz "$1" | awk -v name="$1" '$1 == name { print $2 }'; }

# Reports the MP_CAPABLE handshake counters: SYN received (server side), SYN/ACK received
# (client side).
mptcp_facts() {
	fact syn_rx "$(counter MPTcpExtMPCapableSYNRX)"
	fact synack_rx "$(counter MPTcpExtMPCapableSYNACKRX)"
}

# Waits (at most 10 s) until something listens on TCP port $1.
wait_listen() {
	local _
	for _ in $(seq 200); do
		if ss -Hltn "( sport = :$1 )" | grep -q .; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# The number of MPTCP listening sockets on port $1, as ss -M sees them.
mptcp_listeners() { ss -HMln "( sport = :$1 )" | grep -c . || true; }

# Writes $2 random bytes to file $1.
payload() { head -c "$2" /dev/urandom >"$1"; }

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Runs the wrapper, pointed at the library cargo test built (so it never builds one itself).
W() { MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" "$@"; }

# Runs a command with the library preloaded.
preload() { env LD_PRELOAD="$LIB" "$@"; }

# The test helpers built from examples/ (sockprobe.rs, refuse_mptcp.rs).
# (used by the scripts that source this file)
export SOCKPROBE="$EXAMPLES/sockprobe" REFUSE_MPTCP="$EXAMPLES/refuse_mptcp"
