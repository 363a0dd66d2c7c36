#!/usr/bin/env bash
# Simulator results table: replays synthetic workloads through every policy
# with pageflex-sim and writes bench/results/sim.csv and sim.md, then checks
# the acceptance criteria of the policy set (issue 5) on the numbers.
#
#   bench/sim/run.sh [--build DIR] [--out DIR] [--quick]
#
# --quick uses small workloads (a few seconds; what the test suite runs) and
# writes to a temporary directory unless --out is given. Exit status: 0 if
# every criterion holds, 1 if one fails, 2 on a usage or build error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
out=""
quick=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
sim="$build/bin/pageflex-sim"
if [ ! -x "$sim" ]; then
	cmake --build "$build" --target pageflex-sim >/dev/null || { echo "run.sh: cannot build $sim" >&2; exit 2; }
fi
tmpout=""
if [ -z "$out" ]; then
	if [ $quick = 1 ]; then
		out=$(mktemp -d /tmp/pf-sim-results.XXXXXX)
		tmpout=$out
		trap 'rm -rf "$tmpout"' EXIT
	else
		out="$root/bench/results"
	fi
fi
mkdir -p "$out"

if [ $quick = 1 ]; then
	P=4096; Z=200000; PH=2048
else
	P=65536; Z=2000000; PH=16384
fi
csv="$out/sim.csv"
echo "scenario,region,reclaim,prefetch,accesses,faults,refaults,prefetched,prefetch_hits,phase_prefetched,accuracy,coverage,avg_resident,avg_footprint,saved" >"$csv"

run() { # label, then pageflex-sim arguments
	local label=$1; shift
	"$sim" --csv --label "$label" "$@" | grep ",total," >>"$csv"
}
runall() { # label, then arguments: every region and the total
	local label=$1; shift
	"$sim" --csv --label "$label" "$@" >>"$csv"
}

# Prefetch: strided and sequential access larger than memory (50% budget).
for p in none readahead leap; do
	run stride-7 --gen "stride:pages=$P,stride=7,loops=4" --budget 50 --reclaim lru --prefetch $p
	run sequential --gen "seq:pages=$P,loops=4" --budget 50 --reclaim lru --prefetch $p
done
# Reclaim: zipf(0.9) at a 30% budget, and a loop larger than memory.
for r in kernel cold-age lru lfu hyperbolic min; do
	run zipf-0.9 --gen "zipf:pages=$P,s=0.9,accesses=$Z" --budget 30 --reclaim $r
	run loop --gen "loop:pages=$P,loops=4" --budget 80 --reclaim $r
done
# Regions: an index (strided) and a cache (zipf) in one process.
run mix-one-rule --gen "mix:pages=$P,s=0.9,accesses=$Z" --budget 40 --reclaim lru --prefetch readahead
runall mix-per-region --gen "mix:pages=$P,s=0.9,accesses=$Z" --budget 40 --rules "$here/mix.yaml"
# Phases: one process-wide rule vs phase rules (+ phase-entry prefetch).
G="phases:pages=$PH,phase_len=$((PH * 4)),loops=4"
run phases-one-rule --gen "$G" --budget 50 --rules "$here/flat.yaml"
run phases-rules --gen "$G" --budget 50 --rules "$here/phases.yaml"
run phases-rules+hot --gen "$G" --budget 50 --rules "$here/phases.yaml" --phase-hot
# Promotion-rate threshold on the zipf cache, in slower time (100 us per
# access, 1 s scans) so that "per minute" means something: memory saved for
# a refault target (ppm of the working set per minute).
for ppm in 2000 20000 200000; do
	run "zipf-promotion-${ppm}ppm" --gen "zipf:pages=$P,s=0.9,accesses=$Z,access_ns=100000" \
		--scan-ms 1000 --reclaim hyperbolic --mode promotion --promotion-ppm $ppm
done

