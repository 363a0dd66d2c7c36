#!/usr/bin/env bash
# Shim micro benchmarks, one command: runs each workload of pageflex-micro
# under (a) LD_PRELOAD=libjemalloc.so.2 and (b) LD_PRELOAD=libpageflex.so with
# an agent connected, plus a' (a again, the noise floor), in interleaved
# repetitions (a b a', b a' a, a' a b, ...) in one run, and prints the medians
# and the ratios b/a and a'/a against the issue's targets (malloc/free <= 1.02,
# mmap churn <= 1.10). A benchmark, not a test: it exits non-zero only if a
# run fails or the sides did different work.
#
#   bench/micro/run.sh [--build DIR] [--shim LIB] [--base LIB] [--reps N]
#                      [--malloc-ops N] [--mmap-ops N] [--quick]
#                      [--agent sink|pageflexd|none]
# --agent: pageflex-sink-agent (default; drains and validates every packet),
# the real pageflexd with the kernel policy (root; adds its eBPF fault hooks
# to b: the delegation cost), or none.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${PAGEFLEX_BUILD_DIR:-$here/../../build}
SHIM= BASE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
REPS=9 MALLOC_OPS=2000000 MMAP_OPS=100000 AGENT=sink

usage() { sed -n '2,15s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift ;;
	--shim) SHIM=$2; shift ;;
	--base) BASE=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--malloc-ops) MALLOC_OPS=$2; shift ;;
	--mmap-ops) MMAP_OPS=$2; shift ;;
	--agent) AGENT=$2; shift ;;
	--no-agent) AGENT=none ;;
	--quick) REPS=3 MALLOC_OPS=200000 MMAP_OPS=10000 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
BUILD=$(cd "$BUILD" && pwd)
SHIM=${SHIM:-$BUILD/lib/libpageflex.so}
MICRO=$BUILD/bin/pageflex-micro
SINK=$BUILD/bin/pageflex-sink-agent
for f in "$SHIM" "$BASE" "$MICRO"; do
	[ -e "$f" ] || { echo "run.sh: $f not found (build first: cmake --build $BUILD)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/pageflex-micro.XXXXXX)
agent_pid=
cleanup() {
	if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
export PAGEFLEX_SOCKET=$tmp/agent.sock

case $AGENT in
sink)
	[ -x "$SINK" ] || { echo "run.sh: $SINK not found" >&2; exit 1; }
	"$SINK" --socket "$PAGEFLEX_SOCKET" --stats "$tmp/agent.stats" >"$tmp/agent.out" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do grep -q ready "$tmp/agent.out" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$tmp/agent.out" || { echo "run.sh: agent did not start:" >&2; cat "$tmp/agent.out" >&2; exit 1; }
	;;
pageflexd)
	[ -x "$BUILD/bin/pageflexd" ] || { echo "run.sh: $BUILD/bin/pageflexd not found" >&2; exit 1; }
	# shellcheck source=SCRIPTDIR/../../scripts/lib/agent.sh
	. "$here/../../scripts/lib/agent.sh"
	pf_agent_start "$BUILD/bin/pageflexctl" "$tmp/control.sock" "$tmp/agent.out" \
		"$BUILD/bin/pageflexd" -s "$PAGEFLEX_SOCKET" --control "$tmp/control.sock" -q -p '*=kernel' ||
		exit 1
	agent_pid=$PF_AGENT_PID
	;;
none) ;;
*) echo "run.sh: --agent is sink, pageflexd or none" >&2; exit 2 ;;
esac

# name|pageflex-micro arguments|target ratio
WORKLOADS=(
	"malloc|malloc --ops $MALLOC_OPS|1.02"
	"malloc-small|malloc-small --ops $((MALLOC_OPS * 4))|1.02"
	"malloc-2t|malloc --ops $((MALLOC_OPS / 2)) --threads 2|1.02"
	"mmap-small|mmap-small --ops $MMAP_OPS|1.10"
	"mmap-large|mmap-large --ops $MMAP_OPS|1.10"
	"mmap-mixed|mmap-mixed --ops $MMAP_OPS|1.10"
)

# run SIDE ARGS...: one run, appends ns/op to $tmp/NAME.SIDE, checks the checksum.
run() {
	local side=$1 name=$2 lib out
	shift 2
	[ "$side" = b ] && lib=$SHIM || lib=$BASE
	out=$(LD_PRELOAD=$lib "$MICRO" "$@") || { echo "run.sh: $name under $lib failed" >&2; exit 1; }
	set -- $out
	echo "$3" >>"$tmp/$name.$side"
	echo "${11}" >>"$tmp/$name.cpu.$side"
	echo "$9" >>"$tmp/$name.sum.$side"
}

