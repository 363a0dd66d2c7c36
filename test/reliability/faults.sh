#!/usr/bin/env bash
# Fault injection: the agent is killed, stopped, slowed, restarted or denied
# while pf-integrity runs under the shim with heavy paging (agent cold-age of
# 1 s, the workload's own PAGEOUT/WILLNEED thread, mremap/realloc churn that
# keeps the shim's event stream busy). In every case the workload must finish
# on time with every byte intact, and the agent must recover, or degrade with
# a log line and a counter that says so.
#
# Usage: faults.sh [-d SECONDS] [CASE...]
#   cases: kill9-restart stop-cont slow gone socket-full ringbuf-full eperm exited
#          swap-full
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rel_init root agent shim rogue swap

D=6 # run seconds; the cases that stop or restart the agent run at least 6
if [ "${1:-}" = -d ]; then
	D=$2
	shift 2
fi
DLONG=$((D > 6 ? D : 6))
cases=("$@")
[ ${#cases[@]} -gt 0 ] ||
	cases=(kill9-restart stop-cont slow gone socket-full ringbuf-full eperm exited swap-full)
AGENT_ARGS=(--cold-age '*=1' --scan-interval 200)
WD=
bad=0
summary=()

# wl_start [extra pf-integrity options]: the workload, in the background.
wl_start() {
	WOUT=$rel_tmp/wl.$1.out
	WD=${WD:-$D}
	shift
	PAGEFLEX_SOCKET="$rel_tmp/agent.sock" LD_PRELOAD="$SHIM" "$PFINT" -s 256 -r 32 -t 2 -d "$WD" -H 90 -P 20 -c 20 -q "$@" >"$WOUT" 2>&1 &
	WPID=$!
	track $WPID
}

# wl_check CASE: finished in time (its own fill + run + verify), every byte
# intact. A workload that waited for the agent would show it in run_s.
wl_check() {
	local rc=0 res took limit
	wait "$WPID" || rc=$?
	res=$(grep '^RESULT' "$WOUT" || true)
	took=$(awk -v a="$(field fill_s "$res")" -v b="$(field run_s "$res")" \
		-v c="$(field verify_s "$res")" 'BEGIN {printf "%d", a + b + c + 0.999}')
	limit=$((WD + 5))
	WD=
	if [ $rc -ne 0 ] || [ "$(field ok "$res")" != 1 ]; then
		echo "FAIL: $1: workload exit $rc: $(grep -E '^(MISMATCH|pf-integrity)' "$WOUT" | head -5)"
		bad=1
		return 1
	fi
	if [ "$took" -gt "$limit" ]; then
		echo "FAIL: $1: workload took ${took}s for a ${WD}s run: it waited for the agent"
		bad=1
		return 1
	fi
	summary+=("$1: ok, $(field bytes_verified "$res") bytes verified, run_s=$(field run_s "$res")")
	WD=
	return 0
}

# registered PID: the agent manages PID with at least one region.
registered() {
	REG_INFO=$(json "' '.join('%d regions, replayed=%s' % (len(p['regions']), p['replayed']) for p in j['processes'] if p['pid'] == $1 and p['regions'])" 2>/dev/null || true)
	[ -n "$REG_INFO" ]
}

agent_alive() {
	kill -0 "$AGENT_PID" 2>/dev/null && ctl status >/dev/null 2>&1
}

case_kill9_restart() {
	agent_start "${AGENT_ARGS[@]}"
	WD=$DLONG
	wl_start kill9
	wait_for 10 registered "$WPID" || fail "kill9: the workload never registered"
	sleep 1.5
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	sleep 0.5
	agent_start "${AGENT_ARGS[@]}"
	if wait_for 5 registered "$WPID"; then
		note "kill9: restarted agent relearned pid $WPID: $REG_INFO"
	else
		echo "FAIL: kill9: the restarted agent did not relearn the workload's regions in 5 s"
		bad=1
	fi
	wl_check kill9-restart || true
	agent_stop || true
}

case_stop_cont() {
	agent_start "${AGENT_ARGS[@]}"
	WD=$DLONG
	wl_start stop
	wait_for 10 registered "$WPID" || fail "stop-cont: the workload never registered"
	sleep 1
	kill -STOP "$AGENT_PID"
	sleep 3
	kill -CONT "$AGENT_PID"
	if wait_for 5 registered "$WPID"; then
		note "stop-cont: agent answers and still manages pid $WPID after a 3 s stop"
	else
		echo "FAIL: stop-cont: after SIGCONT the agent lost the workload"
		bad=1
	fi
	wl_check stop-cont || true
	agent_alive || { echo "FAIL: stop-cont: agent dead"; bad=1; }
	note "stop-cont: shim-side losses: $(json "j['agent']['shim_bad_packets']") bad packets; log: $(grep -Eci 'drop|lost' "$rel_tmp/agent.log") drop/lost lines"
	agent_stop || true
}

case_slow() { # stopped half the time, in 150 ms slices
	agent_start "${AGENT_ARGS[@]}"
	wl_start slow
	local end=$((SECONDS + D))
	while [ $SECONDS -lt $end ] && kill -0 "$WPID" 2>/dev/null; do
		kill -STOP "$AGENT_PID"
		sleep 0.15
		kill -CONT "$AGENT_PID"
		sleep 0.15
	done
	wl_check slow || true
	agent_alive || { echo "FAIL: slow: agent dead"; bad=1; }
	agent_stop || true
}

case_gone() { # the agent exits for good mid-run: the app runs on unmanaged
	agent_start "${AGENT_ARGS[@]}"
	wl_start gone
	sleep 2
	agent_stop || true
	wl_check gone || true
}

case_ringbuf_full() { # agent stopped while faults stream in: drops counted
	agent_start "${AGENT_ARGS[@]}" --stream-first-touch
	wl_start ringbuf -P 2
	wait_for 10 registered "$WPID" || fail "ringbuf: the workload never registered"
	kill -STOP "$AGENT_PID"
	sleep 3
	kill -CONT "$AGENT_PID"
	sleep 0.5
	local drops
	drops=$(json "j['agent']['ringbuf_dropped']")
	wl_check ringbuf-full || true
	if [ "${drops:-0}" -gt 0 ]; then
		note "ringbuf-full: ${drops} fault events dropped and counted (stats ringbuf_dropped)"
		agent_logged 'ring' ||
			note "ringbuf-full: NOTE: no log line mentions the drops (counter only)"
	else
		note "ringbuf-full: the ring buffer did not overflow in 3 s (nothing to count)"
	fi
	agent_alive || { echo "FAIL: ringbuf-full: agent dead"; bad=1; }
	agent_stop || true
}

case_eperm() { # process_madvise refused: the agent lacks CAP_SYS_NICE
	agent_start_cmd setpriv --bounding-set -sys_nice --inh-caps -sys_nice \
		"$PFD" -s "$rel_tmp/agent.sock" --control "$rel_tmp/control.sock" "${AGENT_ARGS[@]}"
	wl_start eperm
	sleep 3
	local errs
	errs=$(json "j['agent']['madvise_PAGEOUT']['errors'] + j['agent']['madvise_COLD']['errors']")
	wl_check eperm || true
	if [ "${errs:-0}" -eq 0 ]; then
		echo "FAIL: eperm: no process_madvise error counted without CAP_SYS_NICE"
		bad=1
	elif ! agent_logged 'Operation not permitted|EPERM|permission'; then
		echo "FAIL: eperm: $errs errors counted, but no log line says why"
		bad=1
	else
		note "eperm: $errs refused process_madvise calls counted; log: $(grep -Ei 'not permitted|EPERM|permission' "$rel_tmp/agent.log" | head -1)"
	fi
	agent_alive || { echo "FAIL: eperm: agent dead"; bad=1; }
	agent_stop || true
}

case_exited() { # clients exit while the agent pages them out
	agent_start "${AGENT_ARGS[@]}" --scan-interval 50
	wl_start exited
	local i
	for i in $(seq 20); do
		"$PFROGUE" -s "$rel_tmp/agent.sock" self 8 $((1 + i % 2)) >/dev/null &
		track $!
		sleep 0.1
	done
	wait_for 10 bash -c "! pgrep -f 'pf-rogue self' >/dev/null" || true
	wl_check exited || true
	agent_alive || { echo "FAIL: exited: agent dead"; bad=1; }
	note "exited: madvise errors $(json "j['agent']['madvise_PAGEOUT']['errors']"), processes still listed $(json "len([p for p in j['processes'] if 'rogue' in p['exe']])")"
	agent_stop || true
}

# Socket full: an mmap/munmap churn (~100k region events/s) under the shim
# while the agent is stopped the whole time, so its socket fills at once.
# The program must give the same checksum and must not wait for the agent:
# its time per operation is compared with a run beside a running agent.
case_socket_full() {
	local micro=$rel_bld/bin/pageflex-micro a b ra rb
	[ -x "$micro" ] || { note "socket-full: $micro not built: not run"; return; }
	agent_start "${AGENT_ARGS[@]}"
	a=$(under_shim "$micro" mmap-large --ops 20000)
	kill -STOP "$AGENT_PID"
	b=$(PAGEFLEX_LOG=debug under_shim "$micro" mmap-large --ops 20000 2>"$rel_tmp/shim.log")
	kill -CONT "$AGENT_PID"
	ra=$(sed -n 's/.*ns_per_op \([0-9.]*\).*/\1/p' <<<"$a")
	rb=$(sed -n 's/.*ns_per_op \([0-9.]*\).*/\1/p' <<<"$b")
	local ca cb
	ca=$(sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p' <<<"$a")
	cb=$(sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p' <<<"$b")
	if [ -z "$cb" ] || [ "$ca" != "$cb" ]; then
		echo "FAIL: socket-full: output differs with the agent stopped: '$a' vs '$b'"
		bad=1
	fi
	if awk -v a="$ra" -v b="$rb" 'BEGIN {exit !(b > 2 * a)}'; then
		echo "FAIL: socket-full: ${rb} ns/op with the agent stopped vs ${ra} running: the program waited"
		bad=1
	fi
	summary+=("socket-full: same checksum; ${rb} ns/op with the agent stopped vs ${ra} running;" \
		"shim: $(grep -Eo '[0-9]+ events lost[^,]*' "$rel_tmp/shim.log" | head -1 || echo 'no loss reported')")
	agent_alive || { echo "FAIL: socket-full: agent dead"; bad=1; }
	agent_stop || true
}

# Swap full: a 64 MiB zram of our own whose memory is capped at 4 MiB, so
# writes to it fail once 4 MiB are stored (zram exhausted). Pages paged out
# to it must stay in memory, intact.
case_swap_full() {
	local st=$rel_tmp/swapstate dev failed
	mkdir -p "$st"
	PAGEFLEX_STATE_DIR=$st PAGEFLEX_ZRAM_SIZE=64M "$rel_src/scripts/swap-setup.sh" ||
		{ note "swap-full: could not create a private zram: not run"; return; }
	dev=$(sed -n 's/^zram=//p' "$st/swap.state")
	echo 4M >"/sys/block/$dev/mem_limit"
	# Our device first: swap-outs go to it until its memory runs out, and
	# then fail (the machine's other swap takes over once it is full). Other
	# processes' swap-outs may fail too for these few seconds: no data is
	# lost, a failed write keeps the page in memory.
	swapoff "/dev/$dev"
	swapon -p 32767 "/dev/$dev"
	agent_start "${AGENT_ARGS[@]}"
	wl_start swapfull
	wl_check swap-full || true
	failed=$(awk '{print $2}' "/sys/block/$dev/io_stat")
	if [ "$failed" -eq 0 ]; then
		echo "FAIL: swap-full: no write to the exhausted zram failed: the case tested nothing"
		bad=1
	fi
	note "swap-full: /dev/$dev (64 MiB, 4 MiB memory cap): $failed failed writes, $(awk '{print $3}' "/sys/block/$dev/mm_stat") bytes used"
	agent_alive || { echo "FAIL: swap-full: agent dead"; bad=1; }
	agent_stop || true
	PAGEFLEX_STATE_DIR=$st "$rel_src/scripts/swap-setup.sh" --teardown ||
		echo "FAIL: swap-full: could not remove /dev/$dev"
}

for c in "${cases[@]}"; do
	: >"$rel_tmp/agent.log"
	"case_${c//-/_}"
done
printf '%s\n' "${summary[@]}"
[ $bad -eq 0 ] || fail "see above"
note "OK: ${cases[*]}"
