#!/usr/bin/env bash
# scripts/test.sh: the project's whole check, as CI runs it: formatting, lints, shellcheck and
# every test (unit tests, then real programs under the library in private network namespaces).
# Needs root (network namespaces, per-namespace sysctl) and a kernel with MPTCP; installs the
# Debian packages it needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "test.sh: the tests need root (network namespaces, sysctl): run it as root" >&2
	exit 1
fi
if [ ! -e /proc/sys/net/mptcp/enabled ]; then
	echo "test.sh: this kernel has no MPTCP (no /proc/sys/net/mptcp): the tests need one" >&2
	exit 1
fi
scripts/test-deps.sh

step() { printf '== %s\n' "$*" >&2; }
step cargo fmt --check
cargo fmt --check
step cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --quiet -- -D warnings
step shellcheck
shellcheck mptcpize-rs.sh scripts/*.sh tests/support.sh .ci/run
step scripts/bench.sh --quick
# The smoke run must print every figure, and both MPTCP failover transfers must complete with
# the data intact. This kernel sometimes delivers about 7 KB wrong from byte 57,345 on when
# data is in flight while a second subflow joins (Debian's libmptcpwrap too, session 23's
# notes); bench.sh now sends only once the join is done, which made 6 of 6 quick runs pass
# where about one in three failed. Up to three runs all the same, each failure said on stderr.
bench_ok() {
	local rows
	rows=$(printf '%s\n' "$1" | grep -cE '^\| .* \| [0-9]+\.[0-9]{3} \|' || true)
	[ "$rows" = 11 ] && printf '%s\n' "$1" | grep -qE '^\| instructions .* \| [0-9]+ \| [0-9]+ \| [0-9]+ \|' &&
		printf '%s\n' "$1" | grep -qE '^\| MP_JOIN [^|]*\| [1-9][0-9]* \|' &&
		[ "$(printf '%s\n' "$1" | grep -cE '^\| MPTCP \(library\).* \| yes \| yes \|')" = 2 ] &&
		[ "$(printf '%s\n' "$1" | grep -cE '^\| [^|]*/bin/true [^|]*\| [+-][0-9]+\.[0-9]{2} ms \| [0-9]+\.[0-9]{2} ms \|')" = 3 ]
}
for attempt in 1 2 3; do
	bench=$(scripts/bench.sh --quick 2>/dev/null)
	bench_ok "$bench" && break
	if [ "$attempt" = 3 ]; then
		echo "test.sh: bench.sh --quick did not print its figures:" >&2
		printf '%s\n' "$bench" >&2
		exit 1
	fi
	echo "test.sh: bench.sh --quick run $attempt failed its checks; running it again:" >&2
	printf '%s\n' "$bench" | grep -E '^\| MPTCP \(library\)|^\| MP_JOIN' >&2
done
step cargo build --release
# The library as shipped: no_std, linked so that a reachable panic fails this build (build.rs),
# with its log companion next to it. The tests below run it (MPTCPIZE_TEST_LIBRARY).
cargo build --release --workspace --quiet
step cargo deb
cargo deb --quiet >/dev/null # target/debian/*.deb, which tests/deploy.rs unpacks and runs
step cargo test
log=$(mktemp)
trap 'rm -f "$log"' EXIT
MPTCPIZE_TEST_LIBRARY=$PWD/target/release/libmptcpize_rs.so cargo test 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
