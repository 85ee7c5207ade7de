#!/usr/bin/env bash
# scripts/behaviour-table.sh: what a program sees of a connection over TCP and over MPTCP on the
# running kernel (scripts/behaviour.py), as docs/behaviour/<series>.txt holds it.
#
#   scripts/behaviour-table.sh           writes docs/behaviour/<series>.txt
#   scripts/behaviour-table.sh --check   exits 1, showing the differences, when the kernel behaves
#                                        otherwise than the committed file says, twice in a row
#
# The tables come from $BEHAVIOUR_TABLES (default docs/behaviour). Needs root (a private network
# namespace with a veth pair). For the other kernels users run: scripts/kernels.sh
# scripts/behaviour-table.sh. About one bound (5 s) on this machine, a little more under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
release=$(uname -r)
series=$(echo "$release" | cut -d. -f1,2)
committed=${BEHAVIOUR_TABLES:-docs/behaviour}/$series.txt
measure() {
	unshare -n python3 scripts/behaviour.py
}
case "${1:-}" in
--check)
	if [ ! -f "$committed" ]; then
		echo "behaviour-table.sh: no table for Linux $series ($committed): make it with scripts/behaviour-table.sh" >&2
		exit 1
	fi
	# A busy machine can make one row's timing class flip once (a transfer slowed past its
	# bound, an error a second late): a row must differ in two runs in a row to fail the check.
	if ! first=$(diff <(grep -v '^# behaviour' "$committed") <(measure)); then
		printf 'behaviour-table.sh: differs once, measuring again:\n%s\n' "$first" >&2
		if ! diff <(grep -v '^# behaviour' "$committed") <(measure); then
			echo "behaviour-table.sh: Linux $release behaves otherwise than $committed (< committed, > measured)" >&2
			exit 1
		fi
	fi
	echo "behaviour-table.sh: Linux $release behaves as $committed says"
	;;
'')
	mkdir -p "$(dirname "$committed")"
	{
		echo "# behaviour.py on Linux $release (unshare -n python3 scripts/behaviour.py, by"
		echo "# behaviour-table.sh): tests/behaviour.rs and tests/kernels.rs check it; docs/limitations.md explains each difference"
		measure
	} >"$committed.new"
	mv "$committed.new" "$committed"
	echo "behaviour-table.sh: wrote $committed"
	;;
*)
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
