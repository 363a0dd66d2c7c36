#!/bin/bash
# SPDX-License-Identifier: MIT
# pf-wl-seq / pf-wl-stride options (--write-every, --stride K|mixed|random):
# every visit order and write share reads back exactly what it wrote (the
# workload recomputes the expected sum from its generator and the number of
# pages written), and bad values are refused with exit status 2.
set -u
bin=${PAGEFLEX_BUILD_DIR:?}/bin
fail=0

check() { # expected-checksum-or-"" args...
	local want=$1
	shift
	local out
	out=$("$bin/pf-wl-stride" -q -s 8 -p 3 "$@") || {
		echo "FAIL: pf-wl-stride $*: exit $?: $out"
		fail=1
		return
	}
	sum=${out##*checksum=}
	sum=${sum%% *}
	if [[ -n $want && $sum != "$want" ]]; then
		echo "FAIL: pf-wl-stride $*: checksum $sum, want $want (same pages written)"
		fail=1
	fi
	echo "ok: pf-wl-stride $*: $sum"
}

check "" -w 1
all=$sum
check "" -w 0
none=$sum
[[ $all != "$none" ]] || { echo "FAIL: -w 0 and -w 1 give one checksum"; fail=1; }
# The sum does not depend on the order: same pages written, same checksum.
for t in 1 3 7 mixed random; do
	check "$all" -t $t
	check "$none" -t $t -w 0
	check "" -t $t -w 5
done
for bad in "-t 0" "-t 4097" "-t nope" "-w x"; do
	# shellcheck disable=SC2086
	"$bin/pf-wl-stride" -q -s 8 $bad >/dev/null 2>&1
	rc=$?
	[[ $rc == 2 ]] || { echo "FAIL: pf-wl-stride $bad: exit $rc, want 2"; fail=1; }
done
"$bin/pf-wl-kv" -q -s 8 -w 1 >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: pf-wl-kv accepted --write-every"; fail=1; }
exit $fail
