#!/usr/bin/env bash
# bench/live/phases.sh: pf-wl-phase (a build phase, then a query phase, with
# pageflex_phase markers), three instances at once, side by side: without
# shim or agent (the kernel policy: the reference resident set), and under
# two pageflexd's (libpageflex.so) with one process-wide
# cold-age rule (phases_global.yaml) and the same rule plus a phase rule
# that makes the staging region cold at once in "query" (phases_phase.yaml).
# VmRSS is sampled every 20 ms; memory saved = reference average RSS minus
# the run's average RSS. Fails (exit 1) unless the phase rules save >= 25%
# more than the process-wide rule with no more swap-ins (major faults).
# The full run adds "global-short" (phases_global-short.yaml, not judged): a
# process-wide rule short enough to save that memory, which then refaults in
# the build phase.
#   bench/live/phases.sh [--quick] [pf-wl-phase options]
# PF_BUILD=build dir (default build/). Exit 77 without root or swap.
# PF_LIVE_SAMPLES=PREFIX writes each run's RSS samples to PREFIX.<run>.
. "$(dirname "$0")/lib.sh"

ARGS=(-s 256 -n 16000000)
RUNS=(kernel global phase global-short)
if [ "${1:-}" = --quick ]; then
	shift
	# A short query phase: the process-wide rule saves little or nothing
	# in it, so the verdict does not hinge on how loaded the machine is.
	ARGS=(-s 128 -n 4000000)
	RUNS=(kernel global phase)
fi
ARGS+=(-q "$@")
swap_watch_start

# All three run at the same time, side by side, so machine load hits them
# alike: the reference without shim or agent (the kernel policy), "global"
# and "phase" each under an agent of its own.
for n in "${RUNS[@]:1}"; do agent_start --name "$n" "$LIVE_DIR/phases_$n.yaml" --scan-interval 100; done
pids=()
for n in "${RUNS[@]}"; do
	export RSS_SAMPLES=${PF_LIVE_SAMPLES:+$PF_LIVE_SAMPLES.$n}
	if [ $n = kernel ]; then
		python3 "$LIVE_DIR/rss_run.py" "" "" -- "$BLD/bin/pf-wl-phase" "${ARGS[@]}" >"$TMP/$n.out" 2>&1 &
	else
		PAGEFLEX_SOCKET=$TMP/$n.sock LD_PRELOAD=$SHIM python3 "$LIVE_DIR/rss_run.py" "$TMP/$n.ctl" "$PFCTL" -- \
			"$BLD/bin/pf-wl-phase" "${ARGS[@]}" >"$TMP/$n.out" 2>&1 &
	fi
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { cat "$TMP"/*.out; echo "FAIL: pf-wl-phase run $i"; exit 1; }
done
agent_stop
for n in "${RUNS[@]}"; do
	grep -q 'verify=ok' "$TMP/$n.out" || { cat "$TMP/$n.out"; echo "FAIL: pf-wl-phase ($n) read back wrong data"; exit 1; }
	head -1 "$TMP/$n.out" >"$TMP/$n"
done
echo "run          avg_rss_MiB  max_rss_MiB  saved_MiB  swap-ins(majflt)  refaults(agent)  runtime_s"
for n in "${RUNS[@]}"; do
	read -r avg max maj ref _ rt <"$TMP/$n"
	ref_avg=$(cut -d' ' -f1 "$TMP/kernel")
	printf "%-12s %6s  %11s  %9.1f  %16s  %15s  %9s\n" "$n" "$avg" "$max" \
		"$(awk -v r="$ref_avg" -v a="$avg" 'BEGIN { print r - a }')" "$maj" "$ref" "$rt"
done
read -r _ _ G_MAJ _ _ _ <"$TMP/global"
read -r _ _ P_MAJ _ _ _ <"$TMP/phase"
verdict=$(awk -v r="$(cut -d' ' -f1 "$TMP/kernel")" -v g="$(cut -d' ' -f1 "$TMP/global")" \
	-v p="$(cut -d' ' -f1 "$TMP/phase")" 'BEGIN {
	sg = r - g; sp = r - p
	if (sg > 0)
		printf "phase rules save %.1f MiB, the process-wide rule %.1f MiB: %+.0f%%\n", sp, sg, 100 * (sp - sg) / sg
	else
		printf "phase rules save %.1f MiB, the process-wide rule nothing (%.1f MiB)\n", sp, sg
	# >= 25% more than the process-wide rule (which may save ~nothing when
	# the query phase is shorter than its cold age), and >= 10% of the total
	print (sp >= 1.25 * (sg > 0 ? sg : 0) && sp >= 0.1 * r) ? "ok" : "short"
}')
echo "$verdict" | head -1
echo "swap-ins: phase $P_MAJ, global $G_MAJ"
dist=0
distorted && dist=1
if [ "$(echo "$verdict" | tail -1)" = ok ] && [ "$P_MAJ" -le "$G_MAJ" ]; then
	echo "PASS: phase rules save >= 25% more memory with no more swap-ins"
elif [ $dist = 1 ]; then
	echo "SKIP: target not met, but a disk swap tier distorted the runs"
	exit 77
else
	echo "FAIL: phase rules: target not met (>= 25% more saved, swap-ins $P_MAJ <= $G_MAJ)"
	exit 1
fi
