# Shared by bench/live/*.sh: build dir, root/swap checks, an agent of our own
# in a private temp dir (its own sockets), a workload under the shim, and
# JSON queries on `pageflexctl regions PID --json`. Sourced, not run.
set -eu
LIVE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LIVE_DIR/../.." && pwd)
BLD=${PF_BUILD:-$REPO/build}
PFD=$BLD/bin/pageflexd
PFCTL=$BLD/bin/pageflexctl
SIM=$BLD/bin/pageflex-sim
SHIM=$BLD/lib/libpageflex.so

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (BPF, process_madvise on other processes)"
for f in "$PFD" "$PFCTL" "$SIM" "$SHIM"; do [ -e "$f" ] || skip "$f not built (PF_BUILD=$BLD)"; done
"$REPO/scripts/swap-setup.sh" >/dev/null 2>&1 || skip "no swap (scripts/swap-setup.sh failed)"

TMP=$(mktemp -d /tmp/pf-live.XXXXXX)
AGENT_PID=
WL_PID=
cleanup() {
	[ -n "$WL_PID" ] && kill -9 "$WL_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# A disk swap at a higher priority than zram keeps swapped pages in the
# swap cache differently: say so, never remove it (it is someone else's).
swap_note() {
	awk 'NR > 1 && $2 == "file" { print "NOTE: disk swap active: " $1 " priority " $5 }' /proc/swaps
}

# agent_start RULES [ARGS...]: our own pageflexd on $TMP/agent.sock.
agent_start() {
	local rules=$1
	shift
	rm -f "$TMP/agent.sock" "$TMP/control.sock"
	"$PFD" --socket "$TMP/agent.sock" --control "$TMP/control.sock" --config "$rules" "$@" \
		>"$TMP/agent.log" 2>&1 &
	AGENT_PID=$!
	for _ in $(seq 500); do
		[ -S "$TMP/control.sock" ] && ctl status >/dev/null 2>&1 && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.02
	done
	cat "$TMP/agent.log" >&2
	echo "FAIL: pageflexd did not start" >&2
	exit 1
}
agent_stop() {
	kill "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
}
ctl() { "$PFCTL" --socket "$TMP/control.sock" "$@"; }

# wait_regions PID N: until the agent knows N regions of PID (10 s at most).
wait_regions() {
	for _ in $(seq 500); do
		n=$(ctl regions "$1" --json 2>/dev/null |
			python3 -c 'import json,sys; print(len(json.load(sys.stdin)["regions"]))' 2>/dev/null) || n=0
		[ "${n:-0}" -ge "$2" ] && return 0
		sleep 0.02
	done
	echo "FAIL: the agent never learned $2 regions of pid $1" >&2
	exit 1
}
