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
DROPIN_NAME=50-mptcpize-rs.conf

usage() {
	cat <<EOF
usage: $PROG [run] [-m MODE] [-d] [--log-file FILE] [--] COMMAND [ARG...]
       $PROG env [-m MODE] [--systemd]
       $PROG enable UNIT [-m MODE] [--root DIR]
       $PROG disable UNIT [--root DIR]
       $PROG check
       $PROG -h | --help | --version

Runs COMMAND with its TCP sockets opened as Multipath TCP (MPTCP) sockets, falling back to
plain TCP wherever MPTCP cannot be had.

  run                 run COMMAND under the library (the default verb)
  env                 print the variables that enable the library, as shell export lines,
                      or with --systemd as Environment= lines for a unit
  enable UNIT         add a systemd drop-in that runs UNIT under the library
                      (/etc/systemd/system/UNIT.d/$DROPIN_NAME); restart UNIT to apply;
                      for NAME.socket (systemd >= 257): SocketProtocol=mptcp in that drop-in
  disable UNIT        remove that drop-in, and nothing else
  check               is MPTCP usable here, and will it use more than one path?
                      (exit 0 when MPTCP sockets can be made, 1 otherwise)

  -m, --mode MODE     on|1 (default): MPTCP, falling back to TCP; off|0;
                      listen|2: MPTCP for listening sockets only; connect|3: MPTCP for
                      outgoing connections only; force: MPTCP or fail, no fallback
  -d, --debug         log every decision to stderr (MPTCPIZE_LOG=debug)
  --log-file FILE     append log lines to FILE instead of stderr (MPTCPIZE_LOG_FILE)
  --root DIR          (enable, disable) act on the systemd tree under DIR, as systemctl --root
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
			touch -- "$built" # up to date now, even when cargo had nothing to relink
		fi
		printf '%s\n' "$built"
		return
	fi
	fail "cannot find $LIB_NAME next to $self (set MPTCPIZE_LIBRARY)"
}

# Parses the options shared by run and env into MODE, DEBUG, LOG_FILE, SYSTEMD; sets ARGC_USED.
MODE="" DEBUG="" LOG_FILE="" SYSTEMD="" ROOT="" UNIT=""
parse_options() {
	local verb=$1
	shift
	local start=$#
	while [ $# -gt 0 ]; do
		case "$1" in
		-m | --mode)
			[ "$verb" != disable ] || usage_error "option '$1' is for run, env and enable"
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
		--root)
			case "$verb" in enable | disable) ;; *) usage_error "option '$1' is for enable and disable" ;; esac
			if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "option '$1' needs a DIR"; fi
			[ -d "$2" ] || fail "--root $2: no such directory"
			ROOT=$(cd "$2" && pwd -P)
			shift 2
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

# Exports LD_PRELOAD (unless $1 is empty), MPTCPIZE and GODEBUG (and the log variables) for the
# chosen mode.
export_environment() {
	local library=$1 inherited
	if [ -n "$library" ]; then
		LD_PRELOAD=$(preload_with "${LD_PRELOAD:-}" "$library")
		export LD_PRELOAD
	fi
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
	local library
	library=$(find_library)
	if reach_warnings "$path"; then
		export_environment "$library"
	else
		export_environment "" # musl: our glibc library cannot load there; run it untouched
	fi
	shift
	exec -a "$command" -- "$path" "$@"
}

warn() { printf '%s: warning: %s\n' "$PROG" "$1" >&2; }

# One stderr line for each reason the library cannot reach the program at $1. Returns 1 when the
# library must not be preloaded at all (a musl program would fail to load our glibc library).
reach_warnings() {
	local path=$1 interpreter
	if [ -u "$path" ] || [ -g "$path" ]; then
		warn "$path is setuid/setgid: the loader ignores LD_PRELOAD for it (unless the library is in /etc/ld.so.preload)"
	fi
	command -v readelf >/dev/null 2>&1 || return 0
	[ "$(head -c 4 "$path" 2>/dev/null | tail -c 3)" = ELF ] || return 0 # a script: its interpreter is reached
	if readelf -SW "$path" 2>/dev/null | grep -q '[.]go[.]buildinfo'; then
		warn "$path is a Go program: Go makes its own sockets and follows GODEBUG=$(godebug_with "" "$(godebug_value "${MODE:-on}")"), not the library (Go >= 1.21; listen/connect need Go >= 1.24)"
		return 0
	fi
	interpreter=$(readelf -lW "$path" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
	case "$interpreter" in
	"") warn "$path is statically linked: the library cannot reach it (use a dynamically linked build)" ;;
	*ld-musl*)
		warn "$path is a musl program: the library is built for glibc and cannot load there; running it without MPTCP"
		return 1
		;;
	esac
	return 0
}

