#!/usr/bin/env bash
# Data integrity under pageflexd: for every reclaim policy the agent knows,
# a private agent binds it to every region with aggressive parameters (100 ms
# scans, 300 ms cold age, short histories), and pf-integrity runs under the
# shim with writer threads, region resizes and its own PAGEOUT/COLD/WILLNEED
# thread. Every byte must verify. The cold-age policy must really page out
# (a quarter of the data at least), or the run proves nothing.
#
# Usage: agent_integrity.sh [SECONDS_PER_POLICY [SIZE_MIB [POLICY...]]]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rel_init root agent shim swap

secs=${1:-6}
size=${2:-256}
shift $(($# > 2 ? 2 : $#))
policies=("$@")
if [ ${#policies[@]} -eq 0 ]; then
	# The agent names the policies it knows when given an unknown one.
	known=$("$PFD" -s "$rel_tmp/probe.sock" --policy '*=no-such-policy' 2>&1 || true)
	read -r -a policies <<<"$(sed -n 's/.*(known: \(.*\)).*/\1/p' <<<"$known" | tr -d ,)"
	[ ${#policies[@]} -gt 0 ] || fail "could not list the agent's policies: $known"
fi
note "policies: ${policies[*]}; ${secs}s and ${size} MiB each"

bad=0
for p in "${policies[@]}"; do
	cat >"$rel_tmp/agent.conf" <<EOF
scan-interval 100
policy * $p cold_age_ms=300 tick_ms=30 clock_bits=2 lfu_decay=1
EOF
	: >"$rel_tmp/agent.log"
	agent_start -c "$rel_tmp/agent.conf"
	set +e
	out=$(under_shim "$PFINT" -s "$size" -r 24 -t 3 -d "$secs" -H 90 -P 50 -q 2>&1)
	rc=$?
	set -e
	res=$(grep '^RESULT' <<<"$out" || true)
	stats=$(json '"%d %d %d %d" % (j["agent"]["pages_out"], j["agent"]["pages_cooled"], j["agent"]["shim_bad_packets"], j["agent"]["madvise_PAGEOUT"]["errors"])')
	read -r pages_out cooled badp pgerr <<<"$stats"
	agent_stop || fail "pageflexd ($p) did not exit cleanly on SIGTERM"
	line="policy=$p paged_out_mib=$((pages_out / 256)) cooled_mib=$((cooled / 256))"
	line+=" majflt=$(field majflt "$res") bytes_verified=$(field bytes_verified "$res")"
	line+=" checked_during_run=$(field bytes_checked_during_run "$res") mismatches=$(field mismatches "$res")"
	echo "$line"
	if [ "$rc" -ne 0 ] || [ "$(field ok "$res")" != 1 ]; then
		echo "FAIL: policy $p: data lost or corrupted (exit $rc)"
		grep -E '^(MISMATCH|pf-integrity)' <<<"$out" | head -20
		bad=1
	fi
	if [ "$badp" != 0 ]; then
		echo "FAIL: policy $p: the agent rejected $badp packets of a well-behaved shim"
		bad=1
	fi
	if [ "$p" = cold-age ] && [ $((pages_out / 256)) -lt $((size / 4)) ]; then
		echo "FAIL: cold-age paged out only $((pages_out / 256)) MiB of $size MiB"
		bad=1
	fi
done
[ $bad -eq 0 ] || fail "see above"
note "OK: every policy, every byte verified"
