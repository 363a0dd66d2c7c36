#!/usr/bin/env bash
# Scale: N managed processes (pf-integrity under the shim, R regions each,
# their own PAGEOUT thread so that they fault all the time) under one agent
# with cold-age reclaim. While all of them run, the agent's per-region fault
# counters are sampled twice, WINDOW_S apart: the difference is the fault events the agent
# took in, per minute. Prints processes, regions, fault events per minute,
# ring-buffer events dropped, the agent's CPU and memory; every workload must
# verify every byte, the agent must hold every process and region.
#
# Each workload rewrites W units a second (so 50 of them do not simply starve
# the agent of CPU) while its own thread pages its memory out every 5 ms,
# from when all are registered (--start-on-usr1) to the end of the window.
#
# Usage: scale.sh [-n PROCS] [-r REGIONS_EACH] [-d WINDOW_S] [-w WRITES_PER_S]
#                 [--min-per-min N] [--agent-nice NICE]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rel_init root agent shim swap

N=50 R=290 D=10 W=1500 MIN_PER_MIN=1000000 NICE=0
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift ;;
	-r) R=$2; shift ;;
	-d) D=$2; shift ;;
	-w) W=$2; shift ;;
	--agent-nice) NICE=$2; shift ;;
	--min-per-min) MIN_PER_MIN=$2; shift ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
size=$(((R * 64 + 1023) / 1024 + 4)) # MiB: at least 64 KiB per region

agent_start --cold-age '*=2' --count-first-touch # every fault: the load measured
renice -n "$NICE" -p "$AGENT_PID" >/dev/null
c_start=$(json "j['agent']['cpu_user_ms'] + j['agent']['cpu_sys_ms']")
pids=()
t_launch=$SECONDS
for i in $(seq "$N"); do
	PAGEFLEX_SOCKET="$rel_tmp/agent.sock" LD_PRELOAD="$SHIM" "$PFINT" -s "$size" -r "$R" -t 1 \
		-d 3600 -w "$W" -P 5 -H 50 -c 0 -S "$i" -q --start-on-usr1 >"$rel_tmp/wl.$i" 2>&1 &
	pids+=($!)
	track $!
done

# sample: "time_s processes regions fault_events ringbuf_dropped cpu_ms"
# (refaults = swapin_major + swapcache_hits: counted once, as refaults)
sample() {
	json "'%.3f %d %d %d %d %.1f' % (__import__('time').monotonic(), len(j['processes']), sum(len(p['regions']) for p in j['processes']), sum(r['first_touch'] + r['refaults'] + r['other_major'] + r['present_faults'] + r['unclassified'] for p in j['processes'] for r in p['regions']), j['agent']['ringbuf_dropped'], j['agent']['cpu_user_ms'] + j['agent']['cpu_sys_ms'])"
}
# The fault counters by kind, summed over every region (one line).
kinds() {
	json "' '.join('%s=%d' % (k, sum(r[k] for p in j['processes'] for r in p['regions'])) for k in ('first_touch', 'refaults', 'swapin_major', 'swapcache_hits', 'other_major', 'present_faults', 'unclassified'))"
}
# Wait until every process is registered with its regions, then measure.
wait_for 20 bash -c "[ \$(PAGEFLEX_BUILD_DIR='$rel_bld' '$PFCTL' -s '$rel_tmp/control.sock' stats --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"processes\"]))') -ge $N ]" ||
	note "only $(json "len(j['processes'])") of $N processes registered in 20 s"
note "all $N processes registered after $((SECONDS - t_launch)) s ($SECONDS s since the start)"
# Then all of them start writing and paging at once: registering 10,000
# regions while 50 of them already saturated both cores took 95-100 s on a
# machine build where a fault costs 10 us.
kill -USR1 "${pids[@]}"
sleep 2
read -r t0 p0 r0 f0 d0 c0 <<<"$(sample)"
k0=$(kinds)
mj0=$(awk '/^pgmajfault/ {print $2}' /proc/vmstat)
sleep "$D"
read -r t1 p1 r1 f1 d1 c1 <<<"$(sample)"
k1=$(kinds)
mj1=$(awk '/^pgmajfault/ {print $2}' /proc/vmstat)
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status")

note "window measured by $SECONDS s since the start"
bad=0
kill -TERM "${pids[@]}" 2>/dev/null || true # ends their run; each still checks every byte
for i in $(seq "$N"); do
	wait "${pids[i - 1]}" || true
	grep -q '^RESULT.* ok=1 ' "$rel_tmp/wl.$i" || {
		echo "FAIL: workload $i: $(grep -E '^(RESULT|MISMATCH|pf-integrity)' "$rel_tmp/wl.$i" | head -3)"
		bad=1
	}
done
note "all $N workloads checked their bytes and exited by $SECONDS s since the start"
verified=$(sed -n 's/.* bytes_verified=\([0-9]*\).*/\1/p' "$rel_tmp"/wl.* | awk '{s += $1} END {print s + 0}')
python3 - "$t0" "$t1" "$f0" "$f1" "$d0" "$d1" "$c0" "$c1" "$mj0" "$mj1" "$p1" "$r1" "$rss" "$verified" "$c_start" "$NICE" <<'EOF' | tee "$rel_tmp/scale.txt"
import sys
t0, t1, f0, f1, d0, d1, c0, c1, mj0, mj1, p, r, rss, ver, cs, NICE = map(float, sys.argv[1:])
dt = t1 - t0
print(f"scale: {int(p)} processes, {int(r)} regions managed")
print(f"scale: {(f1 - f0) / dt * 60:,.0f} fault events/min taken in by the agent"
      f" ({(mj1 - mj0) / dt * 60:,.0f} major faults/min machine-wide)")
print(f"scale: ring buffer dropped {int(d1 - d0)} events in {dt:.1f} s ({int(d1)} since start)")
print(f"scale: agent nice {NICE:.0f}, CPU {(c1 - c0) / dt / 10:.1f}% of one core while measuring, RSS {rss / 1024:.1f} MiB")
print(f"scale: {ver / 2**30:.2f} GiB verified by the workloads")
print(f"RATE {(f1 - f0) / dt * 60:.0f}")
EOF
note "fault counters at the start of the window: $k0"
note "fault counters at its end:                   $k1"
per_min=$(sed -n 's/^RATE //p' "$rel_tmp/scale.txt")
[ "$p1" -ge "$N" ] || { echo "FAIL: the agent held $p1 of $N processes"; bad=1; }
[ "${per_min%.*}" -ge "$MIN_PER_MIN" ] ||
	{ echo "FAIL: $per_min fault events/min, want >= $MIN_PER_MIN"; bad=1; }
kill -0 "$AGENT_PID" 2>/dev/null || { echo "FAIL: pageflexd died"; bad=1; }
[ $bad -eq 0 ] || fail "see above"
note "OK"
