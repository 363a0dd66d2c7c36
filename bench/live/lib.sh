# Shared by bench/live/*.sh: build dir, root/swap checks, an agent of our own
# in a private temp dir (its own sockets), a workload under the shim, and
# JSON queries on `pageflexctl regions PID --json`. Sourced, not run.
set -eu
LIVE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LIVE_DIR/../.." && pwd)
BLD=${PF_BUILD:-${PAGEFLEX_BUILD_DIR:-$REPO/build}}
PFD=$BLD/bin/pageflexd
PFCTL=$BLD/bin/pageflexctl
SIM=$BLD/bin/pageflex-sim
SHIM=$BLD/lib/libpageflex.so
# shellcheck source=SCRIPTDIR/../../scripts/lib/agent.sh
. "$REPO/scripts/lib/agent.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (BPF, process_madvise on other processes)"
for f in "$PFD" "$PFCTL" "$SIM" "$SHIM"; do [ -e "$f" ] || skip "$f not built (PF_BUILD=$BLD)"; done
"$REPO/scripts/swap-setup.sh" >/dev/null 2>&1 || skip "no swap (scripts/swap-setup.sh failed)"

TMP=$(mktemp -d /tmp/pf-live.XXXXXX)
AGENT_PIDS=()
WL_PID=
cleanup() {
	[ -n "$SWAP_WATCH" ] && kill "$SWAP_WATCH" 2>/dev/null
	[ -n "$WL_PID" ] && kill -9 "$WL_PID" 2>/dev/null
	for a in "${AGENT_PIDS[@]}"; do kill "$a" 2>/dev/null && wait "$a" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# A disk swap tier (another helper's bench, e.g. /var/lib/pageflex/bench-swap-*)
# changes what a refault costs and adds the kernel's swap readahead (swap-cache
# hits without any prefetch of ours): the runs are distorted while one is
# active. Never removed here (not ours): watched every 100 ms, and reported.
SWAP_WATCH=
swap_watch_start() {
	: >"$TMP/diskswap"
	while :; do
		awk 'NR > 1 && $2 == "file"' /proc/swaps >>"$TMP/diskswap"
		sleep 0.1
	done &
	SWAP_WATCH=$!
}
# distorted: true (and says so) if a disk swap was active at any time.
distorted() {
	[ -n "$SWAP_WATCH" ] && kill "$SWAP_WATCH" 2>/dev/null && wait "$SWAP_WATCH" 2>/dev/null
	SWAP_WATCH=
	awk '{ print $1 " priority " $5 }' "$TMP/diskswap" | sort -u >"$TMP/diskswap.u"
	[ -s "$TMP/diskswap.u" ] || return 1
	echo "NOTE: a disk swap tier was active during the runs (not ours, left alone):"
	sed 's/^/  /' "$TMP/diskswap.u"
	return 0
}

# agent_start [--name NAME] RULES [ARGS...]: our own pageflexd on
# $TMP/NAME.sock, control socket $TMP/NAME.ctl (NAME: agent by default).
agent_start() {
	local name=agent
	if [ "$1" = --name ]; then
		name=$2
		shift 2
	fi
	local rules=$1
	shift
	rm -f "$TMP/$name.sock" "$TMP/$name.ctl" "$TMP/$name.log"
	local ok=0
	pf_agent_start "$PFCTL" "$TMP/$name.ctl" "$TMP/$name.log" \
		"$PFD" --socket "$TMP/$name.sock" --control "$TMP/$name.ctl" --config "$rules" "$@" || ok=1
	AGENT_PIDS+=("$PF_AGENT_PID")
	[ $ok = 0 ] || exit 1
}
# agent_stop: stops every agent started so far.
agent_stop() {
	for a in "${AGENT_PIDS[@]}"; do
		kill "$a" 2>/dev/null || true
		wait "$a" 2>/dev/null || true
	done
	AGENT_PIDS=()
}
ctl() { "$PFCTL" --socket "$TMP/agent.ctl" "$@"; }

