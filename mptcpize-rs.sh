#!/usr/bin/env bash
# mptcpize-rs.sh: run a program with its TCP sockets turned into Multipath TCP sockets.
#
# Puts libmptcpize_rs.so into the program's LD_PRELOAD (appended, absolute, never twice), sets
# MPTCPIZE and GODEBUG=multipathtcp=N to match the mode (so Go programs follow too), then execs the
# program: its exit status and signals are its own. In a source checkout it builds the library on
# first use, so one command works on a fresh clone.
set -eu

VERSION=0.1.0
PROG=${0##*/}
LIB_NAME=libmptcpize_rs.so

usage() {
	cat <<EOF
usage: $PROG [run] [-m MODE] [-d] [--log-file FILE] [--] COMMAND [ARG...]
       $PROG env [-m MODE] [--systemd]
       $PROG -h | --help | --version

Runs COMMAND with its TCP sockets opened as Multipath TCP (MPTCP) sockets, falling back to
plain TCP wherever MPTCP cannot be had.

  run                 run COMMAND under the library (the default verb)
  env                 print the variables that enable the library, as shell export lines,
                      or with --systemd as Environment= lines for a unit

  -m, --mode MODE     on|1 (default): MPTCP, falling back to TCP; off|0;
                      listen|2: MPTCP for listening sockets only; connect|3: MPTCP for
                      outgoing connections only; force: MPTCP or fail, no fallback
  -d, --debug         log every decision to stderr (MPTCPIZE_LOG=debug)
  --log-file FILE     append log lines to FILE instead of stderr (MPTCPIZE_LOG_FILE)
  -h, --help          show this help
  --version           show the version

Environment: MPTCPIZE (the mode), MPTCPIZE_LOG (log filter), MPTCPIZE_LOG_FILE,
MPTCPIZE_LIBRARY (use this library file instead of the one found next to $PROG).

Exit status: COMMAND's own; 127 if COMMAND is not found, 126 if it cannot be run,
2 for a usage error, 1 if the library cannot be found or built.
EOF
}

# A usage error: one line naming the problem, a hint, exit 2.
usage_error() {
	printf '%s: %s\n' "$PROG" "$1" >&2
	printf "Try '%s --help'.\n" "$PROG" >&2
	exit 2
}

fail() {
	printf '%s: %s\n' "$PROG" "$1" >&2
	exit "${2:-1}"
}

# Prints the canonical name of a mode value, or fails with a usage error.
canonical_mode() {
	case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
	1 | on) echo on ;;
	0 | off) echo off ;;
	2 | listen) echo listen ;;
	3 | connect) echo connect ;;
	force) echo force ;;
	*) usage_error "invalid mode '$1' (accepted: on|1, off|0, listen|2, connect|3, force)" ;;
	esac
}

# Go's multipathtcp value for a canonical mode.
godebug_value() {
	case "$1" in
	off) echo 0 ;;
	listen) echo 2 ;;
	connect) echo 3 ;;
	*) echo 1 ;;
	esac
}

# Prints GODEBUG ($1) with every multipathtcp entry replaced by one multipathtcp=$2 at the end.
godebug_with() {
	local entry result=""
	local IFS=,
	for entry in $1; do
		case "$entry" in
		multipathtcp=* | "") ;;
		*) result="$result$entry," ;;
		esac
	done
	printf '%smultipathtcp=%s' "$result" "$2"
}

# Prints LD_PRELOAD ($1) with the library ($2) appended, unless a copy of it is already there.
preload_with() {
	local entry
	for entry in $(printf '%s' "$1" | tr ':' ' '); do
		[ "${entry##*/}" = "$LIB_NAME" ] && {
			printf '%s' "$1"
			return
		}
	done
	if [ -n "$1" ]; then printf '%s:%s' "$1" "$2"; else printf '%s' "$2"; fi
}

# Whether any source file of the checkout in $1 is newer than the built library $2.
sources_newer() {
	[ -n "$(find "$1/src" "$1/Cargo.toml" -newer "$2" -print -quit 2>/dev/null)" ]
}

