#!/usr/bin/env bash
# Runs one real-program case (a CASE.sh next to this file) three times and
# requires byte-identical stdout and stderr from all three:
#   plain  no LD_PRELOAD
#   shim   LD_PRELOAD=LIB, PAGEFLEX_SOCKET pointing at nothing (no agent)
#   agent  LD_PRELOAD=LIB, an agent listening on PAGEFLEX_SOCKET (if there is one)
#   hung   (cases that set CASE_HUNG_AGENT=1) LD_PRELOAD=LIB, an agent that
#          listens but never accepts or reads: the program must not wait for it
#   paged  (cases that set CASE_PAGED=1; root, swap) LD_PRELOAD=LIB under the
#          real pageflexd with a 2 s cold age: idle memory is paged out while
#          the program runs (the case calls paged_pause where it idles), and
#          pageflexd must really have paged something out
# Every run happens in the same working directory path, so paths that end up in
# the output are the same. The library is a parameter, so the harness itself
# can be checked against plain libjemalloc.so.2.
#
#   compare.sh --lib LIB [--agent SINK_AGENT] [--expect-events]
#              [--pageflexd PAGEFLEXD] CASE.sh
#
# --agent: a pageflex-sink-agent binary (validates every packet; a malformed
# one fails the test). --expect-events: the agent must have seen at least one
# shim connect (use it with the real libpageflex.so, not with a stand-in).
# A case script defines case_check (prints a reason and returns 1 to skip)
# and case_run (runs the programs through `under_test`, which adds the
# LD_PRELOAD of the current mode and a time limit); optionally case_cleanup
# (after every mode and on exit), CASE_MIN_MAP_BYTES (with --expect-events,
# the agent must have seen at least that many bytes mapped) and
# CASE_HUNG_AGENT=1 (add the hung-agent run), CASE_PAGED=1 (add the paged
# run; the case calls paged_pause MIB SECONDS where the program sits idle).
set -euo pipefail
unset LD_PRELOAD PAGEFLEX_LOG

LIB= AGENT= EXPECT_EVENTS=0 PAGEFLEXD=
while [ $# -gt 1 ]; do
	case $1 in
	--lib) LIB=$2; shift ;;
	--agent) AGENT=$2; shift ;;
	--expect-events) EXPECT_EVENTS=1 ;;
	--pageflexd) PAGEFLEXD=$2; shift ;;
	*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
CASE=${1:?usage: compare.sh --lib LIB [--agent BIN] [--expect-events] CASE.sh}
HERE=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$CASE" .sh)

[ -n "$LIB" ] || { echo "compare.sh: --lib is required" >&2; exit 2; }
[ -e "$LIB" ] || { echo "SKIP: $LIB is not built"; exit 77; }
LIB=$(realpath "$LIB") # the programs run in another directory
[ -z "$AGENT" ] || AGENT=$(realpath -m "$AGENT")
if [ -n "$AGENT" ] && [ ! -x "$AGENT" ]; then
	echo "note: agent $AGENT not built; the agent run is skipped"
	AGENT=
fi

# One time limit per program run, so a hang under the shim fails the test
# with a clear message instead of hitting CTest's timeout.
PF_STEP_TIMEOUT=${PF_STEP_TIMEOUT:-150}
PF_PRELOAD=
under_test() {
	local rc=0
	timeout -k 5 "$PF_STEP_TIMEOUT" env ${PF_PRELOAD:+"LD_PRELOAD=$PF_PRELOAD"} "$@" || rc=$?
	[ $rc -eq 124 ] || [ $rc -eq 137 ] &&
		echo "$name: '$*' timed out after ${PF_STEP_TIMEOUT}s (mode $MODE)" >&2
	return $rc
}

