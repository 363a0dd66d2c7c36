#!/usr/bin/env bash
# `pageflexctl top` and `pageflex-report` on a live agent (issue 13, "look
# instead of read"): a private pageflexd manages pageflex_demo_workload under
# libpageflex.so (regions "hot" and "cold", the cold one paged out after
# 1 s); `top --iterations 2 --interval 1` must print two frames, each with
# the process and both regions and a REFAULTS/s column (numbers in the
# second frame); then a 3 s `pageflexctl record` of it must render into
# valid PNGs with pageflex-report. Root, BPF and swap; exit 77 = skipped.
set -euo pipefail
B=${PAGEFLEX_BUILD_DIR:?}
S=${PAGEFLEX_SOURCE_DIR:?}
CTL=$B/bin/pageflexctl
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (BPF, process_madvise, swap)"; exit 77; }
for f in "$B/bin/pageflexd" "$CTL" "$B/bin/pageflex-report" "$B/bin/pageflex_demo_workload" \
	"$B/lib/libpageflex.so"; do
	[ -e "$f" ] || { echo "skipped: $f not built"; exit 77; }
done
command -v gnuplot >/dev/null || { echo "skipped: gnuplot not installed (gnuplot-nox)"; exit 77; }
if [ "$(awk 'NR > 1' /proc/swaps | wc -l)" -eq 0 ]; then
	bash "$S/scripts/swap-setup.sh" >/dev/null || { echo "skipped: no swap"; exit 77; }
fi

D=$(mktemp -d /tmp/pf-top-live.XXXXXX)
AGENT=
WPID=
cleanup() {
	if [ -n "$WPID" ]; then kill "$WPID" 2>/dev/null || true; fi
	if [ -n "$AGENT" ]; then kill -9 "$AGENT" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
# shellcheck source=SCRIPTDIR/../../../scripts/lib/agent.sh
. "$S/scripts/lib/agent.sh"
ok=0
pf_agent_start "$CTL" "$D/control.sock" "$D/agent.log" "$B/bin/pageflexd" \
	--socket "$D/agent.sock" --control "$D/control.sock" --cold-age cold=1 || ok=1
AGENT=$PF_AGENT_PID
[ $ok = 0 ] || { AGENT=; exit 1; }

# 32 requests 300 ms apart (~10 s): the hot region stays in, the cold one goes out.
PAGEFLEX_SOCKET="$D/agent.sock" LD_PRELOAD="$B/lib/libpageflex.so" \
	"$B/bin/pageflex_demo_workload" -h 16 -c 64 -n 32 -g 300 >"$D/wl.out" 2>&1 &
WPID=$!
has_regions() {
	"$CTL" -s "$D/control.sock" regions "$WPID" 2>/dev/null | grep -q ' cold ' &&
		"$CTL" -s "$D/control.sock" regions "$WPID" 2>/dev/null | grep -q ' hot '
}
for _ in $(seq 100); do has_regions && break; sleep 0.1; done
has_regions || fail "the agent never listed regions hot and cold of pid $WPID"

# top: two frames, piped (no terminal: a blank line between frames, no ANSI codes)
"$CTL" -s "$D/control.sock" top --iterations 2 --interval 1 >"$D/top.out" 2>"$D/top.err" ||
	fail "top exited $?: $(cat "$D/top.err")"
cat "$D/top.out"
[ ! -s "$D/top.err" ] || fail "top wrote to stderr: $(cat "$D/top.err")"
! grep -q $'\033' "$D/top.out" || fail "ANSI codes in piped output"
[ "$(grep -c '^pageflexd pid ' "$D/top.out")" -eq 2 ] || fail "not 2 frames"
awk -v pid="$WPID" '
/^pageflexd pid / { f++ }
/REFAULTS\/s/ { hdr[f]++ }
$1 == pid && $0 ~ / process / { proc[f]++ }
$2 == "hot" { hot[f]++; if (f == 2 && $7 !~ /^[0-9.]+$/) bad = "hot refaults/s in frame 2: " $7 }
$2 == "cold" { cold[f]++; if (f == 2 && $7 !~ /^[0-9.]+$/) bad = "cold refaults/s in frame 2: " $7 }
END {
	for (i = 1; i <= 2; i++)
		if (hdr[i] != 1 || proc[i] != 1 || hot[i] != 1 || cold[i] != 1) {
			printf "frame %d: header %d, process rows %d, hot %d, cold %d\n", i, hdr[i], proc[i], hot[i], cold[i]
			exit 1
		}
	if (bad) { print bad; exit 1 }
}' "$D/top.out" || fail "the frames do not list the process, its regions and refaults/s"
echo "ok: top printed 2 frames with pid $WPID, regions hot and cold, refaults/s"

# A short live recording, drawn.
"$CTL" -s "$D/control.sock" record "$WPID" "$D/live.pftrace" 3 >/dev/null || fail "record"
sleep 3.5
for _ in $(seq 30); do grep -q "recording of pid $WPID.*done" "$D/agent.log" && break; sleep 0.1; done
"$B/bin/pageflex-report" "$D/live.pftrace" "$D/report" >"$D/report.out" 2>&1 ||
	fail "pageflex-report: $(cat "$D/report.out")"
cat "$D/report.out"
for png in heatmap-cold.png heatmap-hot.png timeline.png; do
	f=$D/report/$png
	[ -s "$f" ] || fail "no $png"
	[ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
	[ "$(stat -c %s "$f")" -gt 5000 ] || fail "$png is only $(stat -c %s "$f") bytes"
done
rows=$(grep -vc '^#' "$D/report/timeline.dat")
[ "$rows" -ge 2 ] || fail "timeline.dat has $rows rows"
echo "ok: a 3 s recording drawn: heatmaps of hot and cold, timeline with $rows scans"

wait "$WPID" || fail "workload: $(tail -n 2 "$D/wl.out")"
WPID=
grep -q '^@result ok' "$D/wl.out" || fail "workload: $(tail -n 2 "$D/wl.out")"
kill -TERM "$AGENT"
wait "$AGENT" || fail "pageflexd exited with $?"
AGENT=
echo PASS