# ---- the table ----
md="$out/sim.md"
val() { # scenario reclaim prefetch column -> value (total rows)
	awk -F, -v s="$1" -v r="$2" -v p="$3" -v c="$4" \
		'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		 $1 == s && $2 == "total" && (r == "*" || $3 == r) && (p == "*" || $4 == p) { print $col[c]; exit }' "$csv"
}
cut_pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? 100 * (1 - a / b) : 0) }'; }
{
	echo "# pageflex-sim results"
	echo
	echo "Reproduce with \`bench/sim/run.sh\` (after a build). Synthetic traces, $P-page regions,"
	echo "one access per simulated microsecond, a scan every 10 ms; budgets are per region."
	echo "\"refaults\" are swap-in faults not served by a prefetch; \"saved\" is 1 - average"
	echo "resident / average touched pages. Generated $(date -u +%Y-%m-%d) by $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)."
	echo
	echo "| scenario | region | reclaim | prefetch | accesses | refaults | prefetched | accuracy | coverage | avg resident | saved |"
	echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %d | %d | %d | %.1f%% | %.1f%% | %.0f | %.1f%% |\n", $1, $2, $3, $4, $5, $7, $8, 100 * $11, 100 * $12, $13, 100 * $15 }' "$csv"
	echo
	echo "## Acceptance checks"
	echo
} >"$md"

fail=0
check() { # description, condition (awk expression evaluated to 1/0)
	local ok
	ok=$(awk "BEGIN { print ($2) ? 1 : 0 }")
	if [ "$ok" = 1 ]; then echo "- PASS: $1" >>"$md"; echo "PASS: $1"; else echo "- FAIL: $1" >>"$md"; echo "FAIL: $1"; fail=1; fi
}
sn=$(val stride-7 lru none refaults); sr=$(val stride-7 lru readahead refaults); sl=$(val stride-7 lru leap refaults)
qn=$(val sequential lru none refaults); qr=$(val sequential lru readahead refaults); ql=$(val sequential lru leap refaults)
check "stride 7: Leap cuts swap-in faults by $(cut_pct "$sl" "$sn")% (>= 80%): $sn -> $sl" "$sl <= 0.2 * $sn"
check "stride 7: readahead cuts them by $(cut_pct "$sr" "$sn")% (< 20%): $sn -> $sr" "$sr > 0.8 * $sn"
check "sequential: readahead cuts by $(cut_pct "$qr" "$qn")%, Leap by $(cut_pct "$ql" "$qn")% (both >= 80%)" "$qr <= 0.2 * $qn && $ql <= 0.2 * $qn"
zl=$(val zipf-0.9 lru "*" refaults); zf=$(val zipf-0.9 lfu "*" refaults)
zh=$(val zipf-0.9 hyperbolic "*" refaults); zm=$(val zipf-0.9 min "*" refaults)
zk=$(val zipf-0.9 kernel "*" refaults); zc=$(val zipf-0.9 cold-age "*" refaults)
check "zipf(0.9), 30% budget: Hyperbolic $zh and LFU $zf refault less than LRU $zl" "$zh < $zl && $zf < $zl"
check "zipf(0.9): MIN $zm bounds all (kernel $zk, cold-age $zc, LRU $zl, LFU $zf, Hyperbolic $zh)" \
	"$zm <= $zh && $zm <= $zf && $zm <= $zl && $zm <= $zk && $zm <= $zc"
lm=$(val loop min "*" refaults); ll=$(val loop lru "*" refaults)
check "loop larger than memory: MIN $lm < LRU $ll" "$lm < $ll"
po=$(val phases-one-rule "*" "*" avg_resident); pr=$(val phases-rules+hot "*" "*" avg_resident)
pof=$(val phases-one-rule "*" "*" refaults); prf=$(val phases-rules+hot "*" "*" refaults)
check "phases: phase rules + hot-set prefetch hold $(cut_pct "$pr" "$po")% less memory ($po -> $pr pages) with refaults $pof -> $prf" "$pr < $po && $prf <= $pof"
mo=$(val mix-one-rule "*" "*" refaults); mp=$(val mix-per-region "*" "*" refaults)
check "mix: per-region rules (Leap on the index, Hyperbolic on the cache) refault $mp vs one rule $mo" "$mp < $mo"
# The per-fault cost of Leap on the fault path is measured live, with swap:
# pf-leap-cost (bench/live/leap_cost.c).

echo
if [ -n "$tmpout" ]; then
	cat "$md"
else
	echo "results: $csv, $md"
fi
exit $fail
