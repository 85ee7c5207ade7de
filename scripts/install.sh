#!/usr/bin/env bash
# scripts/install.sh: install (or remove) the library, the launcher and its man page.
#
#   [PREFIX=/usr/local] [DESTDIR=] scripts/install.sh [--library FILE] [--launcher FILE] [--uninstall]
#
# Installs PREFIX/lib/mptcpize-rs/libmptcpize_rs.so (and its log companion libmptcpize_rs_log.so,
# taken from the library's directory), PREFIX/bin/mptcpize-rs (the launcher, which
# finds the library in ../lib/mptcpize-rs), beside the library mptcpize-rs-seccomp (taken from
# the launcher's directory: the library hands it the programs it cannot reach) and
# PREFIX/share/man/man8/mptcpize-rs.8, under DESTDIR
# when set (for packaging). Builds what --library / --launcher (or MPTCPIZE_LAUNCHER) do not name.
# --uninstall removes exactly those files, and the library's directory when it is left empty.
set -eu
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
library="" launcher=${MPTCPIZE_LAUNCHER:-} uninstall=""
while [ $# -gt 0 ]; do
	case "$1" in
	--library)
		library=${2:?--library needs a FILE}
		shift 2
		;;
	--launcher)
		launcher=${2:?--launcher needs a FILE}
		shift 2
		;;
	--uninstall)
		uninstall=1
		shift
		;;
	-h | --help)
		sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "install.sh: unknown argument '$1' (try --help)" >&2
		exit 2
		;;
	esac
done
case "$PREFIX" in
/*) ;;
*) echo "install.sh: PREFIX must be an absolute path, not '$PREFIX'" >&2; exit 2 ;;
esac

root="$DESTDIR$PREFIX"
lib_dir="$root/lib/mptcpize-rs"
installed=("$lib_dir/libmptcpize_rs.so" "$root/bin/mptcpize-rs" "$root/share/man/man8/mptcpize-rs.8"
	"$lib_dir/libmptcpize_rs_log.so" "$lib_dir/mptcpize-rs-seccomp")

if [ -n "$uninstall" ]; then
	for file in "${installed[@]}"; do
		if [ -e "$file" ]; then
			rm -f -- "$file"
			echo "removed $file"
		fi
	done
	rmdir -- "$lib_dir" 2>/dev/null || true
	exit 0
fi

if [ -z "$library" ] || [ -z "$launcher" ]; then
	echo "install.sh: building the library and the launcher (cargo build --release)..." >&2
	cargo build --release --quiet
	library=${library:-target/release/libmptcpize_rs.so}
	launcher=${launcher:-target/release/mptcpize-rs}
fi
# The log companion, which the library loads from its own directory when logs are asked for.
companion=$(dirname -- "$library")/libmptcpize_rs_log.so
# The seccomp helper, built with the launcher.
helper=$(dirname -- "$launcher")/mptcpize-rs-seccomp
for file in "$library" "$launcher" "$companion" "$helper"; do
	[ -f "$file" ] || { echo "install.sh: $file: no such file" >&2; exit 1; }
done
install -D -m 0644 "$library" "${installed[0]}"
install -D -m 0755 "$launcher" "${installed[1]}"
install -D -m 0644 docs/mptcpize-rs.8 "${installed[2]}"
install -D -m 0644 "$companion" "${installed[3]}"
install -D -m 0755 "$helper" "${installed[4]}"
printf 'installed %s\n' "${installed[@]}"