# Prints the absolute path of the library: MPTCPIZE_LIBRARY, next to this script (installed
# layout), or a source checkout's release build, built here when missing or stale.
find_library() {
	local self here
	if [ -n "${MPTCPIZE_LIBRARY:-}" ]; then
		[ -f "$MPTCPIZE_LIBRARY" ] || fail "MPTCPIZE_LIBRARY=$MPTCPIZE_LIBRARY: no such file"
		readlink -f -- "$MPTCPIZE_LIBRARY"
		return
	fi
	self=$(readlink -f -- "$0")
	here=${self%/*}
	for candidate in "$here/$LIB_NAME" "$here/../lib/mptcpize-rs/$LIB_NAME"; do
		if [ -f "$candidate" ]; then
			readlink -f -- "$candidate"
			return
		fi
	done
	if [ -f "$here/Cargo.toml" ] && grep -q '^name = "mptcpize-rs"' "$here/Cargo.toml"; then
		local built="$here/target/release/$LIB_NAME"
		if [ ! -f "$built" ] || sources_newer "$here" "$built"; then
			command -v cargo >/dev/null 2>&1 ||
				fail "the library is not built and cargo is not installed (https://rustup.rs)"
			printf '%s: building the library (cargo build --release)...\n' "$PROG" >&2
			cargo build --release --lib --quiet --manifest-path "$here/Cargo.toml" >&2 ||
				fail "cargo build failed"
		fi
		printf '%s\n' "$built"
		return
	fi
	fail "cannot find $LIB_NAME next to $self (set MPTCPIZE_LIBRARY)"
}

# Parses the options shared by run and env into MODE, DEBUG, LOG_FILE, SYSTEMD; sets ARGC_USED.
MODE="" DEBUG="" LOG_FILE="" SYSTEMD=""
parse_options() {
	local verb=$1
	shift
	local start=$#
	while [ $# -gt 0 ]; do
		case "$1" in
		-m | --mode)
			[ $# -ge 2 ] || usage_error "option '$1' needs a MODE"
			MODE=$(canonical_mode "$2")
			shift 2
			;;
		--mode=*)
			MODE=$(canonical_mode "${1#--mode=}")
			shift
			;;
		-d | --debug)
			[ "$verb" = run ] || usage_error "option '$1' is for run"
			DEBUG=1
			shift
			;;
		--log-file)
			[ "$verb" = run ] || usage_error "option '$1' is for run"
			if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "option '$1' needs a FILE"; fi
			LOG_FILE=$2
			shift 2
			;;
		--log-file=*)
			[ "$verb" = run ] || usage_error "option '--log-file' is for run"
			LOG_FILE=${1#--log-file=}
			[ -n "$LOG_FILE" ] || usage_error "option '--log-file' needs a FILE"
			shift
			;;
		--systemd)
			[ "$verb" = env ] || usage_error "option '$1' is for env"
			SYSTEMD=1
			shift
			;;
		-h | --help)
			usage
			exit 0
			;;
		--)
			shift
			break
			;;
		-?*) usage_error "unknown option '$1'" ;;
		*) break ;;
		esac
	done
	ARGC_USED=$((start - $#))
}

# Exports LD_PRELOAD, MPTCPIZE and GODEBUG (and the log variables) for the chosen mode.
export_environment() {
	local library=$1 inherited
	export LD_PRELOAD
	LD_PRELOAD=$(preload_with "${LD_PRELOAD:-}" "$library")
	if [ -n "$MODE" ]; then
		export MPTCPIZE=$MODE
		export GODEBUG
		GODEBUG=$(godebug_with "${GODEBUG:-}" "$(godebug_value "$MODE")")
	else
		inherited=$(printf '%s' "${MPTCPIZE:-}" | tr '[:upper:]' '[:lower:]' | tr -d '[:space:]')
		case "$inherited" in
		"" | default)
			# Go's own setting governs both when it is there; otherwise MPTCP on.
			case ",${GODEBUG:-}," in
			*,multipathtcp=*) ;;
			*)
				export GODEBUG
				GODEBUG=$(godebug_with "${GODEBUG:-}" 1)
				;;
			esac
			;;
		0 | off | 1 | on | 2 | listen | 3 | connect | force)
			export GODEBUG
			GODEBUG=$(godebug_with "${GODEBUG:-}" "$(godebug_value "$(canonical_mode "$inherited")")")
			;;
		*) ;; # invalid: the library reports it and stays out of the way
		esac
	fi
	if [ -n "$DEBUG" ]; then export MPTCPIZE_LOG=debug; fi
	if [ -n "$LOG_FILE" ]; then
		case "$LOG_FILE" in
		/*) ;;
		*) LOG_FILE="$PWD/$LOG_FILE" ;;
		esac
		export MPTCPIZE_LOG_FILE="$LOG_FILE"
	fi
}

cmd_run() {
	parse_options run "$@"
	shift "$ARGC_USED"
	[ $# -gt 0 ] || usage_error "no COMMAND given"
	local command=$1 path
	case "$command" in
	*/*) path=$command ;;
	*) path=$(type -P -- "$command" || true) ;;
	esac
	if [ -z "$path" ] || [ ! -e "$path" ]; then fail "$command: command not found" 127; fi
	[ ! -d "$path" ] || fail "$command: is a directory" 126
	[ -x "$path" ] || fail "$command: permission denied" 126
	export_environment "$(find_library)"
	shift
	exec -a "$command" -- "$path" "$@"
}

cmd_env() {
	parse_options env "$@"
	shift "$ARGC_USED"
	[ $# -eq 0 ] || usage_error "env takes no argument '$1'"
	# Start from a clean slate: the lines describe the setting, not this shell's leftovers.
	local LD_PRELOAD="" GODEBUG="" MPTCPIZE=""
	export_environment "$(find_library)"
	local name value
	for name in LD_PRELOAD MPTCPIZE GODEBUG; do
		value=${!name:-}
		[ -n "$value" ] || continue
		if [ -n "$SYSTEMD" ]; then
			printf 'Environment="%s=%s"\n' "$name" "$value"
		else
			printf 'export %s=%q\n' "$name" "$value"
		fi
	done
}

case "${1:-}" in
"") usage_error "no COMMAND given" ;;
--version)
	echo "mptcpize-rs $VERSION"
	exit 0
	;;
run)
	shift
	cmd_run "$@"
	;;
env)
	shift
	cmd_env "$@"
	;;
enable | disable | check)
	fail "'$1' is not available in this version; to run a program named '$1', use: $PROG run $1" 2
	;;
*) cmd_run "$@" ;;
esac
