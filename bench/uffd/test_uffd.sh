#!/usr/bin/env bash
# Checks the userfaultfd pager end to end: workloads that verify every byte
# they read run under libpf-uffd.so with a budget of a quarter of their data,
# on both stores, spinning and in poll(), and must read back exactly what they
# wrote while the pager really evicted and restored pages. Exit 77 = skipped.
set -euo pipefail
build=${1:?usage: test_uffd.sh BUILD_DIR}
lib=$build/lib/libpf-uffd.so
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (userfaultfd for kernel faults)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # store spin cmd...
	local store=$1 spin=$2
	shift 2
	local rc=0
	PF_UFFD_STATS=$tmp/stats PF_UFFD_BUDGET_MB=16 PF_UFFD_STORE=$store PF_UFFD_SPIN=$spin \
		PF_UFFD_DIR=$tmp LD_PRELOAD=$lib "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ $rc -ne 0 ] || ! grep -q 'verify=ok' "$tmp/out"; then
		cat "$tmp/out" "$tmp/err"
		echo "FAIL: exit status $rc (store=$store, spin=$spin): $*"
		exit 1
	fi
	local evicted swapins
	# no match must reach the FAIL below, not end the script silently (set -e)
	evicted=$(grep -o 'evicted=[0-9]*' "$tmp/stats" 2>/dev/null | cut -d= -f2 || true)
	swapins=$(grep -o 'swapins=[0-9]*' "$tmp/stats" 2>/dev/null | cut -d= -f2 || true)
	if [ "${evicted:-0}" -eq 0 ] || [ "${swapins:-0}" -eq 0 ]; then
		cat "$tmp/stats" 2>/dev/null || echo "(no stats file)"
		echo "FAIL: the pager did not page ($store, spin=$spin): $*"
		exit 1
	fi
	echo "ok  store=$store spin=$spin evicted=$evicted swapins=$swapins  $(basename "$1")"
}

for store in lz4 file; do
	for spin in 1 0; do
		run $store $spin "$build/bin/pf-uffd-faultlat" 64
		run $store $spin "$build/bin/pf-wl-kv" -q -s 64 -n 100000
		run $store $spin "$build/bin/pf-wl-stride" -q -s 64 -p 2
		run $store $spin "$build/bin/pf-wl-seq" -q -s 64 -p 2
		run $store $spin "$build/bin/pf-wl-pagerank" -q -s 64 -p 2
	done
done
echo "pf-uffd: all runs read back what they wrote"
