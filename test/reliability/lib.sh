# Sourced by the reliability tests: a private pageflexd in a temporary
# directory (its own shim and control sockets, so tests never disturb another
# agent), helpers to run programs under the shim, and JSON/RESULT parsing.
# Every process started here is recorded and ended by pid at exit.
# shellcheck shell=bash

rel_src=${PAGEFLEX_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
rel_bld=${PAGEFLEX_BUILD_DIR:-$rel_src/build}
PFD=$rel_bld/bin/pageflexd
PFCTL=$rel_bld/bin/pageflexctl
PFINT=$rel_bld/bin/pf-integrity
PFROGUE=$rel_bld/bin/pf-rogue
SHIM=$rel_bld/lib/libpageflex.so
AGENT_PID=
rel_pids=()
# shellcheck source=SCRIPTDIR/../../scripts/lib/agent.sh
. "$rel_src/scripts/lib/agent.sh"

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	[ -n "${rel_tmp:-}" ] && [ -f "$rel_tmp/agent.log" ] && {
		echo "--- last agent log lines:"
		tail -n 25 "$rel_tmp/agent.log"
	}
	exit 1
}
note() { echo "$(basename "$0"): $*"; }

rel_cleanup() {
	local p
	for p in "${rel_pids[@]}" $AGENT_PID; do
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "${rel_tmp:-}" ] && rm -rf "$rel_tmp"
}

# rel_init [needs...]: root, agent, shim, swap, rogue
rel_init() {
	local n
	for n in "$@"; do
		case $n in
		root) [ "$(id -u)" -eq 0 ] || skip "needs root (BPF, process_madvise, swap)" ;;
		agent) [ -x "$PFD" ] && [ -x "$PFCTL" ] || skip "pageflexd/pageflexctl not built" ;;
		shim) [ -f "$SHIM" ] || skip "libpageflex.so not built" ;;
		rogue) [ -x "$PFROGUE" ] || fail "$PFROGUE not built" ;;
		swap)
			if [ "$(awk 'NR > 1' /proc/swaps | wc -l)" -eq 0 ]; then
				"$rel_src/scripts/swap-setup.sh" >&2 ||
					skip "scripts/swap-setup.sh could not set up swap"
			fi
			;;
		esac
	done
	rel_tmp=$(mktemp -d /tmp/pf-rel.XXXXXX)
	chmod 755 "$rel_tmp"
	trap rel_cleanup EXIT
}

# Remembers a background pid so that cleanup ends it.
track() { rel_pids+=("$1"); }

ctl() { "$PFCTL" -s "$rel_tmp/control.sock" "$@"; }

# agent_start [pageflexd options]: starts a private agent, waits until it
# answers (scripts/lib/agent.sh); if it does not, its log, one FAIL line, exit 1.
agent_start() {
	agent_start_cmd "$PFD" -s "$rel_tmp/agent.sock" --control "$rel_tmp/control.sock" "$@"
}
# agent_start_cmd CMD...: the same for a command line of its own (e.g. pageflexd
# behind setpriv); it must use $rel_tmp/control.sock.
agent_start_cmd() {
	local ok=0
	pf_agent_start "$PFCTL" "$rel_tmp/control.sock" "$rel_tmp/agent.log" "$@" || ok=1
	AGENT_PID=$PF_AGENT_PID
	[ $ok = 0 ] || { AGENT_PID=; exit 1; }
}

# agent_stop: SIGTERM, then SIGKILL after 5 s. Returns the agent's exit code.
agent_stop() {
	local i rc=0
	[ -n "$AGENT_PID" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || rc=$?
	AGENT_PID=
	return $rc
}

# under_shim CMD...: runs CMD with the shim pointed at the private agent.
under_shim() {
	PAGEFLEX_SOCKET="$rel_tmp/agent.sock" LD_PRELOAD="$SHIM" "$@"
}

# json EXPR: evaluates a Python expression over `pageflexctl stats --json` (as j).
json() {
	ctl stats --json | python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# field NAME TEXT: NAME=value from a RESULT line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -n1; }

# swap_kib PID: the process's swapped memory.
swap_kib() { awk '/^VmSwap:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# agent_logged REGEX: the agent's log has a line matching REGEX.
agent_logged() { grep -Eq "$1" "$rel_tmp/agent.log"; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$1 i
	shift
	for i in $(seq $((t * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
