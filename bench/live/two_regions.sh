#!/usr/bin/env bash
# bench/live/two_regions.sh: pf-live-two (a strided "index" region and a zipf
# "cache" region) under pageflexd and libpageflex.so, twice: with Leap on the
# index (two_regions_leap.yaml) and without (two_regions_none.yaml); both
# keep the index under an LRU 50% budget and the cache under a 30% budget.
# The Leap run is recorded (`pageflexctl record`) and the trace is replayed
# with pageflex-sim under both rules files. Prints the live and simulated
# index swap-ins and fails (exit 1) unless Leap cuts them in both. The
# control run also puts the cache under LRU instead of Hyperbolic: its
# refaults are printed live and simulated, not judged. A third run, with
# PAGEFLEXD_LEAP=user, runs the same Leap in the agent's user space instead
# of on the fault path (pf_leap): printed side by side, not judged.
#   bench/live/two_regions.sh [--quick] [pf-live-two options]
# PF_BUILD=build dir (default build/). Exit 77 without root or swap.
# PF_KEEP_TRACES=DIR keeps the recorded traces there (leap.pftrace and, then
# also recorded, none.pftrace: the control run with LRU on the cache).
. "$(dirname "$0")/lib.sh"

ARGS=(-i 64 -c 64 -p 4)
if [ "${1:-}" = --quick ]; then
	shift
	ARGS=(-i 32 -c 32 -p 3)
fi
ARGS+=("$@")
SCAN_MS=100
swap_watch_start

# run NAME RULES [record]: one run; leaves the index/cache lines in $TMP/NAME.regions.
run() {
	local name=$1 rules=$2 rec=${3:-}
	agent_start "$rules" --scan-interval "$SCAN_MS"
	rm -f "$TMP/go" "$TMP/end"
	PAGEFLEX_SOCKET=$TMP/agent.sock LD_PRELOAD=$SHIM "$BLD/bin/pf-live-two" "${ARGS[@]}" \
		-g "$TMP/go" -e "$TMP/end" >"$TMP/$name.out" 2>&1 &
	WL_PID=$!
	wait_tags "$WL_PID" index cache
	[ -n "$rec" ] && ctl record "$WL_PID" "$TMP/$name.pftrace" 600 --first-touch >/dev/null
	local t0=$SECONDS
	touch "$TMP/go"
	while ! grep -q '^RESULT' "$TMP/$name.out"; do
		kill -0 "$WL_PID" 2>/dev/null || { cat "$TMP/$name.out"; echo "FAIL: pf-live-two died"; exit 1; }
		sleep 0.05
	done
	ctl regions "$WL_PID" >"$TMP/$name.text"
	ctl regions "$WL_PID" --json | python3 "$LIVE_DIR/regions.py" >"$TMP/$name.regions"
	touch "$TMP/end"
	wait "$WL_PID" || { cat "$TMP/$name.out"; echo "FAIL: pf-live-two exit status"; exit 1; }
	WL_PID=
	grep -q 'verify=ok' "$TMP/$name.out" || { echo "FAIL: pf-live-two read back wrong data"; exit 1; }
	# the recording ends with the process; wait for the agent to close the file
	[ -n "$rec" ] && for _ in $(seq 100); do "$SIM" --trace "$TMP/$name.pftrace" >/dev/null 2>&1 && break; sleep 0.1; done
	agent_stop
	echo "== live, rules $(basename "$rules") ($((SECONDS - t0)) s): pageflexctl regions PID"
	cat "$TMP/$name.text"
	sed -n 's/^RESULT /  /p' "$TMP/$name.out"
}

wait_tags() {
	local pid=$1
	shift
	for _ in $(seq 500); do
		local ok=1
		out=$(ctl regions "$pid" --json 2>/dev/null | python3 "$LIVE_DIR/regions.py" 2>/dev/null) || out=
		for t in "$@"; do grep -q "^$t " <<<"$out" || ok=0; done
		[ $ok = 1 ] && return 0
		sleep 0.02
	done
	echo "FAIL: the agent never learned regions $* of pid $pid" >&2
	exit 1
}
# field NAME TAG COL: a column of regions.py's line for TAG (2 first_touch,
# 3 refaults, 4 swapin_major, 5 swapcache_hits, 6 prefetched, 7 paged_out).
field() { awk -v t="$2" -v c="$3" '$1 == t { print $c; exit }' "$TMP/$1.regions"; }
# simcol RULES TAG COL: pageflex-sim's CSV column for TAG on the recorded trace
# (6 faults, 7 refaults, 8 prefetched, 9 hits, 15 saved).
sim() {
	"$SIM" --trace "$TMP/leap.pftrace" --rules "$1" --scan-ms "$SCAN_MS" --csv --label "$(basename "$1" .yaml)"
}

