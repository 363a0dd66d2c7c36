#!/usr/bin/env bash
# Per-client limits: one client floods the agent (regions, packets, garbage) while an honest client registers 32 MiB of idle memory. The
# flooder may be degraded (refused regions, dropped connection) with a log
# line, but the honest client must be served in full (its idle memory paged
# out by cold-age) and the agent must stay up with bounded memory. Prints the
# agent's CPU and memory for each case.
#
# Usage: limits.sh [-n REGIONS] [CASE...]   cases: regions rate garbage shim-churn
#   FLOODERS=K: processes flooding regions at once (default 2)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rel_init root agent rogue swap

NREG=100000
if [ "${1:-}" = -n ]; then
	NREG=$2
	shift 2
fi
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(regions rate garbage)
MIB=32
HOLD=4
bad=0 known=() table=()

agent_start --cold-age '*=1' --scan-interval 200
R() { "$PFROGUE" -s "$rel_tmp/agent.sock" "$@"; }
agent_cpu_ms() { json "int(j['agent']['cpu_user_ms'] + j['agent']['cpu_sys_ms'])"; }
agent_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status"; }

# honest CASE: an honest client beside the flood must be paged out in full.
honest() {
	local out peak
	out=$(R self $MIB $HOLD 2>&1 || true)
	peak=$(field swap_peak_kib "$(grep '^SELF' <<<"$out")")
	if [ "${peak:-0}" -lt $((MIB * 1024 * 3 / 4)) ]; then
		echo "FAIL: $1: an honest client beside the flood got ${peak:-no} KiB of $((MIB * 1024)) KiB paged out: ${out//$'\n'/ }"
		bad=1
		known+=("$1")
	else
		note "ok: $1: honest client served (${peak} KiB paged out)"
	fi
}

# FLOODERS processes (default 2: one user can start as many as it likes)
# each send NREG one-page regions; then the honest client registers.
case_regions() {
	local c0 r0 k jobs=() fpids=() held=0 refused=0
	c0=$(agent_cpu_ms) r0=$(agent_rss_kib)
	for k in $(seq "${FLOODERS:-2}"); do
		R regions "$NREG" $((HOLD + 4)) >"$rel_tmp/flood.$k.out" &
		jobs+=($!)
		track $!
	done
	for k in $(seq "${FLOODERS:-2}"); do
		wait_for 60 grep -qs READY "$rel_tmp/flood.$k.out" || fail "regions: flooder $k did not finish sending"
		fpids+=("$(sed -n 's/READY pid=\([0-9]*\).*/\1/p' "$rel_tmp/flood.$k.out")")
	done
	sleep 1
	for k in "${fpids[@]}"; do
		held=$((held + $(json "sum(len(p['regions']) for p in j['processes'] if p['pid'] == $k)")))
		refused=$((refused + $(json "sum(p['refused_maps'] for p in j['processes'] if p['pid'] == $k)")))
	done
	honest regions
	table+=("regions: ${FLOODERS:-2} flooders sent $NREG regions each, agent holds $held, refused $refused;" \
		"slots used $(json "j['agent']['slots_used']") of $(json "j['agent']['slots_capacity']");" \
		"agent RSS ${r0} -> $(agent_rss_kib) KiB, CPU $(($(agent_cpu_ms) - c0)) ms;" \
		"log: $(grep -m1 -Ei 'full|limit|too many' "$rel_tmp/agent.log" | cut -c1-150 || echo none)")
	wait "${jobs[@]}" 2>/dev/null || true
}

case_rate() {
	local c0 out
	c0=$(agent_cpu_ms)
	R rate $((HOLD + 1)) >"$rel_tmp/rate.out" &
	local rpid=$!
	track $rpid
	sleep 0.5
	honest rate
	wait "$rpid" 2>/dev/null || true
	out=$(cat "$rel_tmp/rate.out")
	grep -v debug "$rel_tmp/agent.log" | grep "pid $(field pid "$out")" | tail -3
	table+=("rate: flooder $(field per_s "$out") packets/s accepted ($(field eagain "$out") EAGAIN," \
		"dropped=$(field dropped "$out")); agent CPU $(($(agent_cpu_ms) - c0)) ms in $((HOLD + 1)) s")
}

case_garbage() {
	local b0 b1 out
	b0=$(json "j['agent']['shim_bad_packets']")
	out=$(R garbage 100)
	b1=$(json "j['agent']['shim_bad_packets']")
	if [ $((b1 - b0)) -lt 100 ]; then
		echo "FAIL: garbage: $out; agent counted $((b1 - b0)) bad packets"
		bad=1
		known+=(garbage)
	fi
	table+=("garbage: 100 malformed packets: agent counted $((b1 - b0)) bad packets, the client saw $(field dropped "$out") of its connections dropped within 3 s")
}

# A real program over the rate: mmap/munmap churn (~50k region events/s)
# under the shim, beside a running agent. It may be degraded (events
# coalesced or dropped, counted), but it must stay registered: every
# reconnection drops its per-page policy state (h7-findings F5).
case_shim_churn() {
	local micro=$rel_bld/bin/pageflex-micro out n
	[ -f "$SHIM" ] && [ -x "$micro" ] || { note "shim-churn: shim or $micro not built: not run"; return; }
	: >"$rel_tmp/churn.log"
	out=$(PAGEFLEX_LOG=debug PAGEFLEX_SOCKET="$rel_tmp/agent.sock" LD_PRELOAD="$SHIM" \
		"$micro" mmap-large --ops 60000 2>"$rel_tmp/churn.log")
	n=$(grep -c 'connected to' "$rel_tmp/churn.log" || true)
	table+=("shim-churn: $out; the shim connected $n times," \
		"$({ grep -Eo '[0-9]+ events lost' "$rel_tmp/churn.log" || true; } | awk '{s += $1} END {print s + 0}') events lost")
	if [ "$n" -gt 1 ]; then
		echo "FAIL: shim-churn: the shim reconnected $((n - 1)) times; the agent dropped the process each time"
		bad=1
		known+=(shim-churn)
	fi
}

for c in "${cases[@]}"; do
	"case_${c//-/_}"
done
kill -0 "$AGENT_PID" 2>/dev/null && ctl status >/dev/null || fail "pageflexd died"
printf '%s\n' "${table[@]}"
[ $bad -eq 0 ] || fail "limits broken in: ${known[*]}"
note "OK: ${cases[*]}"
