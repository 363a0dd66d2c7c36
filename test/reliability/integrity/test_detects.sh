#!/usr/bin/env bash
# Proves that pf-integrity's checker can fail: each corruption mode is
# injected into one unit mid-run, and the run must exit 1 with exactly one
# mismatch that names the injected region and unit with the right verdict.
# A clean run of the same size must pass. No privileges needed.
set -euo pipefail
src=${PAGEFLEX_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
bin=${PAGEFLEX_BUILD_DIR:-$src/build}/bin/pf-integrity
common=(-s 64 -r 24 -t 2 -d 1 -P 20 -c 50 -q)
fail=0

check() { # mode verdict [extra args]
	local mode=$1 verdict=$2 out rc inj reg unit
	shift 2
	set +e
	out=$("$bin" "${common[@]}" -i "$mode" "$@" 2>&1)
	rc=$?
	set -e
	inj=$(grep '^INJECT' <<<"$out" || true)
	reg=$(sed -n 's/.* region=\([0-9]*\).*/\1/p' <<<"$inj")
	unit=$(sed -n 's/.* unit=\([0-9]*\).*/\1/p' <<<"$inj")
	if [ "$rc" -ne 1 ] || [ -z "$inj" ] ||
		! grep -q ' mismatches=1 ' <<<"$out" ||
		! grep -q "^MISMATCH region=$reg .* unit=$unit .*: $verdict" <<<"$out"; then
		echo "FAIL: --inject $mode $*: want exit 1 and one '$verdict' mismatch at the injected unit"
		echo "$out" | head -20
		fail=1
	else
		echo "ok: --inject $mode $* caught: $(grep '^MISMATCH' <<<"$out" | cut -d' ' -f2-)"
	fi
}

out=$("$bin" "${common[@]}") || { echo "FAIL: clean run reported mismatches"; echo "$out"; exit 1; }
echo "ok: clean run: $(sed -n 's/.*\(bytes_verified=[0-9]*\).*\(mismatches=[0-9]*\).*/\1 \2/p' <<<"$out")"
check flip corrupt -S 11
check zero zeroed -S 12
check drop zeroed -S 13
check stale stale -S 14
check misplace misplaced -S 15
# Found by the final pass (injected after the writers stopped).
check drop zeroed -S 16 --seconds 0
check flip corrupt -S 17 --seconds 0
exit $fail
