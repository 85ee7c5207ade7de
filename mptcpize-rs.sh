#!/bin/sh
# mptcpize-rs.sh: run a program with its TCP sockets turned into Multipath TCP sockets.
#
# The entry point of a source checkout: finds the Rust launcher `mptcpize-rs` and execs it (the
# launcher implements every verb: run it with --help). It looks, in order, at MPTCPIZE_LAUNCHER,
# a launcher installed beside this script, and the checkout's release build, which it builds (or
# rebuilds, when a source is newer) on first use, so one command works on a fresh clone. Plain
# POSIX sh, no helper process on the way: the launcher is the only program it starts.
# -nt and -ef are not POSIX, but every sh that ships them (dash, bash, busybox ash) has both.
# shellcheck disable=SC3013
set -eu

self=$0
fail() {
	printf '%s: %s\n' "${self##*/}" "$1" >&2
	exit 1
}

# Runs the launcher at $1 with our arguments; it names itself after this script in messages.
launch() {
	launcher=$1
	shift
	exec "$launcher" --invoked-as "$self" "$@"
}

if [ -n "${MPTCPIZE_LAUNCHER:-}" ]; then
	launch "$MPTCPIZE_LAUNCHER" "$@"
fi
if [ -L "$self" ]; then
	self_path=$(readlink -f -- "$self")
else
	self_path=$self
fi
case $self_path in
*/*) here=${self_path%/*} ;;
*) here=. ;;
esac

# Installed beside this script (and not this script itself under the launcher's name).
if [ -f "$here/mptcpize-rs" ] && [ -x "$here/mptcpize-rs" ] && ! [ "$here/mptcpize-rs" -ef "$self_path" ]; then
	launch "$here/mptcpize-rs" "$@"
fi

[ -f "$here/Cargo.toml" ] || fail "cannot find the launcher mptcpize-rs next to $self_path (set MPTCPIZE_LAUNCHER)"
built=$here/target/release/mptcpize-rs
library=$here/target/release/libmptcpize_rs.so
stale=""
if [ ! -x "$built" ] || [ ! -f "$library" ]; then
	stale=1
else
	for source in "$here"/Cargo.toml "$here"/Cargo.lock "$here"/src/*.rs "$here"/src/*/*.rs "$here"/crates/*/Cargo.toml "$here"/crates/*/src/*.rs "$here"/crates/*/src/*/*.rs; do
		if [ "$source" -nt "$built" ] || [ "$source" -nt "$library" ]; then
			stale=1
			break
		fi
	done
fi
if [ -n "$stale" ]; then
	command -v cargo >/dev/null 2>&1 || fail "the launcher is not built and cargo is not installed (https://rustup.rs)"
	printf '%s: building the launcher and the library (cargo build --release)...\n' "${self##*/}" >&2
	cargo build --release --quiet --manifest-path "$here/Cargo.toml" >&2 || fail "cargo build failed"
	touch -- "$built" "$library" # up to date now, even when cargo had nothing to relink
fi
launch "$built" "$@"
