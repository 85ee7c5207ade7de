#!/usr/bin/env bash
# scripts/test.sh: the project's whole check, as CI runs it: formatting, lints, shellcheck and
# every test (unit tests, then real programs under the library in private network namespaces).
# Needs root (network namespaces, per-namespace sysctl) and a kernel with MPTCP; installs the
# Debian packages it needs when they are missing.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "test.sh: the tests need root (network namespaces, sysctl): sudo $0" >&2
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
step cargo test
cargo test