run leap "$LIVE_DIR/two_regions_leap.yaml" record
grep -q 'Leap runs on the fault path' "$TMP/agent.log" || { cat "$TMP/agent.log"; echo "FAIL: Leap not on the fault path"; exit 1; }
export PAGEFLEXD_LEAP=user
run leapuser "$LIVE_DIR/two_regions_leap.yaml"
unset PAGEFLEXD_LEAP
run none "$LIVE_DIR/two_regions_none.yaml" ${PF_KEEP_TRACES:+record}
if [ -n "${PF_KEEP_TRACES:-}" ]; then
	mkdir -p "$PF_KEEP_TRACES"
	cp "$TMP/leap.pftrace" "$TMP/none.pftrace" "$PF_KEEP_TRACES/"
fi

echo "== pageflex-sim on the recorded trace of the leap run (scan period $SCAN_MS ms)"
echo "label,tag,reclaim,prefetch,accesses,faults,refaults,prefetched,hits,wasted,accuracy,coverage,avg_resident,max_resident,saved"
sim "$LIVE_DIR/two_regions_leap.yaml" | tee "$TMP/sim_leap.csv"
sim "$LIVE_DIR/two_regions_none.yaml" | tee "$TMP/sim_none.csv"
simcol() { awk -F, -v t="$2" -v c="$3" '$2 == t { print $c; exit }' "$TMP/sim_$1.csv"; }

L_MAJ=$(field leap index 4) N_MAJ=$(field none index 4)
L_HIT=$(field leap index 5) L_PF=$(field leap index 6)
S_L=$(simcol leap index 7) S_N=$(simcol none index 7)
C_L=$(field leap cache 3) C_N=$(field none cache 3)
echo "== summary"
printf "index swap-ins (major refaults), live: leap %s  none %s  (%s%%)\n" "$L_MAJ" "$N_MAJ" \
	"$(awk -v a="$L_MAJ" -v b="$N_MAJ" 'BEGIN { printf "%+.1f", b ? 100 * (a - b) / b : 0 }')"
printf "index prefetch, live (leap): %s pages asked, %s refaults were swap-cache hits\n" "$L_PF" "$L_HIT"
U_MAJ=$(field leapuser index 4) U_HIT=$(field leapuser index 5) U_PF=$(field leapuser index 6)
printf "index, live: Leap on the fault path %s swap-ins, %s hits, %s asked; Leap in user space %s swap-ins, %s hits, %s asked  [not judged]\n" \
	"$L_MAJ" "$L_HIT" "$L_PF" "$U_MAJ" "$U_HIT" "$U_PF"
printf "index refaults,  sim:  leap %s  none %s  (%s%%)\n" "$S_L" "$S_N" \
	"$(awk -v a="$S_L" -v b="$S_N" 'BEGIN { printf "%+.1f", b ? 100 * (a - b) / b : 0 }')"
SC_L=$(simcol leap cache 7) SC_N=$(simcol none cache 7)
printf "cache refaults (30%% budget), live: hyperbolic %s  lru %s (%s%%); sim: hyperbolic %s  lru %s (%s%%)  [not judged]\n" \
	"$C_L" "$C_N" "$(awk -v a="$C_L" -v b="$C_N" 'BEGIN { printf "%+.1f", b ? 100 * (a - b) / b : 0 }')" \
	"$SC_L" "$SC_N" "$(awk -v a="$SC_L" -v b="$SC_N" 'BEGIN { printf "%+.1f", b ? 100 * (a - b) / b : 0 }')"
dist=0
distorted && dist=1
if [ $dist = 1 ]; then
	# swap-cache hits from the kernel's disk readahead make the live
	# swap-ins of both runs meaningless, whichever way they point
	echo "SKIP: a disk swap tier distorted the live runs (live $L_MAJ vs $N_MAJ, sim $S_L vs $S_N)"
	exit 77
elif [ "$N_MAJ" -gt 0 ] && [ "$L_MAJ" -lt "$N_MAJ" ] && [ "$S_L" -lt "$S_N" ]; then
	echo "PASS: Leap cuts the index region's swap-ins live and in the simulator"
else
	echo "FAIL: Leap does not cut the index swap-ins in both (live $L_MAJ vs $N_MAJ, sim $S_L vs $S_N)"
	exit 1
fi
