#!/usr/bin/env bash
# Data integrity under pageflexd: for every reclaim policy the agent knows,
# a private agent binds it (with a prefetch policy, taken in turn) to every
# region through a YAML rules file with aggressive parameters: scans every
# 100 ms, cold age 300 ms, short histories, a budget of 25% resident for the
# threshold policies. pf-integrity runs under the shim with writer threads,
# region resizes and its own PAGEOUT/COLD/WILLNEED thread. Every byte must
# verify. The cold-age policy must really page out (a quarter of the data at
# least), or the run proves nothing.
#
# Usage: agent_integrity.sh [SECONDS_PER_RUN [SIZE_MIB [RECLAIM[+PREFETCH]...]]]
#   With no policies: each reclaim policy once, prefetch policies in turn;
#   ALL=1: every reclaim policy with every prefetch policy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rel_init root agent shim swap

secs=${1:-6}
size=${2:-256}
shift $(($# > 2 ? 2 : $#))
runs=("$@")
# The agent names the policies it knows when given an unknown one.
known() {
	"$PFD" -s "$rel_tmp/probe.sock" "$1" '*=no-such-policy' 2>&1 |
		sed -n 's/.*(known: \(.*\)).*/\1/p' | tr -d ,
}
if [ ${#runs[@]} -eq 0 ]; then
	read -r -a reclaim <<<"$(known --policy)"
	read -r -a prefetch <<<"$(known --prefetch)"
	[ ${#reclaim[@]} -gt 0 ] || fail "could not list the agent's reclaim policies"
	[ ${#prefetch[@]} -gt 0 ] || prefetch=(none)
	for i in "${!reclaim[@]}"; do
		if [ "${ALL:-0}" = 1 ]; then
			for f in "${prefetch[@]}"; do runs+=("${reclaim[i]}+$f"); done
		else
			runs+=("${reclaim[i]}+${prefetch[$(((i + 1) % ${#prefetch[@]}))]}")
		fi
	done
fi
note "runs: ${runs[*]}; ${secs}s and ${size} MiB each"

bad=0
for run in "${runs[@]}"; do
	p=${run%%+*}
	f=none
	[ "$run" = "$p" ] || f=${run#*+}
	mode=budget
	case $p in kernel | cold-age) mode=cold-age ;; esac
	cat >"$rel_tmp/rules.yaml" <<EOF
version: 1
defaults:
  reclaim: $p
  prefetch: $f
  params: {cold_age_ms: 300, tick_ms: 30, clock_bits: 2, lfu_decay: 1, ra_max_pages: 32, leap_max_pages: 64}
  threshold: {mode: $mode, budget_pct: 25, period_ms: 200}
EOF
	: >"$rel_tmp/agent.log"
	agent_start -c "$rel_tmp/rules.yaml" --scan-interval 100
	set +e
	out=$(under_shim "$PFINT" -s "$size" -r 24 -t 3 -d "$secs" -H 90 -P 50 -q 2>&1)
	rc=$?
	set -e
	res=$(grep '^RESULT' <<<"$out" || true)
	stats=$(json '"%d %d %d" % (j["agent"]["pages_out"], j["agent"]["pages_cooled"], j["agent"]["shim_bad_packets"])')
	read -r pages_out cooled badp <<<"$stats"
	agent_stop || fail "pageflexd ($run) did not exit cleanly on SIGTERM"
	line="reclaim=$p prefetch=$f paged_out_mib=$((pages_out / 256)) cooled_mib=$((cooled / 256))"
	line+=" majflt=$(field majflt "$res") bytes_verified=$(field bytes_verified "$res")"
	line+=" checked_during_run=$(field bytes_checked_during_run "$res") mismatches=$(field mismatches "$res")"
	echo "$line"
	if [ "$rc" -ne 0 ] || [ "$(field ok "$res")" != 1 ]; then
		echo "FAIL: $run: data lost or corrupted (exit $rc)"
		grep -E '^(MISMATCH|pf-integrity)' <<<"$out" | head -20
		bad=1
	fi
	if [ "$badp" != 0 ]; then
		echo "FAIL: $run: the agent rejected $badp packets of a well-behaved shim"
		bad=1
	fi
	if [ "$p" = cold-age ] && [ $((pages_out / 256)) -lt $((size / 4)) ]; then
		echo "FAIL: cold-age paged out only $((pages_out / 256)) MiB of $size MiB"
		bad=1
	fi
done
[ $bad -eq 0 ] || fail "see above"
note "OK: every policy, every byte verified"
