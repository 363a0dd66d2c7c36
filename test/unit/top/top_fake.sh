#!/usr/bin/env bash
# `pageflexctl top` without root or BPF, against a stand-in agent (python, a
# real AF_UNIX socket like the agent's) whose `stats --json` moves by known
# amounts per poll: 1000 ms of uptime, 100 ms of CPU, 50 refaults in region
# "data" and none known (null) in region "other", plus fields top does not
# know. Piped, top prints frames separated by a blank line without ANSI
# codes; the second frame's rates are exact (10.0% of a core, 50.0
# refaults/s, "?" for unknown). No agent, an agent that goes away between
# frames, a refusal, and bad arguments each give one line and the right exit
# status. Exit 77 = skipped.
set -euo pipefail
B=${PAGEFLEX_BUILD_DIR:?}
CTL=$B/bin/pageflexctl
[ -x "$CTL" ] || { echo "skipped: $CTL not built"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: no python3 (the stand-in agent)"; exit 77; }

D=$(mktemp -d /tmp/pf-ctl-top.XXXXXX)
BG=
cleanup() {
	if [ -n "$BG" ]; then kill "$BG" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
bad=0
fail() { echo "FAIL: $*"; bad=1; }
ok() { echo "ok: $*"; }

# fake_agent SOCKET MAX_REPLIES [error]: answers stats --json MAX_REPLIES times, then exits.
fake_agent() {
	python3 -c '
import json, os, socket, sys
path, left, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen()
n = 0
while left > 0:
    c, _ = s.accept()
    cmd = c.recv(512).decode()
    if mode == "error":
        c.sendall(b"error: the control socket is for root only\n")
    elif cmd != "stats --json\n":
        c.sendall(("error: unexpected command %r\n" % cmd).encode())
    else:
        regions = [
            {"id": 7, "tag": "data", "kind": "mmap", "size": 64 << 20,
             "resident": 48 << 20, "swapped": 16 << 20, "refaults": 100 + 50 * n,
             "policy": "cold-age", "prefetch": "none", "threshold": "cold-age",
             "cold_age_ms": 5000, "some_new_field": [1, {"x": None}]},
            {"id": 8, "tag": "other\u00e9", "kind": "heap", "size": 4 << 20,
             "resident": 1 << 20, "swapped": 0, "refaults": None,
             "policy": "lru", "prefetch": "leap", "threshold": "budget",
             "budget_pages": 512},
        ]
        stats = {
            "agent": {"pid": 99, "uptime_ms": 10000 + 1000 * n,
                      "cpu_user_ms": 500 + 100 * n, "cpu_sys_ms": 0.0,
                      "processes": 1, "regions": 2, "scan_interval_ms": 1000,
                      "scanning": True, "scans": 10 + n, "scan_ms": 2.5 * (10 + n),
                      "pages_out": 4096, "features": {"x": {"state": "on"}}},
            "processes": [{"pid": 4242, "exe": "/usr/bin/kv-server", "phase": "serve",
                           "objectives": [{"rule": "r", "objective": "promotion <= 0.20%/min",
                                           "kind": "promotion", "value": 100,
                                           "age_ms": 120000, "unreachable": False}],
                           "regions": regions}],
            "later_addition": {"deep": [[[]]]},
        }
        c.sendall(b"ok\n" + json.dumps(stats).encode() + b"\n")
        n += 1
    c.close()
    left -= 1
' "$@" &
	BG=$!
	for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.05; done
	echo "FAIL: the stand-in agent did not start"
	exit 1
}

# 1. two frames, piped
fake_agent "$D/a.sock" 2 ok
rc=0
"$CTL" -s "$D/a.sock" top --iterations 2 --interval 0.2 >"$D/top.out" 2>"$D/top.err" || rc=$?
wait "$BG" 2>/dev/null || true
BG=
cat "$D/top.out"
if [ $rc -ne 0 ] || [ -s "$D/top.err" ]; then
	fail "top: exit $rc: $(cat "$D/top.err")"
elif grep -q $'\033' "$D/top.out"; then
	fail "ANSI codes in piped output"
elif [ "$(grep -c '^pageflexd pid 99, ' "$D/top.out")" -ne 2 ] ||
	[ "$(grep -c '^$' "$D/top.out")" -ne 3 ]; then
	fail "want 2 frames, each with one blank line after its header, and one between them"
else
	ok "2 frames, separated by a blank line, no ANSI codes"
fi
# Frame 2 (after the 2nd header): exact rates from the agent's clock.
f2=$(awk '/^pageflexd pid/ { f++ } f == 2' "$D/top.out")
f1=$(awk '/^pageflexd pid/ { f++ } f == 1' "$D/top.out")
grep -q 'cpu 10.0% of a core (last 1.0 s)' <<<"$f2" || fail "frame 2: CPU over the interval"
grep -q 'cpu 5.0% of a core (since start)' <<<"$f1" || fail "frame 1: CPU since start"
grep -q '1 processes, 2 regions, paged out 16.0 MiB, scans 11 (2.50 ms each, every 1000 ms)' \
	<<<"$f2" || fail "frame 2: header totals"
grep -Eq '^ +4242 +kv-server \[serve\] +process +68\.0 +49\.0 +16\.0 +50\.0 +promotion <= 0\.20%/min: now 0\.010%/min, age 120\.0 s$' \
	<<<"$f2" || fail "frame 2: process row"
grep -Eq '^ +7 +data +mmap +64\.0 +48\.0 +16\.0 +50\.0 +cold-age/none +cold age 5 s$' <<<"$f2" ||
	fail "frame 2: region data"
grep -Eq '^ +8 +other\?\? +heap +4\.0 +1\.0 +0\.0 +\? +lru/leap +budget 2\.0 MiB$' <<<"$f2" ||
	fail "frame 2: region other (unknown refaults: ?)"
grep -Eq '^ +7 +data .* 16\.0 +- +cold-age' <<<"$f1" || fail "frame 1: no rate yet (-)"
[ $bad -eq 0 ] && ok "rates: 10.0% CPU, 50.0 refaults/s, ? where unknown, - before a 2nd poll"

# 2. no agent: one line, exit 1
rc=0
"$CTL" -s "$D/none.sock" top --iterations 1 >"$D/o" 2>"$D/e" || rc=$?
if [ $rc -eq 1 ] && [ ! -s "$D/o" ] && [ "$(wc -l <"$D/e")" -eq 1 ] &&
	grep -q "^pageflexctl: no pageflexd listening on $D/none.sock" "$D/e"; then
	ok "no agent: '$(cat "$D/e")'"
else
	fail "no agent: exit $rc, stdout $(wc -c <"$D/o") bytes: $(cat "$D/e")"
fi

# 3. the agent goes away after the first frame: that frame, then one line, exit 1
fake_agent "$D/b.sock" 1 ok
rc=0
"$CTL" -s "$D/b.sock" top --iterations 3 --interval 0.3 >"$D/o" 2>"$D/e" || rc=$?
wait "$BG" 2>/dev/null || true
BG=
if [ $rc -eq 1 ] && [ "$(grep -c '^pageflexd pid' "$D/o")" -eq 1 ] &&
	[ "$(wc -l <"$D/e")" -eq 1 ] && grep -q "^pageflexctl: no pageflexd listening" "$D/e"; then
	ok "agent gone: 1 frame, then '$(cat "$D/e")'"
else
	fail "agent gone: exit $rc, $(grep -c '^pageflexd pid' "$D/o") frames: $(cat "$D/e")"
fi

# 4. a refusal: its reason, exit 1
fake_agent "$D/c.sock" 1 error
rc=0
"$CTL" -s "$D/c.sock" top --iterations 1 >"$D/o" 2>"$D/e" || rc=$?
wait "$BG" 2>/dev/null || true
BG=
if [ $rc -eq 1 ] && [ "$(cat "$D/e")" = "pageflexctl: the control socket is for root only" ]; then
	ok "refused: '$(cat "$D/e")'"
else
	fail "refused: exit $rc: $(cat "$D/e")"
fi

# 5. bad arguments: exit 2, one line; --help
for a in "--interval 0" "--interval x" "--iterations 0" "--iterations 2x" "extra"; do
	rc=0
	# shellcheck disable=SC2086
	"$CTL" -s "$D/none.sock" top $a >"$D/o" 2>"$D/e" || rc=$?
	if [ $rc -ne 2 ] || [ "$(wc -l <"$D/e")" -ne 1 ] || ! grep -q '^pageflexctl: ' "$D/e"; then
		fail "top $a: exit $rc: $(cat "$D/e")"
	fi
done
"$CTL" --help | grep -q '^  top \[--interval SECS\] \[--iterations N\]' || fail "--help lacks top"
"$CTL" top --help | grep -q 'refaults/s' || fail "top --help"
[ $bad -eq 0 ] && ok "bad arguments: exit 2 with one line each; --help lists top"

[ $bad -eq 0 ] && echo PASS
exit $bad