# Checks a unit name against systemd's rules and prints it with .service appended when it has no
# suffix. Only services take an Environment= drop-in that matters here; sockets get their own
# drop-in (enable_socket_unit).
unit_name() {
	local unit=$1
	case "$unit" in
	"" | *[!A-Za-z0-9:_.@\\-]* | .* | -*)
		fail "invalid unit name '$unit' (letters, digits and :_.@\\- only; no paths, spaces or shell characters)" 2
		;;
	esac
	[ ${#unit} -le 255 ] || fail "invalid unit name: longer than 255 characters" 2
	case "$unit" in
	*.service | *.socket) ;;
	*.device | *.mount | *.automount | *.swap | *.target | *.path | *.timer | *.slice | *.scope)
		fail "$unit is not a service: only services run programs the library can reach" 2
		;;
	*) unit="$unit.service" ;;
	esac
	printf '%s\n' "$unit"
}

# The value of variable $2 set by Environment= lines of unit $1's files (vendor unit, other
# drop-ins), last one wins; empty when none sets it. Best effort: EnvironmentFile= is not read.
unit_variable() {
	local unit=$1 name=$2 dir file
	for dir in "$ROOT/usr/lib/systemd/system" "$ROOT/lib/systemd/system" "$ROOT/run/systemd/system" "$ROOT/etc/systemd/system"; do
		for file in "$dir/$unit" "$dir/$unit.d"/*.conf; do
			if [ ! -f "$file" ] || [ "${file##*/}" = "$DROPIN_NAME" ]; then continue; fi
			# Each assignment is one word, quotes removed the way systemd does (xargs), so a
			# quoted value keeps its spaces: "LD_PRELOAD=/x.so /y.so" is both objects.
			sed -n 's/^[[:space:]]*Environment=//p' "$file" 2>/dev/null |
				xargs -r -n 1 printf '%s\n' 2>/dev/null | sed -n "s/^$name=//p" || true
		done
	done | tail -n 1
}

# Parses enable/disable's arguments (options before or after the unit) into UNIT.
parse_unit_arguments() {
	local verb=$1
	shift
	parse_options "$verb" "$@"
	shift "$ARGC_USED"
	[ $# -gt 0 ] || usage_error "$verb needs a UNIT"
	UNIT=$(unit_name "$1")
	shift
	parse_options "$verb" "$@"
	shift "$ARGC_USED"
	[ $# -eq 0 ] || usage_error "$verb takes one UNIT, not also '$1'"
}

# Prints the drop-in's LD_PRELOAD, MPTCPIZE and GODEBUG values, one per line, merged with the
# unit's own LD_PRELOAD ($1) and GODEBUG ($2). Run in a subshell: nothing leaks into ours.
dropin_values() (
	LD_PRELOAD=$1 GODEBUG=$2 MPTCPIZE=""
	export_environment "$3"
	printf '%s\n' "$LD_PRELOAD" "$MPTCPIZE" "$GODEBUG"
)

cmd_enable() {
	parse_unit_arguments enable "$@"
	case "$UNIT" in *.socket)
		enable_socket_unit "$UNIT"
		return
		;;
	esac
	local unit=$UNIT library existing_preload existing_godebug preload mode godebug
	library=$(find_library)
	existing_preload=$(unit_variable "$unit" LD_PRELOAD)
	existing_godebug=$(unit_variable "$unit" GODEBUG)
	MODE=${MODE:-on}
	{
		read -r preload
		read -r mode
		read -r godebug
	} < <(dropin_values "$existing_preload" "$existing_godebug" "$library")
	[ -z "$existing_preload" ] || warn "$unit already sets LD_PRELOAD=$existing_preload; the drop-in sets LD_PRELOAD=$preload"
	[ -z "$existing_godebug" ] || warn "$unit already sets GODEBUG=$existing_godebug; the drop-in sets GODEBUG=$godebug"
	local dir="$ROOT/etc/systemd/system/$unit.d" temporary
	mkdir -p -- "$dir"
	temporary=$(mktemp "$dir/.$DROPIN_NAME.XXXXXX")
	trap 'rm -f -- "$temporary"' EXIT
	{
		echo "# Written by mptcpize-rs enable: runs $unit with Multipath TCP."
		echo "# Remove it with: mptcpize-rs disable $unit"
		echo "[Service]"
		printf 'Environment="LD_PRELOAD=%s" "MPTCPIZE=%s" "GODEBUG=%s"\n' "$preload" "$mode" "$godebug"
	} >"$temporary"
	chmod 0644 -- "$temporary"
	mv -f -- "$temporary" "$dir/$DROPIN_NAME"
	trap - EXIT
	echo "wrote $dir/$DROPIN_NAME (mode $mode)"
	reload_systemd
	echo "restart the unit to apply it: systemctl restart $unit"
}

# --- Socket units: systemd >= 257 makes the listening socket MPTCP itself --------------------
# A socket-activated service inherits its listening socket, which the library never touches; a
# [Socket] drop-in with SocketProtocol=mptcp has systemd create it as MPTCP instead. systemd has
# no fallback: where MPTCP cannot be had (net.mptcp.enabled=0) the socket unit fails to start.

SOCKET_PROTOCOL_SINCE=257 # the systemd release that added SocketProtocol=mptcp

# The major version of this host's systemd (systemctl --version), empty when unknown.
systemd_version() {
	command -v systemctl >/dev/null 2>&1 || return 0
	systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9][0-9]*\).*/\1/p'
}

