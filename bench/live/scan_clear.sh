#!/usr/bin/env bash
# bench/live/scan_clear.sh: what pageflexd's page-table scan and accessed-bit
# clears cost per scan on a region whose pages are all hot (issue 14, the
# <= 10 ms/GiB target), live: pf-wl-seq reads every page of MIB (default 1024)
# MiB over and over under libpageflex.so while an agent keeps the region
# under LRU with a 100% budget (nothing paged out), scanning every 500 ms.
# One agent per clear_every (1: every hot bit cleared at every scan; 8; and
# the default, chosen from the working set, policy/engine.h). Prints per
# scan: the walk, the MADV_COLD, their sum per GiB and the pages cleared.
# Measured over SECS (default 20) after a 20 s warm-up: the program's first
# touches, the first clears (which also move every page to the inactive
# list, as a steady state has long done), and the default's choice, which
# climbs from 1 to 10 segments in ~9 s here (it moves only on a known working
# set, each segment's count after its clear).
#   bench/live/scan_clear.sh [MIB [SECS [WRITE_EVERY]]]
# WRITE_EVERY: pf-wl-seq's --write-every (default 0: the program only reads;
# 1: it also dirties every page).
# PF_BUILD=build dir (default build/). Exit 77 without root or swap.
case "${1:-}" in -h | --help)
	sed -n '2,/^# PF_BUILD/s/^# \{0,1\}//p' "$0"
	exit 0
	;;
esac
MIB=${1:-1024}
SECS=${2:-20}
WRITE=${3:-0}
for v in "$MIB" "$SECS" "$WRITE"; do
	case $v in '' | *[!0-9]*)
		echo "scan_clear.sh: '$v' is not a number (--help)" >&2
		exit 2
		;;
	esac
done
. "$(dirname "$0")/lib.sh"
WARM=20

stats() { ctl stats --json; }

# run LABEL [CLEAR_EVERY]: one agent, one workload; prints one table row.
run() {
	local label=$1 every=${2:-}
	{
		echo "version: 1"
		echo "defaults: {reclaim: kernel}"
		echo "rules:"
		echo "  - name: all-hot"
		echo "    match: {kind: anon, min_size: $((MIB / 2))M}"
		echo "    reclaim: lru"
		[ -n "$every" ] && echo "    params: {clear_every: $every}"
		echo "    threshold: {mode: budget, budget_pct: 100}"
	} >"$TMP/rules.yaml"
	agent_start "$TMP/rules.yaml" --scan-interval 500
	PAGEFLEX_SOCKET=$TMP/agent.sock LD_PRELOAD=$SHIM "$BLD/bin/pf-wl-seq" -s "$MIB" \
		-w "$WRITE" -p 1000000 -q >"$TMP/wl.out" 2>&1 &
	WL_PID=$!
	sleep "$WARM"
	stats >"$TMP/a.json"
	sleep "$SECS"
	stats >"$TMP/b.json"
	kill -9 "$WL_PID" 2>/dev/null
	wait "$WL_PID" 2>/dev/null || true
	WL_PID=
	agent_stop
	python3 - "$TMP/a.json" "$TMP/b.json" "$label" "$MIB" <<'EOF'
import json, sys
a, b = (json.load(open(f))["agent"] for f in sys.argv[1:3])
label, gib = sys.argv[3], int(sys.argv[4]) / 1024
scans = b["scans"] - a["scans"]
if scans <= 0:
    sys.exit(f"{label}: no scan in the window")
walk = (b["scan_ms"] - a["scan_ms"]) / scans / gib
cold = (b["madvise_COLD"]["cpu_ms"] - a["madvise_COLD"]["cpu_ms"]) / scans / gib
cleared = (b["pages_cooled"] - a["pages_cooled"]) / scans
print(f"{label:<22} {scans:>6} {walk:>10.2f} {cold:>10.2f} {walk + cold:>12.2f} "
      f"{cleared / (gib * 262144) * 100:>10.1f}%")
EOF
}

echo "all-hot ${MIB} MiB (write every ${WRITE}), scan every 500 ms, ${SECS} s after ${WARM} s of warm-up"
printf "%-22s %6s %10s %10s %12s %11s\n" clear_every scans "walk ms/G" "COLD ms/G" \
	"total ms/GiB" "cleared"
run "1 (every scan)" 1
run "8" 8
run "default (from the ws)"
