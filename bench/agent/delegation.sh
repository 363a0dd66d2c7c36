#!/usr/bin/env bash
# bench/agent/delegation.sh: what delegating to pageflexd costs a program
# that never needs its memory paged, end to end: pf-first-touch (the first
# touch of GIB GiB, one region) in four configurations, interleaved, REPS
# times each (rotated order), on the same machine state:
#   none      no shim, no agent
#   shim      LD_PRELOAD=libpageflex.so, no agent listening
#   agent     shim + pageflexd, kernel policy on every region (the default:
#             the fault program is attached only while a managed region may
#             hold swapped pages, so here never)
#   agent-ft  the same with --count-first-touch (the fault program attached
#             all the time: what every fault paid before)
# Prints each configuration's median time per page, its ratio to the none
# run of the same repetition (median and [min..max] over repetitions), and
# the spread of its times.
#   bench/agent/delegation.sh [BUILD=build] [GIB=2] [REPS=7]
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BLD=$(cd "${1:-$REPO/build}" && pwd)
GIB=${2:-2}
REPS=${3:-7}
. "$REPO/scripts/lib/agent.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
TMP=$(mktemp -d /tmp/pf-deleg.XXXXXX)
AGENT=
trap '[ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null; rm -rf "$TMP"' EXIT
FT=$BLD/bin/pf-first-touch
SHIM=$BLD/lib/libpageflex.so

# run CONFIG: one run; appends "CONFIG ns_per_page" to $TMP/runs.
run() {
	local cfg=$1 env=() extra=()
	case $cfg in
	none) ;;
	shim) env=(LD_PRELOAD="$SHIM" PAGEFLEX_SOCKET="$TMP/nobody.sock") ;;
	agent | agent-ft)
		[ "$cfg" = agent-ft ] && extra=(--count-first-touch)
		rm -f "$TMP/a.sock" "$TMP/a.ctl"
		pf_agent_start "$BLD/bin/pageflexctl" "$TMP/a.ctl" "$TMP/agent.log" \
			"$BLD/bin/pageflexd" -s "$TMP/a.sock" --control "$TMP/a.ctl" \
			--policy '*=kernel' "${extra[@]}" || exit 1
		AGENT=$PF_AGENT_PID
		env=(LD_PRELOAD="$SHIM" PAGEFLEX_SOCKET="$TMP/a.sock")
		;;
	esac
	out=$(env "${env[@]}" "$FT" "$GIB")
	if [ -n "$AGENT" ]; then
		# the program must have been the agent's (its shim connected)
		"$BLD/bin/pageflexctl" --socket "$TMP/a.ctl" stats | grep -q '"shim_connections":[1-9]' ||
			{ echo "FAIL: pf-first-touch never connected to the agent" >&2; exit 1; }
		kill "$AGENT"
		wait "$AGENT" 2>/dev/null || true
		AGENT=
	fi
	echo "$cfg $(sed -n 's/.*ns_per_page=\([0-9.]*\).*/\1/p' <<<"$out")" >>"$TMP/runs"
}

CFGS=(none shim agent agent-ft)
for r in $(seq "$REPS"); do
	for k in $(seq 0 3); do
		run "${CFGS[$(((k + r) % 4))]}"
	done
	echo "rep $r/$REPS: $(tail -4 "$TMP/runs" | tr '\n' ' ')" >&2
done
python3 - "$TMP/runs" "$GIB" "$REPS" <<'PY'
import statistics as st, sys
runs, reps = {}, []
for i, line in enumerate(open(sys.argv[1])):
    c, v = line.split()
    runs.setdefault(c, []).append(float(v))
    if i % 4 == 0:
        reps.append({})
    reps[-1][c] = float(v)
base = st.median(runs["none"])
print(f"first touch of {sys.argv[2]} GiB, {sys.argv[3]} interleaved repetitions, ns per page")
print("(ratio: median over repetitions of the run / the none run of the same repetition)")
print(f"{'config':10} {'median':>8} {'ratio':>7} {'[min..max]':>15} {'spread':>7}")
for c in ("none", "shim", "agent", "agent-ft"):
    v = runs[c]
    m = st.median(v)
    r = [x[c] / x["none"] for x in reps]
    spread = (max(v) - min(v)) / 2 / m
    print(f"{c:10} {m:8.1f} {st.median(r):6.3f}x [{min(r):.3f}..{max(r):.3f}] ±{100 * spread:4.1f}%")
PY
