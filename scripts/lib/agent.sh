# shellcheck shell=bash
# Sourced (not run) by every script that starts pageflexd: scripts/demo.sh,
# test/reliability/lib.sh, test/root/agent/shim_restart.sh,
# test/preload/real-programs/compare.sh, bench/live/lib.sh, bench/agent/,
# bench/micro/. The one place that starts the agent and waits until it is
# ready (`pageflexctl wait`: its control socket answers, which pageflexd opens
# only after its BPF programs are loaded), with a time limit. If it exits
# first or never answers, its log is printed once and one line says why, so a
# broken agent never shows up as the same "no pageflexd listening" error
# printed by every poll of a retry loop.
#
#   pf_agent_start PAGEFLEXCTL CONTROL LOG CMD...   start CMD, wait until ready
#   pf_agent_wait PAGEFLEXCTL CONTROL PID LOG       wait for an agent started otherwise
#   pf_agent_running PID LOG                        still running? (else: log, FAIL line)
#
# The wait is $PF_AGENT_TIMEOUT seconds at most (default 30). Failures go to
# stderr and end with `FAIL: pageflexd ...`; the functions return 1 and the
# caller exits (they never exit themselves, so the caller's clean-up runs).

# pf_agent_start PAGEFLEXCTL CONTROL LOG CMD...
# Runs CMD (pageflexd and its options, which must make CONTROL its control
# socket, possibly behind a wrapper such as setpriv that execs it) in the
# background, stdout and stderr appended to LOG; sets PF_AGENT_PID; then
# pf_agent_wait. Returns 1 if the agent did not become ready.
pf_agent_start() {
	local ctl=$1 control=$2 log=$3 from
	shift 3
	: >>"$log"
	from=$(stat -c %s "$log")
	"$@" >>"$log" 2>&1 &
	PF_AGENT_PID=$!
	pf_agent_wait "$ctl" "$control" "$PF_AGENT_PID" "$log" "$from"
}

# pf_agent_wait PAGEFLEXCTL CONTROL PID LOG [FROM_BYTE]
# Waits until the agent (PID, a child of this shell) answers on CONTROL. If it
# exits first or does not answer in time (it is then stopped), prints its log
# (from byte FROM_BYTE on: earlier runs in the same file are not repeated) and
# `FAIL: pageflexd did not become ready: REASON`, and returns 1.
pf_agent_wait() {
	local ctl=$1 control=$2 pid=$3 log=$4 from=${5:-0} t=${PF_AGENT_TIMEOUT:-30} why rc=0
	why=$("$ctl" --socket "$control" wait --pid "$pid" --timeout "$t" 2>&1) && return 0
	why=${why#pageflexctl: }
	if pf_agent_alive "$pid"; then
		# No answer in time (or a refusal): stop it, so that its log is complete.
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 20); do pf_agent_alive "$pid" || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		why="$why (stopped it)"
	else
		{ wait "$pid"; } 2>/dev/null || rc=$?
		why="it $(pf_agent_status "$rc") before answering on $control"
	fi
	pf_agent_log "$log" "$from"
	echo "FAIL: pageflexd did not become ready: $why" >&2
	return 1
}

# pf_agent_running PID LOG: true while the agent runs; once it has exited,
# prints its log and `FAIL: pageflexd exited with status N` (or was killed by
# signal N) and returns 1.
pf_agent_running() {
	local rc=0
	pf_agent_alive "$1" && return 0
	{ wait "$1"; } 2>/dev/null || rc=$?
	pf_agent_log "$2" 0
	echo "FAIL: pageflexd $(pf_agent_status "$rc")" >&2
	return 1
}

# pf_agent_status RC: "exited with status N" or "was killed by signal N (NAME)".
pf_agent_status() {
	if [ "$1" -gt 128 ] && [ "$1" -lt 160 ]; then
		echo "was killed by signal $(($1 - 128)) (SIG$(kill -l $(($1 - 128))))"
	else
		echo "exited with status $1"
	fi
}

# pf_agent_alive PID: the process exists and is not a zombie.
pf_agent_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	case $st in Z* | X* | '') return 1 ;; esac
	return 0
}

# pf_agent_log LOG [FROM_BYTE]: the agent's log on stderr, once. A long one
# (a BPF verifier log is thousands of lines) is cut to its last 40 lines, and
# the whole of it is kept in a file that outlives the caller's temp dir.
pf_agent_log() {
	local log=$1 from=${2:-0} n keep
	n=$(tail -c +$((from + 1)) "$log" 2>/dev/null | wc -l)
	if [ "$n" -le 60 ]; then
		echo "--- pageflexd log ($log):" >&2
		tail -c +$((from + 1)) "$log" >&2
	else
		keep=$(mktemp /tmp/pageflexd-log.XXXXXX)
		tail -c +$((from + 1)) "$log" >"$keep"
		echo "--- pageflexd log: the last 40 of $n lines (all of it: $keep):" >&2
		tail -n 40 "$keep" >&2
	fi
	echo "---" >&2
}
