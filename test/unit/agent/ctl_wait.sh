#!/usr/bin/env bash
# `pageflexctl wait` and scripts/lib/agent.sh, the readiness wait that every
# script starting pageflexd uses (issue 10): without root or BPF, against
# stand-ins for the agent. A missing socket times out with one line; an agent
# that has exited (reaped, or a zombie) fails at once with one line; one that
# answers "ok" is ready (exit 0, silent), even if it starts listening late; a
# refusal fails at once. The shell helper prints the agent's log once (cut to
# its last 40 lines when long) and one FAIL line, and stops an agent that
# never answers. Exit 77 = skipped.
set -euo pipefail
B=${PAGEFLEX_BUILD_DIR:?}
S=${PAGEFLEX_SOURCE_DIR:?}
CTL=$B/bin/pageflexctl
[ -x "$CTL" ] || { echo "skipped: $CTL not built"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: no python3 (the stand-in agent)"; exit 77; }

D=$(mktemp -d /tmp/pf-ctl-wait.XXXXXX)
BG=
cleanup() {
	if [ -n "$BG" ]; then kill "$BG" 2>/dev/null || true; fi
	rm -rf "$D"
}
trap cleanup EXIT
bad=0
fail() { echo "FAIL: $*"; bad=1; }
ok() { echo "ok: $*"; }

# run NAME CMD...: runs CMD, keeps its exit status, stdout, stderr and time (ms).
run() {
	local name=$1 t0
	shift
	t0=$(date +%s%N)
	rc=0
	"$@" >"$D/$name.out" 2>"$D/$name.err" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	err=$(cat "$D/$name.err")
	nerr=$(wc -l <"$D/$name.err")
}
# expect NAME RC REGEX: exit status RC, nothing on stdout, one stderr line matching REGEX.
expect() {
	if [ "$rc" != "$2" ] || [ -s "$D/$1.out" ] || [ "$nerr" -ne 1 ] || ! grep -Eq "$3" <<<"$err"; then
		fail "$1: exit $rc (want $2), $nerr stderr lines, stdout $(wc -c <"$D/$1.out") bytes: $err"
		return 1
	fi
}

# A stand-in control socket: listens on $1 after $2 s and answers every
# connection with $3 (python: a real AF_UNIX stream socket, like the agent's).
fake_agent() {
	python3 -c '
import os, socket, sys, time
time.sleep(float(sys.argv[2]))
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
while True:
    c, _ = s.accept()
    c.recv(512)
    c.sendall(sys.argv[3].encode().decode("unicode_escape").encode())
    c.close()' "$@" &
	BG=$!
}

# 1. nobody listening: the timeout, one line, exit 1
run timeout "$CTL" wait --timeout 1 -s "$D/none/control.sock"
expect timeout 1 "^pageflexctl: no answer from pageflexd on $D/none/control.sock within 1 s$" &&
	{ [ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || fail "timeout: took $ms ms for --timeout 1"; } &&
	ok "timeout: '$err' after $ms ms"

# 2. --pid of a process that has exited (and was reaped): at once
true &
gone=$!
wait "$gone"
run exited "$CTL" wait --timeout 20 --pid "$gone" -s "$D/none/control.sock"
expect exited 1 "^pageflexctl: pageflexd \(pid $gone\) exited before it was ready$" &&
	{ [ "$ms" -lt 2000 ] || fail "exited: took $ms ms"; } && ok "exited: '$err' after $ms ms"

# 3. --pid of a zombie (exited, not reaped: its parent execs pageflexctl)
run zombie python3 -c '
import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(3)
time.sleep(0.2)
os.execv(sys.argv[1], [sys.argv[1], "wait", "--timeout", "20", "--pid", str(pid), "-s", sys.argv[2]])
' "$CTL" "$D/none/control.sock"
expect zombie 1 "^pageflexctl: pageflexd \(pid [0-9]+\) exited before it was ready$" &&
	{ [ "$ms" -lt 2000 ] || fail "zombie: took $ms ms"; } && ok "zombie: '$err' after $ms ms"

# 4. an agent that starts listening after 0.5 s and answers ok: ready, silent
fake_agent "$D/late.sock" 0.5 'ok\nprocesses 0\n'
run ready "$CTL" wait --timeout 10 --pid "$BG" -s "$D/late.sock"
if [ $rc -eq 0 ] && [ ! -s "$D/ready.out" ] && [ "$nerr" -eq 0 ] && [ "$ms" -ge 400 ]; then
	ok "ready: exit 0, silent, after $ms ms"
else
	fail "ready: exit $rc after $ms ms: $err"
fi
kill "$BG"
wait "$BG" 2>/dev/null || true

# 5. an agent that answers but refuses: at once, its reason
fake_agent "$D/refuse.sock" 0 'error: the control socket is for root only\n'
run refused "$CTL" wait --timeout 10 -s "$D/refuse.sock"
expect refused 1 "^pageflexctl: the control socket is for root only$" && ok "refused: '$err'"
kill "$BG"
wait "$BG" 2>/dev/null || true
BG=

# 6. bad arguments: exit 2, one line
for a in "--timeout 0" "--timeout x" "--pid 0" "--pid 12x" "extra"; do
	# shellcheck disable=SC2086
	run args "$CTL" wait $a
	expect args 2 "^pageflexctl: wait: " || true
done
ok "bad arguments: exit 2 with one line each"

# 7. scripts/lib/agent.sh: an agent that exits at start with a long log
# shellcheck source=SCRIPTDIR/../../../scripts/lib/agent.sh
. "$S/scripts/lib/agent.sh"
cat >"$D/broken-agent" <<'EOF'
#!/bin/sh
i=0
while [ $i -lt 100 ]; do i=$((i + 1)); echo "verifier line $i"; done
echo "pageflexd: error: failed to load the BPF programs" >&2
exit 3
EOF
chmod +x "$D/broken-agent"
echo "an earlier run" >"$D/broken.log"
rc=0
pf_agent_start "$CTL" "$D/broken.sock" "$D/broken.log" "$D/broken-agent" 2>"$D/helper.err" || rc=$?
n_fail=$(grep -c '^FAIL: ' "$D/helper.err" || true)
if [ $rc -eq 1 ] && [ "$n_fail" -eq 1 ] &&
	[ "$(tail -n 1 "$D/helper.err")" = "FAIL: pageflexd did not become ready: it exited with status 3 before answering on $D/broken.sock" ] &&
	[ "$(grep -c '^verifier line' "$D/helper.err")" -eq 39 ] &&
	grep -q '^pageflexd: error: failed to load' "$D/helper.err" &&
	! grep -q 'an earlier run' "$D/helper.err"; then
	ok "helper, agent exits: its log once (last 40 lines), then '$(tail -n 1 "$D/helper.err")'"
	kept=$(sed -n 's/.*(all of it: \(.*\)):$/\1/p' "$D/helper.err")
	[ -f "$kept" ] && [ "$(wc -l <"$kept")" -eq 101 ] || fail "helper: the whole log was not kept ($kept)"
	rm -f "$kept"
else
	fail "helper, agent exits: status $rc, $n_fail FAIL lines:"
	cat "$D/helper.err"
fi

# 8. scripts/lib/agent.sh: an agent that never answers is stopped after the timeout
printf '#!/bin/sh\necho "starting"\nexec sleep 600\n' >"$D/mute-agent"
chmod +x "$D/mute-agent"
rc=0
PF_AGENT_TIMEOUT=1 pf_agent_start "$CTL" "$D/mute.sock" "$D/mute.log" "$D/mute-agent" \
	2>"$D/mute.err" || rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c '^FAIL: ' "$D/mute.err")" -eq 1 ] &&
	grep -q "^FAIL: pageflexd did not become ready: no answer from pageflexd on $D/mute.sock within 1 s (stopped it)$" "$D/mute.err" &&
	grep -q '^starting$' "$D/mute.err" && ! kill -0 "$PF_AGENT_PID" 2>/dev/null; then
	ok "helper, agent mute: stopped; '$(tail -n 1 "$D/mute.err")'"
else
	fail "helper, agent mute: status $rc, pid $PF_AGENT_PID $(kill -0 "$PF_AGENT_PID" 2>/dev/null && echo 'still runs'):"
	cat "$D/mute.err"
	kill -9 "$PF_AGENT_PID" 2>/dev/null || true
fi

[ $bad -eq 0 ] && echo PASS
exit $bad
