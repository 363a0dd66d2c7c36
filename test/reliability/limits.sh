#!/usr/bin/env bash
# Per-client limits: one client floods the agent (regions, packets, garbage) while an honest client registers 32 MiB of idle memory. The
# flooder may be degraded (refused regions, dropped connection) with a log
# line, but the honest client must be served in full (its idle memory paged
# out by cold-age) and the agent must stay up with bounded memory. Prints the
# agent's CPU and memory for each case.
#
# Usage: limits.sh [-n REGIONS] [CASE...]   cases: regions rate garbage
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

case_regions() {
	local c0 r0 fpid
	c0=$(agent_cpu_ms) r0=$(agent_rss_kib)
	R regions "$NREG" $((HOLD + 4)) >"$rel_tmp/flood.out" &
	local job=$!
	track $job
	wait_for 60 grep -qs READY "$rel_tmp/flood.out" || fail "regions: flooder did not finish sending"
	fpid=$(sed -n 's/READY pid=\([0-9]*\).*/\1/p' "$rel_tmp/flood.out")
	sleep 1
	local held refused
	held=$(json "sum(len(p['regions']) for p in j['processes'] if p['pid'] == $fpid)")
	refused=$(json "sum(p['refused_maps'] for p in j['processes'] if p['pid'] == $fpid)")
	honest regions
	table+=("regions: flooder sent $NREG regions, agent holds $held, refused $refused;" \
		"agent RSS ${r0} -> $(agent_rss_kib) KiB, CPU $(($(agent_cpu_ms) - c0)) ms;" \
		"log: $(grep -m1 -Ei 'full|limit|too many' "$rel_tmp/agent.log" | cut -c1-150 || echo none)")
	wait "$job" 2>/dev/null || true
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

for c in "${cases[@]}"; do
	"case_$c"
done
kill -0 "$AGENT_PID" 2>/dev/null && ctl status >/dev/null || fail "pageflexd died"
printf '%s\n' "${table[@]}"
[ $bad -eq 0 ] || fail "limits broken in: ${known[*]}"
note "OK: ${cases[*]}"
