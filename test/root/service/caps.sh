#!/usr/bin/env bash
# The capabilities of pageflexd.service are enough and none is spare: the
# agent runs with exactly the unit's CapabilityBoundingSet (setpriv, as
# systemd would bound it) and pages out a program of another user (nobody)
# running under libpageflex.so, every feature on; then without each of those
# capabilities in turn, and each removal must break something it is listed
# for (no page-table scans, or process_madvise refused). Some are needed on
# older kernels only (KERNEL_DEPENDENT: 6.1 and 6.12 refuse process_madvise on
# another user's process without CAP_SYS_PTRACE, 6.18 does not): on a kernel
# that does not ask for one, that is said, not failed. --enough: only the
# first run (the kernel matrix: one run per kernel under emulation).
# Exit 77 = skipped.
set -euo pipefail
B=${PAGEFLEX_BUILD_DIR:?}
S=${PAGEFLEX_SOURCE_DIR:?}
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (BPF, capabilities)"; exit 77; }
ENOUGH_ONLY=0
[ "${1:-}" = --enough ] && ENOUGH_ONLY=1
KERNEL_DEPENDENT="sys_ptrace"
UNIT=$B/packaging/pageflexd.service
[ -f "$UNIT" ] || { echo "FAIL: $UNIT not generated"; exit 1; }
bash "$S/scripts/swap-setup.sh" >/dev/null
# shellcheck source=SCRIPTDIR/../../../scripts/lib/agent.sh
. "$S/scripts/lib/agent.sh"

D=$(mktemp -d /tmp/pf-caps.XXXXXX)
chmod 755 "$D"
AGENT=
WORK=
cleanup() {
	for p in $WORK $AGENT; do kill "$p" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT

# "CAP_SYS_ADMIN CAP_SYS_NICE" -> "sys_admin sys_nice"
CAPS=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' | sed 's/cap_//g')
[ -n "$CAPS" ] || { echo "FAIL: no CapabilityBoundingSet in $UNIT"; exit 1; }

# run_with "cap cap ..." -> prints "scanning pages_out madvise_errors swapped_mib"
run_with() {
	local set="-all" c
	for c in $1; do set="$set,+$c"; done
	rm -f "$D"/*.sock "$D/agent.log"
	pf_agent_start "$B/bin/pageflexctl" "$D/control.sock" "$D/agent.log" \
		setpriv --bounding-set="$set" "$B/bin/pageflexd" --socket "$D/agent.sock" \
		--cold-age '*=1' -i 250 2>/dev/null || {
		echo "not-started 0 0 0 - 0"
		return 0
	}
	AGENT=$PF_AGENT_PID
	setpriv --reuid=nobody --regid=nogroup --clear-groups env LD_PRELOAD="$B/lib/libpageflex.so" \
		PAGEFLEX_SOCKET="$D/agent.sock" /usr/bin/python3 -c '
import time
b = bytearray(32 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
time.sleep(30)' &
	WORK=$!
	local i
	for i in $(seq 40); do
		sleep 0.25
		"$B/bin/pageflexctl" --socket "$D/control.sock" stats --json >"$D/stats.json"
		python3 - "$D/stats.json" <<'PY' && break
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if sum(r["swapped"] for p in d["processes"] for r in p["regions"]) >= 24 << 20 else 1)
PY
	done
	python3 - "$D/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = d["agent"]
off = [k for k, v in a["features"].items() if v["state"] != "on"]
print("scanning" if a["scanning"] else "no-scanning", a["pages_out"],
      a["madvise_PAGEOUT"]["errors"] + a["madvise_COLD"]["errors"],
      sum(r["swapped"] for p in d["processes"] for r in p["regions"]) >> 20,
      ",".join(off) or "-", len(d["processes"]))
PY
	kill $WORK $AGENT 2>/dev/null || true
	wait $WORK $AGENT 2>/dev/null || true
	WORK=
	AGENT=
}

fail=0
read -r scan out errs mib off procs <<<"$(run_with "$CAPS")"
echo "with the unit's set ($CAPS): $scan, $out pages out, $errs madvise errors, $mib MiB of nobody's program in swap, features off: $off"
if [ "$scan" != scanning ] || [ "$errs" != 0 ] || [ "$mib" -lt 24 ] || [ "$off" != - ] || [ "$procs" != 1 ]; then
	echo "FAIL: the unit's capabilities are not enough"
	tail -20 "$D/agent.log"
	fail=1
fi
[ $ENOUGH_ONLY -eq 1 ] && CAPS_TO_DROP= || CAPS_TO_DROP=$CAPS
for drop in $CAPS_TO_DROP; do
	rest=$(echo " $CAPS " | sed "s/ $drop / /")
	read -r scan out errs mib off procs <<<"$(run_with "$rest")"
	echo "without $drop: $scan, $out pages out, $errs madvise errors, $mib MiB in swap, features off: $off"
	[ "$scan" = not-started ] && echo "  (the agent did not start: $(grep -m1 error: "$D/agent.log" | cut -d' ' -f3-))"
	if [ "$scan" = scanning ] && [ "$errs" = 0 ] && [ "$mib" -ge 24 ]; then
		if [[ " $KERNEL_DEPENDENT " == *" $drop "* ]]; then
			echo "  $drop is not needed on this kernel ($(uname -r)); older kernels need it (kernel matrix)"
		else
			echo "FAIL: $drop is not needed: the agent works without it"
			fail=1
		fi
	fi
done
[ $fail -eq 0 ] && echo PASS
exit $fail