TMP=$(mktemp -d /tmp/pageflex-real.XXXXXX)
WORK=$TMP/work
agent_pid= pfd_pid=
case_cleanup() { :; }
cleanup() {
	case_cleanup
	for p in $agent_pid $pfd_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=/dev/null
source "$CASE"
if ! reason=$(case_check); then
	echo "SKIP: $reason"
	exit 77
fi

start_agent() {
	"$AGENT" --socket "$PAGEFLEX_SOCKET" --stats "$TMP/agent.stats" "$@" >"$TMP/agent.out" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do grep -q ready "$TMP/agent.out" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$TMP/agent.out" || { echo "FAIL: agent did not start"; cat "$TMP/agent.out"; exit 1; }
}

stop_agent() {
	local rc=0
	kill "$agent_pid"
	wait "$agent_pid" || rc=$?
	agent_pid=
	echo "agent: $(tr '\n' ' ' <"$TMP/agent.stats")"
	[ $rc -eq 0 ] || { echo "FAIL: the agent received malformed packets or a wrong pid (exit $rc)"; exit 1; }
	[ "$MODE" = agent ] || return 0 # a hung agent may have seen nothing
	if [ $EXPECT_EVENTS = 1 ] && [ "$(awk '$1 == "hello" {print $2}' "$TMP/agent.stats")" -lt 1 ]; then
		echo "FAIL: no shim connected to the agent at $PAGEFLEX_SOCKET"
		exit 1
	fi
	if [ $EXPECT_EVENTS = 1 ] && [ -n "${CASE_MIN_MAP_BYTES:-}" ] &&
		[ "$(awk '$1 == "map_bytes" {print $2}' "$TMP/agent.stats")" -lt "$CASE_MIN_MAP_BYTES" ]; then
		echo "FAIL: the agent saw fewer than $CASE_MIN_MAP_BYTES bytes of regions mapped"
		exit 1
	fi
}

# The paged run: pageflexd pages out what has been idle for 2 s.
PF_CONTROL=$TMP/pf-control.sock
[ -z "$PAGEFLEXD" ] || PAGEFLEXD=$(realpath -m "$PAGEFLEXD")
PAGEFLEXCTL=$(dirname "${PAGEFLEXD:-.}")/pageflexctl
paged_out_mib() {
	"$PAGEFLEXCTL" -s "$PF_CONTROL" status 2>/dev/null | sed -n 's/^paged out \([0-9.]*\) MiB.*/\1/p'
}
# paged_pause MIB SECONDS: in the paged run, wait until pageflexd has paged
# out MIB MiB (or SECONDS have passed); elsewhere do nothing. Prints nothing.
paged_pause() {
	[ "$MODE" = paged ] || return 0
	for _ in $(seq $(($2 * 10))); do
		awk -v m="$(paged_out_mib)" -v w="$1" 'BEGIN {exit !(m + 0 >= w)}' && return 0
		sleep 0.1
	done
}
# shellcheck source=SCRIPTDIR/../../../scripts/lib/agent.sh
. "${PAGEFLEX_SOURCE_DIR:-$HERE/../../..}/scripts/lib/agent.sh"
start_pageflexd() {
	local ok=0
	pf_agent_start "$PAGEFLEXCTL" "$PF_CONTROL" "$TMP/pageflexd.out" \
		"$PAGEFLEXD" -s "$PAGEFLEX_SOCKET" --control "$PF_CONTROL" -q --cold-age '*=2' -i 500 || ok=1
	pfd_pid=$PF_AGENT_PID
	[ $ok = 0 ] || { pfd_pid=; exit 1; }
}
stop_pageflexd() {
	local mib
	mib=$(paged_out_mib)
	kill "$pfd_pid"
	wait "$pfd_pid" || true
	pfd_pid=
	echo "pageflexd: paged out ${mib:-?} MiB; $(grep -c warning "$TMP/pageflexd.out") warnings"
	awk -v m="$mib" 'BEGIN {exit !(m + 0 > 0)}' ||
		{ echo "FAIL: pageflexd paged nothing out: the paged run tested nothing"; exit 1; }
}
paged_check() {
	[ -n "$PAGEFLEXD" ] || { echo "no --pageflexd"; return 1; }
	[ -x "$PAGEFLEXD" ] && [ -x "$PAGEFLEXCTL" ] || { echo "pageflexd is not built"; return 1; }
	[ "$(id -u)" = 0 ] || { echo "pageflexd needs root"; return 1; }
	if [ "$(wc -l </proc/swaps)" -lt 2 ]; then
		local src=${PAGEFLEX_SOURCE_DIR:-$HERE/../../..}
		bash "$src/scripts/swap-setup.sh" >&2 || true
		[ "$(wc -l </proc/swaps)" -ge 2 ] || { echo "no swap (scripts/swap-setup.sh failed)"; return 1; }
	fi
}

modes=(plain shim)
[ -n "$AGENT" ] && modes+=(agent)
[ -n "$AGENT" ] && [ "${CASE_HUNG_AGENT:-0}" = 1 ] && modes+=(hung)
if [ "${CASE_PAGED:-0}" = 1 ]; then
	if why=$(paged_check); then modes+=(paged); else echo "note: the paged run is skipped: $why"; fi
fi
mkdir -p "$TMP/out"
for MODE in "${modes[@]}"; do
	rm -rf "$WORK"
	mkdir -p "$WORK"
	case $MODE in
	plain) PF_PRELOAD= ;;
	shim) PF_PRELOAD=$LIB; export PAGEFLEX_SOCKET=$TMP/no-agent.sock ;;
	agent) PF_PRELOAD=$LIB; export PAGEFLEX_SOCKET=$TMP/agent.sock; start_agent ;;
	hung) PF_PRELOAD=$LIB; export PAGEFLEX_SOCKET=$TMP/hung.sock; start_agent --stall ;;
	paged) PF_PRELOAD=$LIB; export PAGEFLEX_SOCKET=$TMP/pf.sock; start_pageflexd ;;
	esac
	t0=$EPOCHREALTIME
	rc=0
	(cd "$WORK" && case_run) >"$TMP/out/$MODE.out" 2>"$TMP/out/$MODE.err" || rc=$?
	case_cleanup
	printf '%s: %-5s %5.1fs exit %d, %d lines\n' "$name" "$MODE" \
		"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}')" $rc "$(wc -l <"$TMP/out/$MODE.out")"
	[ -n "$agent_pid" ] && stop_agent
	[ -n "$pfd_pid" ] && stop_pageflexd
	echo "$rc" >"$TMP/out/$MODE.rc"
done

status=0
[ "$(cat "$TMP/out/plain.rc")" = 0 ] || {
	echo "FAIL: the case fails even without the shim (exit $(cat "$TMP/out/plain.rc")):"
	tail -20 "$TMP/out/plain.err"
	exit 1
}
for MODE in "${modes[@]:1}"; do
	for s in rc out err; do
		if ! cmp -s "$TMP/out/plain.$s" "$TMP/out/$MODE.$s"; then
			echo "FAIL: $name: $s differs between plain and $MODE (LD_PRELOAD=$LIB):"
			diff -u --label plain --label "$MODE" "$TMP/out/plain.$s" "$TMP/out/$MODE.$s" | head -40
			status=1
		fi
	done
done
[ $status = 0 ] && echo "$name: byte-identical output in ${modes[*]} ($(wc -c <"$TMP/out/plain.out") bytes)"
exit $status
