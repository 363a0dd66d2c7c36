#!/usr/bin/env bash
# SIGKILL of pageflexd under the real shim (issue 4 acceptance): a workload
# runs under LD_PRELOAD=libpageflex.so with regions tagged hot and cold; the
# agent is killed with SIGKILL mid-run; the workload keeps running and its
# checksums stay right; a restarted agent learns its regions again from the
# shim's replay and pages the idle cold region out. Exit 77 = skipped.
set -euo pipefail
B=${PAGEFLEX_BUILD_DIR:?}
S=${PAGEFLEX_SOURCE_DIR:?}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (BPF, swap)"; exit 77; }
[ -f "$B/lib/libpageflex.so" ] || { echo "skipped: $B/lib/libpageflex.so not built"; exit 77; }
bash "$S/scripts/swap-setup.sh" >/dev/null

D=$(mktemp -d /tmp/pf-shim-restart.XXXXXX)
AGENT=
WPID=
cleanup() {
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null || true
	[ -n "$AGENT" ] && kill -9 "$AGENT" 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
CTL="$B/bin/pageflexctl --socket $D/control.sock"
# shellcheck source=SCRIPTDIR/../../../scripts/lib/agent.sh
. "$S/scripts/lib/agent.sh"
start_agent() {
	local ok=0
	pf_agent_start "$B/bin/pageflexctl" "$D/control.sock" "$D/agent.log" \
		"$B/bin/pageflexd" -v --socket "$D/agent.sock" --control "$D/control.sock" \
		--cold-age cold=1 --cold-age hot=1 || ok=1
	AGENT=$PF_AGENT_PID
	[ $ok = 0 ] || { AGENT=; exit 1; }
}
# field FIELD of the region tagged TAG of pid $PID (JSON), or nothing
field() {
	$CTL regions "$PID" --json 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)
for r in p["regions"]:
    if r["tag"] == sys.argv[1]:
        print(r[sys.argv[2]] if sys.argv[2] in r else p[sys.argv[2]]); break' "$1" "$2" 2>/dev/null || true
}
wait_for() { # wait_for SECONDS COMMAND...
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}
learned() { [ -n "$(field cold id)" ]; }
replayed() { [ "$(field cold replayed)" = "True" ]; }
cold_out() { [ "$(field cold swapped)" -gt $((100 << 20)) ] 2>/dev/null; }

start_agent
coproc WL { env LD_PRELOAD="$B/lib/libpageflex.so" PAGEFLEX_SOCKET="$D/agent.sock" \
	"$B/bin/pageflex_demo_workload" -p -h 16 -c 128 -n 40 -g 100; }
WPID=$WL_PID
read -r line <&"${WL[0]}"; PID=$(echo "$line" | awk '{print $2}')
read -r line <&"${WL[0]}"; [ "$line" = "@phase built" ] || { echo "FAIL: got '$line'"; exit 1; }
wait_for 5 learned || { echo "FAIL: the agent never saw region 'cold'"; exit 1; }
echo "agent learned the regions of pid $PID; killing it with SIGKILL"
kill -9 "$AGENT"; wait "$AGENT" 2>/dev/null || true; AGENT=
echo go >&"${WL[1]}" # the workload serves its requests without an agent
sleep 1
start_agent
wait_for 5 learned || { echo "FAIL: the restarted agent did not learn region 'cold'"; exit 1; }
wait_for 1 replayed || { echo "FAIL: the shim's HELLO was not a replay"; exit 1; }
echo "restarted agent learned the regions again (replayed)"
wait_for 6 cold_out || { echo "FAIL: the restarted agent did not page the cold region out"; exit 1; }
echo "restarted agent paged out $(( $(field cold swapped) >> 20 )) MiB of the idle cold region"
read -r line <&"${WL[0]}"; [ "$line" = "@phase served" ] || { echo "FAIL: got '$line'"; exit 1; }
echo go >&"${WL[1]}"
read -r line <&"${WL[0]}"; [ "$line" = "@phase verified" ] || { echo "FAIL: got '$line'"; exit 1; }
echo go >&"${WL[1]}"
read -r line <&"${WL[0]}"
case $line in
"@result ok"*) echo "workload: ${line#@result }" ;;
*) echo "FAIL: workload: $line"; exit 1 ;;
esac
wait "$WPID"; WPID=
kill -TERM "$AGENT"; wait "$AGENT"; AGENT=
echo PASS
