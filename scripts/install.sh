#!/usr/bin/env bash
# scripts/install.sh: install (or remove) the library, the wrapper and its man page.
#
#   [PREFIX=/usr/local] [DESTDIR=] scripts/install.sh [--library FILE] [--uninstall]
#
# Installs PREFIX/lib/mptcpize-rs/libmptcpize_rs.so, PREFIX/bin/mptcpize-rs (the wrapper, which
# finds the library beside it) and PREFIX/share/man/man8/mptcpize-rs.8, under DESTDIR when set
# (for packaging). Builds the release library first unless --library names one. --uninstall
# removes exactly those files, and the library's directory when it is left empty.
set -eu
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
library="" uninstall=""
while [ $# -gt 0 ]; do
	case "$1" in
	--library)
		library=${2:?--library needs a FILE}
		shift 2
		;;
	--uninstall)
		uninstall=1
		shift
		;;
	-h | --help)
		sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
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
installed=("$lib_dir/libmptcpize_rs.so" "$root/bin/mptcpize-rs" "$root/share/man/man8/mptcpize-rs.8")

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

if [ -z "$library" ]; then
	echo "install.sh: building the library (cargo build --release)..." >&2
	cargo build --release --lib --quiet
	library=target/release/libmptcpize_rs.so
fi
[ -f "$library" ] || { echo "install.sh: $library: no such file" >&2; exit 1; }
install -D -m 0644 "$library" "${installed[0]}"
install -D -m 0755 mptcpize-rs.sh "${installed[1]}"
install -D -m 0644 docs/mptcpize-rs.8 "${installed[2]}"
printf 'installed %s\n' "${installed[@]}"
