#!/usr/bin/env bash
# `make demo`: PageFlex end to end. Sets up PageFlex's zram swap, runs the
# bundled workload (a 64 MiB hot region read by every request, a 512 MiB
# cold region built once and read back at the end) once alone and once
# under LD_PRELOAD=libpageflex.so with pageflexd paging out regions idle for
# T = 2 s (cold-age). Prints per-region resident/swapped before and after,
# the refaults, and the workload's times with and without the agent.
# Usage: bash scripts/demo.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
BUILD=$(cd "$BUILD" && pwd)
T=${PAGEFLEX_DEMO_T:-2}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (BPF programs, swap set-up, process_madvise): run it as root" >&2
	exit 1
fi
for f in bin/pageflexd bin/pageflexctl bin/pageflex_demo_workload; do
	[ -x "$BUILD/$f" ] || { echo "demo: $BUILD/$f is missing: build first (make build)" >&2; exit 1; }
done

echo "== swap"
bash scripts/swap-setup.sh
bash scripts/swap-setup.sh --status | sed 's/^/   /'

DIR=$(mktemp -d /tmp/pageflex-demo.XXXXXX)
AGENT_PID=
PF_AGENT_PID= # set by pf_agent_start as soon as the agent runs
WL_PID=
cleanup() {
	[ -n "$WL_PID" ] && kill "$WL_PID" 2>/dev/null || true
	AGENT_PID=${AGENT_PID:-$PF_AGENT_PID}
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID"
		wait "$AGENT_PID" 2>/dev/null || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

# shellcheck source=SCRIPTDIR/lib/agent.sh
. scripts/lib/agent.sh
WL="$BUILD/bin/pageflex_demo_workload"
CTL="$BUILD/bin/pageflexctl --socket $DIR/control.sock"

echo
echo "== 1. the workload alone (no shim, no agent)"
BASE=$("$WL" | sed -n 's/^@result //p')
echo "   $BASE"

echo
echo "== 2. pageflexd with cold-age T=${T}s for regions tagged 'cold' and 'hot'"
pf_agent_start "$BUILD/bin/pageflexctl" "$DIR/control.sock" "$DIR/agent.log" \
	"$BUILD/bin/pageflexd" --socket "$DIR/agent.sock" --control "$DIR/control.sock" \
	--cold-age "cold=$T" --cold-age "hot=$T" || { PF_AGENT_PID=; exit 1; }
AGENT_PID=$PF_AGENT_PID
sed 's/^/   /' "$DIR/agent.log"

if [ -f "$BUILD/lib/libpageflex.so" ]; then
	echo "   workload runs under LD_PRELOAD=$BUILD/lib/libpageflex.so (regions named with pageflex_tag)"
	ENVS=(env "LD_PRELOAD=$BUILD/lib/libpageflex.so" "PAGEFLEX_SOCKET=$DIR/agent.sock")
	ARGS=(-p)
else
	echo "   no libpageflex.so in $BUILD/lib: the workload registers its regions itself"
	ENVS=(env)
	ARGS=(-p -r "$DIR/agent.sock")
fi

# Drive the workload phase by phase: it stops at each "@phase" line until we answer.
coproc WLP { "${ENVS[@]}" "$WL" "${ARGS[@]}"; }
WL_PID=$WLP_PID
# The agent must still run: if it died, its log and one line, then stop.
agent_ok() { pf_agent_running "$AGENT_PID" "$DIR/agent.log" || { AGENT_PID=''; PF_AGENT_PID=''; exit 1; }; }
show() {
	# The two demo regions of the workload, from the agent.
	agent_ok
	$CTL regions "$1" | awk -v t="$2" 'NR==1 {next} NR==2 || $2=="hot" || $2=="cold" {print "   " t $0}'
}
wait_scan() {
	# resident/swapped come from the agent's page-table scans: wait (<= 3 s)
	# until both regions have been scanned at least once more than $2
	local i
	for i in $(seq 30); do
		agent_ok
		$CTL regions "$1" 2>/dev/null | awk -v n="$2" '($2=="hot" || $2=="cold") && $11 > n {k++} END {exit k < 2}' && return
		sleep 0.1
	done
}
PID=
RESULT=
while IFS= read -r line <&"${WLP[0]}"; do
	case $line in
	"@pid "*)
		PID=$(echo "$line" | awk '{print $2}')
		echo "   workload pid $PID (shim: $(echo "$line" | awk '{print $4}'))"
		;;
	"@phase built")
		wait_scan "$PID" 0
		echo
		echo "== 3. regions after the build phase (everything resident)"
		show "$PID" ""
		echo "   serving requests on the hot region for ~6 s (cold idle)..."
		echo go >&"${WLP[1]}"
		;;
	"@phase served")
		echo
		echo "== 4. regions after serving: the idle cold region is paged out, the hot one is not"
		show "$PID" ""
		echo "   now reading the cold region back and verifying all data..."
		echo go >&"${WLP[1]}"
		;;
	"@phase verified")
		sleep 0.6 # resident/swapped are as of the agent's last scan (every T/4)
		echo
		echo "== 5. regions after the read-back: refaults = cold pages brought back from swap"
		show "$PID" ""
		echo go >&"${WLP[1]}"
		;;
	"@result "*)
		RESULT=${line#@result }
		;;
	esac
done
wait "$WL_PID" || { echo "demo: the workload failed" >&2; exit 1; }
WL_PID=

echo
echo "== 6. agent totals"
$CTL status | sed -n '1,2p' | sed 's/^/   /'
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || { echo "demo: pageflexd did not stop cleanly" >&2; exit 1; }
AGENT_PID=''
PF_AGENT_PID=''
tail -n 2 "$DIR/agent.log" | sed 's/^/   /'

echo
echo "== result"
echo "   without the agent: $BASE"
echo "   with the agent:    $RESULT"
case $RESULT in ok*) ;; *) echo "demo: workload result not ok" >&2; exit 1 ;; esac
echo "   (the work phase reads only the hot region; the agent's scans clear its accessed"
echo "    bits with MADV_COLD every second, which costs each re-touched page a trap on"
echo "    some hypervisors (~7 us here), so it can be slower; the total with the agent"
echo "    includes swapping the 512 MiB cold region back in from zram)"