# How to apply a changed drop-in of unit $1.
restart_hint() {
	case "$1" in
	*.socket) echo "restart the socket to apply it (a running service keeps the old socket): systemctl stop ${1%.socket}.service && systemctl restart $1" ;;
	*) echo "restart the unit to apply it: systemctl restart $1" ;;
	esac
}

# enable NAME.socket: writes the [Socket] drop-in, or refuses before systemd 257.
enable_socket_unit() {
	local unit=$1 version dir temporary
	case "${MODE:-on}" in
	on | listen | force) ;; # a socket unit's sockets are listeners, and systemd never falls back
	*) usage_error "$unit: a socket unit only listens: -m on or listen (or: $PROG disable $unit)" ;;
	esac
	version=$(systemd_version)
	if [ -z "$version" ] || [ "$version" -lt "$SOCKET_PROTOCOL_SINCE" ]; then
		fail "$unit: SocketProtocol=mptcp needs systemd $SOCKET_PROTOCOL_SINCE or newer, this is systemd ${version:-of unknown version}; instead, let ${unit%.socket}.service open its own listener (no socket activation) and run: $PROG enable ${unit%.socket}.service"
	fi
	dir="$ROOT/etc/systemd/system/$unit.d"
	mkdir -p -- "$dir"
	temporary=$(mktemp "$dir/.$DROPIN_NAME.XXXXXX")
	trap 'rm -f -- "$temporary"' EXIT
	{
		echo "# Written by mptcpize-rs enable: $unit listens with Multipath TCP."
		echo "# Remove it with: mptcpize-rs disable $unit"
		echo "[Socket]"
		echo "SocketProtocol=mptcp"
	} >"$temporary"
	chmod 0644 -- "$temporary"
	mv -f -- "$temporary" "$dir/$DROPIN_NAME"
	trap - EXIT
	echo "wrote $dir/$DROPIN_NAME (SocketProtocol=mptcp)"
	reload_systemd
	restart_hint "$unit"
}

cmd_disable() {
	parse_unit_arguments disable "$@"
	local unit=$UNIT
	local dir="$ROOT/etc/systemd/system/$unit.d"
	if [ ! -f "$dir/$DROPIN_NAME" ]; then
		echo "$unit: no mptcpize-rs drop-in ($dir/$DROPIN_NAME): nothing to do"
		return 0
	fi
	rm -f -- "$dir/$DROPIN_NAME"
	rmdir -- "$dir" 2>/dev/null || true # only when nothing else is in it
	echo "removed $dir/$DROPIN_NAME"
	reload_systemd
	restart_hint "$unit"
}