median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "micro: a = $BASE"
echo "micro: b = $SHIM (agent: $AGENT)"
echo "micro: $REPS interleaved repetitions per workload on $(nproc) CPUs"
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name args _ <<<"$w"
	run a "$name" $args # warm-up (page cache, CPU frequency), not counted
	rm -f "$tmp/$name".*
	# a' is a again: a'/a shows how much two identical sides differ here.
	for i in $(seq "$REPS"); do
		case $((i % 3)) in
		1) order="a b c" ;;
		2) order="b c a" ;;
		0) order="c a b" ;;
		esac
		for side in $order; do run $side "$name" $args; done
	done
done

echo
echo "wall: wall-clock ns per operation (per thread); cpu: CPU ns of the whole process"
echo "(all threads, the shim's sender included) per operation. Medians of $REPS."
echo "b/a: the shim's cost. a'/a: a second, identical run of a: the noise floor."
printf '\n%-12s %9s %9s %6s %6s %9s %9s %6s %6s %6s  %s\n' workload "a wall" "b wall" "b/a" "a'/a" \
	"a cpu" "b cpu" "b/a" "a'/a" target "b/a: wall, cpu"
status=0
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name _ target <<<"$w"
	if [ "$(sort -u "$tmp/$name.sum".? | wc -l)" != 1 ]; then
		echo "run.sh: $name: a and b computed different checksums" >&2; status=1
	fi
	awk -v n="$name" -v a="$(median "$tmp/$name.a")" -v b="$(median "$tmp/$name.b")" \
		-v a2="$(median "$tmp/$name.c")" -v ca="$(median "$tmp/$name.cpu.a")" \
		-v cb="$(median "$tmp/$name.cpu.b")" -v ca2="$(median "$tmp/$name.cpu.c")" -v t="$target" 'BEGIN {
		r = b / a; c = cb / ca
		printf "%-12s %9.1f %9.1f %6.3f %6.3f %9.1f %9.1f %6.3f %6.3f %6s  %s, %s\n", n, a, b, r,
			a2 / a, ca, cb, c, ca2 / ca, "<=" t, r <= t ? "ok" : "OVER", c <= t ? "ok" : "OVER" }'
done

# Noise on a shared machine only ever adds time, so the best of N runs is a
# second, less noisy estimate of each side's own cost.
echo
echo "best of $REPS (minimum) instead of the median:"
printf '%-12s %6s %6s %6s %6s\n' workload "b/a" "a'/a" "b/a" "a'/a"
printf '%-12s %13s %13s\n' "" "(wall)" "(cpu)"
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name _ _ <<<"$w"
	best() { sort -g "$tmp/$name.$1" | head -1; }
	awk -v n="$name" -v a="$(best a)" -v b="$(best b)" -v a2="$(best c)" -v ca="$(best cpu.a)" \
		-v cb="$(best cpu.b)" -v ca2="$(best cpu.c)" 'BEGIN {
		printf "%-12s %6.3f %6.3f %6.3f %6.3f\n", n, b / a, a2 / a, cb / ca, ca2 / ca }'
done

# Each repetition ran a, b and a' back to back: its own b/a is a paired
# estimate. Their spread shows how far one run's ratio can stray.
echo
echo "per repetition b/a (paired, in run order), then min / median / max:"
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name _ _ <<<"$w"
	for kind in "" cpu.; do
		paste "$tmp/$name.${kind}a" "$tmp/$name.${kind}b" | awk '{ printf "%.3f\n", $2 / $1 }' \
			>"$tmp/ratios"
		k=${kind%.}
		printf '%-12s %-4s %s  | %s / %s / %s\n' "$name" "${k:-wall}" \
			"$(tr '\n' ' ' <"$tmp/ratios")" "$(sort -g "$tmp/ratios" | head -1)" \
			"$(median "$tmp/ratios")" "$(sort -g "$tmp/ratios" | tail -1)"
	done
done

if [ "$AGENT" = sink ]; then
	kill "$agent_pid"; wait "$agent_pid" || { echo "run.sh: the agent saw malformed packets" >&2; status=1; }
	agent_pid=
	echo; echo "agent counters (all b runs):"; sed 's/^/  /' "$tmp/agent.stats"
elif [ "$AGENT" = pageflexd ]; then
	echo; echo "pageflexd status:"
	"$BUILD/bin/pageflexctl" --socket "$tmp/control.sock" status 2>&1 | head -20 | sed 's/^/  /' || true
fi
exit $status
