#!/usr/bin/env bash
# Kernel matrix, guest side: runs the steps named in $KM_STEPS, each under a
# timeout, and appends "step NAME PASS|FAIL|SKIP SECONDS NOTE" per step to
# /run/km/results (the host reads it; full output in /run/km/NAME.log).
# Steps: swap (PageFlex's zram swap via scripts/swap-setup.sh), check
# (pageflexd --check), margins (verified instructions of every BPF program,
# test_bpf_margins), scanner, faultclass, leap, coldage (Criterion tests of
# the agent), caps (pageflexd.service's capability set is enough here:
# test/root/service/caps.sh --enough), demo (scripts/demo.sh).
set -uo pipefail # no -e: a failed step is recorded and the next one runs
# shellcheck source=/dev/null
. /run/km/env
B=$KM_BUILD
T=$B/test-bin
CRIT=(--jobs 1 --short-filename --verbose)
export PAGEFLEX_SOURCE_DIR=$KM_SRC PAGEFLEX_BUILD_DIR=$B

# guest-steps.sh --run NAME: the command of step NAME (exec'd under timeout).
if [ "${1:-}" = --run ]; then
	case $2 in
	swap) exec bash "$KM_SRC/scripts/swap-setup.sh" ;;
	check) exec "$B/bin/pageflexd" --check ;;
	margins) exec "$T/test_bpf_margins" "${CRIT[@]}" ;;
	scanner)
		exec "$T/test_agent_scanner" "${CRIT[@]}" \
			--filter 'scanner/every_third_page_of_256mib_exact'
		;;
	faultclass) exec "$T/test_agent_faultclass" "${CRIT[@]}" ;;
	leap) exec "$T/test_agent_leap_fault_path" "${CRIT[@]}" ;;
	coldage)
		# TCG pages out ~100 MB/s: a 512 MiB cold region misses the test's 2T.
		PAGEFLEX_TEST_COLD_MIB=${KM_COLD_MIB:-64} exec "$T/test_agent" "${CRIT[@]}" \
			--filter 'agent/cold_age_idle_out_hot_kept'
		;;
	caps) exec bash "$KM_SRC/test/root/service/caps.sh" --enough ;;
	demo) exec bash "$KM_SRC/scripts/demo.sh" "$B" ;;
	*)
		echo "guest-steps: unknown step $2" >&2
		exit 2
		;;
	esac
fi

# Why a step failed, in one line of at most 160 characters: Criterion's
# first assertion message (with file:line), else the first error-like line of
# the log, else its last line. Criterion's "Test is disabled" lines (tests
# left out by --filter) are noise.
why() {
	awk '
	/Test is disabled|\[SKIP\]/ {next}
	/Assertion Failed/ {loc = $2; want = 1; next}
	want && /^\[----\] +[^ ]/ {sub(/^\[----\] +/, ""); print loc " " $0; found = 1; exit}
	first == "" && /error|FAIL|CRASH|Unexpected signal|cannot|unrecognized|refuse/ {first = $0}
	NF {last = $0}
	END {if (!found) print (first != "" ? first : last)}' "$1" | tr -s ' \t' ' ' | cut -c1-160
}
# A skipped Criterion test (cr_skip_test), not one left out by --filter.
skipped() { grep '\[SKIP\]' "$1" | grep -v 'Test is disabled' | head -n1 | cut -c1-160; }

for s in $KM_STEPS; do
	log=/run/km/$s.log
	echo "@km start $s"
	echo "start $s" >>/run/km/results
	t0=$(date +%s%N)
	timeout -k 5 "$KM_STEP_TIMEOUT" bash "$0" --run "$s" >"$log" 2>&1 </dev/null
	rc=$?
	dt=$((($(date +%s%N) - t0) / 1000000))
	secs=$(printf '%d.%d' $((dt / 1000)) $((dt % 1000 / 100)))
	note=
	if [ $rc -eq 0 ] && grep -q 'Synthesis: Tested: 0 ' "$log"; then
		st=FAIL note="no test matched the filter"
	elif [ $rc -eq 0 ] && [ -n "$(skipped "$log")" ]; then
		st=SKIP note=$(skipped "$log")
	elif [ $rc -eq 0 ]; then
		st=PASS
	elif [ $rc -eq 77 ]; then
		st=SKIP note=$(tail -n1 "$log" | cut -c1-160)
	elif [ $rc -eq 124 ] || { [ $rc -eq 137 ] && [ $dt -ge $((KM_STEP_TIMEOUT * 1000)) ]; }; then
		st=FAIL note="timed out after ${KM_STEP_TIMEOUT}s"
	elif [ $rc -gt 128 ]; then
		st=FAIL note="killed by signal $((rc - 128)) (9: out of memory?): $(why "$log")"
	else
		st=FAIL note="exit $rc: $(why "$log")"
	fi
	echo "step $s $st $secs $note" >>/run/km/results
	echo "@km step $s $st ${secs}s $note"
done
