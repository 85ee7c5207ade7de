#!/usr/bin/env bash
# scripts/bench.sh: what the library costs per call, measured side by side in one run.
#
# Each figure is a ratio of two variants of the same call, run as separate processes of
# examples/callbench, alternated A B A B (these machines are noisy) inside a network namespace
# this script makes; it reports the medians, their ratio, and each side's spread
# (interquartile range / median). Root is needed for the namespace.
#
#   sudo scripts/bench.sh [--quick] [--rounds N] [--iterations N]
set -eu
cd "$(dirname "$0")/.."

ROUNDS=31 ITERATIONS=20000
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) ROUNDS=3 ITERATIONS=2000 ;;
	--rounds) ROUNDS=${2:?--rounds needs N}; shift ;;
	--iterations) ITERATIONS=${2:?--iterations needs N}; shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$ROUNDS$ITERATIONS" in *[!0-9]*) echo "bench.sh: counts must be numbers" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench.sh: needs root (a private network namespace): sudo $0" >&2; exit 1; }

echo "bench.sh: building (cargo build --release)..." >&2
cargo build --release --quiet --lib --example callbench
LIB=$PWD/target/release/libmptcpize_rs.so
BENCH=$PWD/target/release/examples/callbench
export LIB BENCH ROUNDS ITERATIONS

# Everything below runs in a namespace of its own: loopback only, gone when the script ends.
exec unshare -n bash -s <<'INNER'
set -eu
ip link set lo up

# The median and the interquartile range (as % of the median) of the numbers on stdin.
stats() {
	sort -g | awk '
		function at(p,  i) { i = 1 + p * (NR - 1); return v[int(i)] + (i - int(i)) * (v[int(i) + 1] - v[int(i)]) }
		{ v[NR] = $1 }
		END { m = at(0.5); printf "%.1f %.1f\n", m, (at(0.75) - at(0.25)) / m * 100 }'
}

# figure NAME GOAL "A command" "B command": A is with the library, B the reference.
figure() {
	local name=$1 goal=$2 a=$3 b=$4 round a_times="" b_times=""
	for round in $(seq "$ROUNDS"); do
		a_times="$a_times $(bash -c "$a")"
		b_times="$b_times $(bash -c "$b")"
		printf '\r%s: round %s/%s' "$name" "$round" "$ROUNDS" >&2
	done
	printf '\r\033[K' >&2
	read -r a_median a_spread < <(printf '%s\n' $a_times | stats)
	read -r b_median b_spread < <(printf '%s\n' $b_times | stats)
	printf '| %s | %s ns (IQR %s %%) | %s ns (IQR %s %%) | %s | %s |\n' "$name" \
		"$a_median" "$a_spread" "$b_median" "$b_spread" \
		"$(awk -v a="$a_median" -v b="$b_median" 'BEGIN { printf "%.3f", a / b }')" "$goal"
}

N=$ITERATIONS
echo "| figure (callbench, $ROUNDS rounds × $N calls, medians) | with library | reference | ratio | goal |"
echo "|---|---|---|---|---|"
figure "untouched call: AF_UNIX socket+close, with / without library" "≤ 1.01" \
	"LD_PRELOAD=$LIB $BENCH unix $N" "$BENCH unix $N"
figure "TCP call rewritten to MPTCP / the program asking IPPROTO_MPTCP itself" "≤ 1.01" \
	"LD_PRELOAD=$LIB $BENCH tcp $N" "$BENCH mptcp $N"
figure "outgoing socket+connect+close, listen mode / without library" "≤ 1.01" \
	"LD_PRELOAD=$LIB MPTCPIZE=listen $BENCH connect $((N / 10))" "$BENCH connect $((N / 10))"
sysctl -qw net.mptcp.enabled=0
figure "MPTCP switched off: TCP socket+close with library / without" "≤ 1.03" \
	"LD_PRELOAD=$LIB $BENCH tcp $N" "$BENCH tcp $N"

# Load cost: instructions to run /bin/true, counted by callgrind (deterministic), and the size of
# the stripped library.
instructions() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : //p'; }
with=$(LD_PRELOAD=$LIB instructions /bin/true)
without=$(instructions /bin/true)
stripped=$(mktemp)
strip -o "$stripped" "$LIB"
echo
echo "| load cost | with library | without | added | goal |"
echo "|---|---|---|---|---|"
echo "| instructions to exec /bin/true (callgrind) | $with | $without | $((with - without)) | ≤ 30000 added |"
echo "| stripped libmptcpize_rs.so | $(stat -c %s "$stripped") bytes | | | |"
rm -f "$stripped"
INNER
