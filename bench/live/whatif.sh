#!/usr/bin/env bash
# bench/live/whatif.sh: record once, try policies offline. pf-wl-kv (a Zipf
# key-value store, 1 KiB values, 30% of its keys written once and never used
# again: --one-hit 30) runs under libpageflex.so and pageflexd with
# a cold-age rule; after it has loaded its data, `pageflexctl record` records
# it; pageflex-sim then replays that one recording under every rules file
# below: first the live rules with --compare (how well the replay matches
# what happened), then the others: a "what if" table of predicted pages
# paged out, refaults and memory saved per policy. Writes
# bench/results/whatif.md (or $PF_OUT) and prints it.
#   bench/live/whatif.sh [--quick]
# PF_BUILD=build dir (default build/). Exit 77 without root or swap.
. "$(dirname "$0")/lib.sh"

SIZE=256 SECS=30 WARM=5
if [ "${1:-}" = --quick ]; then
	SIZE=64 SECS=8 WARM=2
fi
OUT=${PF_OUT:-$REPO/bench/results/whatif.md}
SCAN_MS=500

# name|rule (the YAML of `defaults:`); the first one runs live.
POLICIES=(
	"cold-age 5 s (live)|{reclaim: cold-age, params: {cold_age_ms: 5000}, threshold: {mode: cold-age}}"
	"kernel (no agent policy)|{reclaim: kernel}"
	"cold-age 2 s|{reclaim: cold-age, params: {cold_age_ms: 2000}, threshold: {mode: cold-age}}"
	"cold-age 15 s|{reclaim: cold-age, params: {cold_age_ms: 15000}, threshold: {mode: cold-age}}"
	"lru, budget 50%|{reclaim: lru, threshold: {mode: budget, budget_pct: 50}}"
	"lru, budget 25%|{reclaim: lru, threshold: {mode: budget, budget_pct: 25}}"
	"lfu, budget 50%|{reclaim: lfu, params: {lfu_decay: 8}, threshold: {mode: budget, budget_pct: 50}}"
	"hyperbolic, budget 50%|{reclaim: hyperbolic, threshold: {mode: budget, budget_pct: 50}}"
	"lru, promotion 0.2%/min|{reclaim: lru, threshold: {mode: promotion, promotion_ppm: 2000, period_ms: 5000}}"
)
rules_file() { printf 'version: 1\ndefaults: %s\n' "${1#*|}" >"$2"; }

rules_file "${POLICIES[0]}" "$TMP/live.yaml"
agent_start "$TMP/live.yaml" --scan-interval "$SCAN_MS"
PAGEFLEX_SOCKET=$TMP/agent.sock LD_PRELOAD=$SHIM "$BLD/bin/pf-wl-kv" -s "$SIZE" -o 30 -n 4000000000 -q \
	>"$TMP/kv.out" 2>&1 &
WL_PID=$!
for _ in $(seq 500); do
	[ -n "$(ctl regions "$WL_PID" --json 2>/dev/null | python3 "$LIVE_DIR/regions.py" 2>/dev/null)" ] && break
	sleep 0.02
done
sleep "$WARM"
kill -0 "$WL_PID" || { cat "$TMP/kv.out"; echo "FAIL: pf-wl-kv died"; exit 1; }
ctl record "$WL_PID" "$TMP/kv.pftrace" "$SECS" >/dev/null
sleep "$SECS"
for _ in $(seq 100); do
	grep -q "done (time is up)" "$TMP/agent.log" && break
	sleep 0.1
done
ctl regions "$WL_PID" >"$TMP/live.regions"
kill "$WL_PID"
wait "$WL_PID" 2>/dev/null || true
WL_PID=
agent_stop
bytes=$(stat -c %s "$TMP/kv.pftrace")

"$SIM" --trace "$TMP/kv.pftrace" --rules "$TMP/live.yaml" --compare >"$TMP/compare.txt"
# row NAME: one table row from pageflex-sim's "total:" line.
row() {
	python3 - "$1" "$TMP/sim.txt" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
t = open(path).read()
m = re.search(r"refaults (\d+)\).*evictions (\d+).*avg resident (\d+) of (\d+) pages, saved ([-\d.]+)%", t)
ref, ev, res, foot, saved = m.groups()
print(f"| {name} | {int(ev) / 256:.1f} | {ref} | {int(res) / 256:.1f} | {saved}% |")
PY
}
{
	echo "# What if: one live recording, replayed under other policies"
	echo
	echo "\`bench/live/whatif.sh$([ "$SIZE" = 64 ] && echo " --quick")\`, $(date -u +%Y-%m-%d), kernel $(uname -r)."
	echo "pf-wl-kv -s $SIZE -o 30 (Zipf 0.99 key-value store, 1 KiB values, 30% one-hit keys) under libpageflex.so and"
	echo "pageflexd (scan every $SCAN_MS ms, live rule: ${POLICIES[0]#*|}), recorded for"
	echo "$SECS s after $WARM s of warm-up ($((bytes / 1024)) KiB of trace), then replayed by pageflex-sim:"
	echo
	echo "    pageflexctl record PID kv.pftrace $SECS"
	echo "    pageflex-sim --trace kv.pftrace --rules live.yaml --compare"
	echo "    pageflex-sim --trace kv.pftrace --rules other.yaml"
	echo
	echo "## The replay of the live rules against the live run"
	echo
	echo '```'
	sed -n '/^replay:/,$p' "$TMP/compare.txt"
	echo '```'
	echo
	echo "## Predicted, per policy (same recording)"
	echo
	echo "| policy | paged out (MiB) | refaults | avg resident (MiB) | saved |"
	echo "|---|---:|---:|---:|---:|"
	for p in "${POLICIES[@]}"; do
		rules_file "$p" "$TMP/p.yaml"
		"$SIM" --trace "$TMP/kv.pftrace" --rules "$TMP/p.yaml" >"$TMP/sim.txt"
		row "${p%%|*}"
	done
	echo
	echo "Saved: 1 - average resident / average touched pages of the replay (from the"
	echo "recorded residency at the start). Refaults: swap faults the policy would cause."
} >"$TMP/whatif.md"
distorted >>"$TMP/whatif.md" || true
cp "$TMP/whatif.md" "$OUT"
cat "$OUT"
