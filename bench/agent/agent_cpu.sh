#!/usr/bin/env bash
# Agent CPU time with N managed processes (default 10): starts pageflexd with
# cold-age T=2 s on regions tagged hot/cold, runs N copies of the demo
# workload (hot 16 MiB read every 200 ms, cold 64 MiB idle) under
# libpageflex.so (or self-registering without it), and prints the agent's
# CPU time from /proc (user + system, which includes the kernel work of
# process_madvise done on the agent's behalf) per second of wall time.
# Usage: bash bench/agent/agent_cpu.sh BUILD_DIR [N] [SECONDS]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-10}
SECS=${3:-20}
[ "$(id -u)" -eq 0 ] || { echo "agent_cpu: needs root" >&2; exit 1; }
bash "$(dirname "$0")/../../scripts/swap-setup.sh" >/dev/null
DIR=$(mktemp -d /tmp/pageflex-cpu.XXXXXX)
AGENT=
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$AGENT" ] && kill -TERM "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
# shellcheck source=SCRIPTDIR/../../scripts/lib/agent.sh
. "$(dirname "$0")/../../scripts/lib/agent.sh"
pf_agent_start "$BUILD/bin/pageflexctl" "$DIR/control.sock" "$DIR/agent.log" \
	"$BUILD/bin/pageflexd" -q --socket "$DIR/agent.sock" --control "$DIR/control.sock" \
	--cold-age cold=2 --cold-age hot=2 || exit 1
AGENT=$PF_AGENT_PID
CTL="$BUILD/bin/pageflexctl --socket $DIR/control.sock"
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$AGENT/stat"; }

REQ=$((SECS * 1000 / 200))
if [ -f "$BUILD/lib/libpageflex.so" ]; then
	ENVS=(env "LD_PRELOAD=$BUILD/lib/libpageflex.so" "PAGEFLEX_SOCKET=$DIR/agent.sock"); EXTRA=()
else
	ENVS=(env); EXTRA=(-r "$DIR/agent.sock")
fi
c0=$(cpu_ms); t0=$(date +%s.%N)
for i in $(seq "$N"); do
	"${ENVS[@]}" "$BUILD/bin/pageflex_demo_workload" -h 16 -c 64 -n "$REQ" -g 200 "${EXTRA[@]}" \
		>"$DIR/wl.$i" 2>&1 &
	PIDS+=($!)
done
sleep 2
$CTL status | head -1
for p in "${PIDS[@]}"; do wait "$p"; done
PIDS=()
c1=$(cpu_ms); t1=$(date +%s.%N)
STATS=$($CTL stats)
fails=$(grep -L '^@result ok' "$DIR"/wl.* | wc -l)
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v n="$N" 'BEGIN {
	printf "%d managed processes for %.1f s: agent CPU %.0f ms = %.1f ms/s (%.2f%% of one CPU)\n",
		n, t1 - t0, c1 - c0, (c1 - c0) / (t1 - t0), (c1 - c0) / (t1 - t0) / 10 }'
echo "$STATS" | CPU_MS=$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}') \
	SECS_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') python3 -c '
import os
import json, sys
a = json.load(sys.stdin)["agent"]
po, co = a["madvise_PAGEOUT"], a["madvise_COLD"]
print("  scans %d: %.1f ms in the scanner (%.3f ms per scan)" % (a["scans"], a["scan_ms"],
      a["scan_ms"] / max(a["scans"], 1)))
print("  PAGEOUT %.0f MiB in %d calls: %.0f ms; COLD %d calls: %.0f ms (CPU time in process_madvise)"
      % (po["bytes"] / 2**20, po["calls"], po["cpu_ms"], co["calls"], co["cpu_ms"]))
rest = float(os.environ["CPU_MS"]) - po["cpu_ms"] - co["cpu_ms"]
print("  agent CPU outside process_madvise (BPF upkeep, scans, policy, sockets): ~%.0f ms = %.1f ms/s"
      % (rest, rest / float(os.environ["SECS_WALL"])))'
[ "$fails" -eq 0 ] || { echo "agent_cpu: $fails workloads failed" >&2; exit 1; }
