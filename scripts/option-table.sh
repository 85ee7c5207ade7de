#!/usr/bin/env bash
# scripts/option-table.sh: the running kernel's answers to every socket option per socket state
# (examples/optiontable.rs), as docs/options/<series>.txt holds them.
#
#   scripts/option-table.sh           writes docs/options/<series>.txt
#   scripts/option-table.sh --check   exits 1, showing the differences, when the kernel answers
#                                     otherwise than the committed file says
#
# The tool comes from $EXAMPLES (default target/release/examples: cargo build --release
# --examples); the tables from $OPTION_TABLES (default docs/options). For the other kernels users run: scripts/kernels.sh scripts/option-table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
table=${EXAMPLES:-target/release/examples}/optiontable
if [ ! -x "$table" ]; then
	echo "option-table.sh: $table missing: cargo build --release --examples" >&2
	exit 1
fi
release=$(uname -r)
series=$(echo "$release" | cut -d. -f1,2)
committed=${OPTION_TABLES:-docs/options}/$series.txt
measure() {
	echo "== IPPROTO_MPTCP"
	unshare -n sh -c "ip link set lo up; $table mptcp"
	echo "== IPPROTO_TCP"
	unshare -n sh -c "ip link set lo up; $table tcp"
}
case "${1:-}" in
--check)
	if [ ! -f "$committed" ]; then
		echo "option-table.sh: no table for Linux $series ($committed): make it with scripts/option-table.sh" >&2
		exit 1
	fi
	if ! diff <(grep -v -e '^# optiontable' -e '^# unshare' "$committed") <(measure); then
		echo "option-table.sh: Linux $release answers otherwise than $committed (< committed, > measured)" >&2
		exit 1
	fi
	echo "option-table.sh: Linux $release answers as $committed says"
	;;
'')
	{
		echo "# optiontable mptcp and optiontable tcp on Linux $release (cargo build --release --examples;"
		echo "# unshare -n sh -c 'ip link set lo up; target/release/examples/optiontable mptcp', by scripts/option-table.sh): tests/option_table.rs checks it"
		measure
	} >"$committed.new"
	mv "$committed.new" "$committed"
	echo "option-table.sh: wrote $committed"
	;;
*)
	sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