# What an errno of socket(..., IPPROTO_MPTCP) means here.
errno_meaning() {
	case "$1" in
	ENOPROTOOPT) echo "MPTCP is switched off in this network namespace: sysctl -w net.mptcp.enabled=1" ;;
	EPROTONOSUPPORT) echo "this kernel was built without MPTCP (CONFIG_MPTCP)" ;;
	EINVAL) echo "this kernel is older than 5.6 and has no MPTCP" ;;
	EPERM | EACCES) echo "a security policy (SELinux, AppArmor, seccomp or BPF) refuses MPTCP sockets" ;;
	*) echo "socket(IPPROTO_MPTCP) failed with $1" ;;
	esac
}

cmd_check() {
	[ $# -eq 0 ] || usage_error "check takes no argument"
	local library result errno
	echo "kernel: $(uname -r)"
	library=$(find_library)
	# Make one MPTCP socket the way programs will: bash's /dev/tcp under the library in force
	# mode; our debug line names the errno. The connection attempt goes to loopback port 9.
	result=$(MPTCPIZE=force MPTCPIZE_LOG=debug LD_PRELOAD=$library \
		timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>&1 | sed -n 's/.*-> MPTCP (force): //p' | head -n 1)
	case "$result" in
	fd*) echo "MPTCP socket: yes" ;;
	*"failed ("*)
		errno=${result#*failed (}
		errno=${errno%%)*}
		echo "MPTCP socket: no ($errno)"
		echo "verdict: MPTCP unavailable: $(errno_meaning "$errno")"
		return 1
		;;
	*)
		echo "MPTCP socket: could not be tested (no answer from the library)"
		echo "verdict: MPTCP unavailable: the test socket could not be made"
		return 1
		;;
	esac
	echo "net.mptcp.enabled: $(sysctl -n net.mptcp.enabled 2>/dev/null || echo '?')"
	local manager scheduler limits endpoints subflows
	manager=$(sysctl -n net.mptcp.path_manager 2>/dev/null ||
		{ [ "$(sysctl -n net.mptcp.pm_type 2>/dev/null)" = 1 ] && echo userspace || echo kernel; })
	scheduler=$(sysctl -n net.mptcp.scheduler 2>/dev/null || echo default)
	limits=$(ip mptcp limits show 2>/dev/null || true)
	endpoints=$(ip mptcp endpoint show 2>/dev/null || true)
	echo "path manager: $manager"
	echo "scheduler: $scheduler"
	echo "limits: ${limits:-?}"
	echo "endpoints: ${endpoints:-none}"
	if [ "$manager" = userspace ]; then
		echo "verdict: ready; a userspace path manager (such as mptcpd) chooses the extra paths"
		return 0
	fi
	subflows=$(printf '%s\n' "$limits" | sed -n 's/.*subflows \([0-9]*\).*/\1/p')
	if [ "${subflows:-0}" -gt 0 ] && printf '%s\n' "$endpoints" | grep -qE '(subflow|signal)'; then
		echo "verdict: ready for multipath"
		return 0
	fi
	local prefix="" suggestions
	[ "${subflows:-0}" -gt 0 ] || prefix="ip mptcp limits set subflow 2 add_addr_accepted 2 && "
	suggestions=$(ip -o addr show scope global 2>/dev/null |
		awk -v p="$prefix" '$2 != "lo" { sub(/\/.*/, "", $4); printf "  `%sip mptcp endpoint add %s dev %s subflow`\n", p, $4, $2 }')
	if [ -z "$suggestions" ]; then
		echo "verdict: MPTCP works but only one path will be used: no interface other than loopback has an address"
	else
		echo "verdict: MPTCP works but only one path will be used: add one with"
		printf '%s\n' "$suggestions"
		echo "  (on a server, use 'signal' instead of 'subflow' to announce the address to clients)"
	fi
	return 0
}

# daemon-reload when systemd runs this host and we act on its own tree; otherwise say so.
reload_systemd() {
	if [ -n "$ROOT" ] && [ "$ROOT" != / ]; then
		echo "not reloading systemd: --root $ROOT is not the running system"
	elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload && echo "systemd reloaded"
	else
		echo "not reloading systemd: it is not running here"
	fi
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
enable)
	shift
	cmd_enable "$@"
	;;
disable)
	shift
	cmd_disable "$@"
	;;
check)
	shift
	cmd_check "$@"
	;;
*) cmd_run "$@" ;;
esac
