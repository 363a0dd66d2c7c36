#!/bin/bash
# SPDX-License-Identifier: MIT
# pf-kv-load against real redis-server and memcached on loopback: both
# protocols load, run pipelined and timed, read back every value as written
# (verify=ok), give the same checksum for the same one-hit data, and refuse
# bad options with exit status 2. A server that loses a key is caught.
set -u
bin=${PAGEFLEX_BUILD_DIR:?}/bin/pf-kv-load
for exe in redis-server redis-cli memcached; do
	command -v $exe >/dev/null || { echo "SKIP: $exe not installed"; exit 77; }
done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rp=$(port)
mp=$(port)
redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
	--logfile "" >/dev/null 2>&1 &
rpid=$!
memcached -p "$mp" -l 127.0.0.1 -U 0 -t 1 -m 256 -u root >/dev/null 2>&1 &
mpid=$!
trap 'kill $rpid $mpid 2>/dev/null' EXIT
for _ in $(seq 50); do
	redis-cli -p "$rp" ping >/dev/null 2>&1 && break
	sleep 0.1
done
fail=0
sums=()
for proto in redis memcached; do
	p=$rp
	[[ $proto == memcached ]] && p=$mp
	out=$("$bin" -q -P "$p" --proto $proto -s 16 -o 30 --seconds 1 --warmup 0.5) ||
		{ echo "FAIL: $proto timed run: $out"; fail=1; }
	echo "$proto: $out"
	[[ $out == *verify=ok* && $out == *one_hit_checked=2000* ]] ||
		{ echo "FAIL: $proto: not verified"; fail=1; }
	sums+=("${out##*checksum=}")
	out=$("$bin" -q -P "$p" --proto $proto --depth 1 -s 8 -n 2000) ||
		{ echo "FAIL: $proto counted run: $out"; fail=1; }
done
[[ ${sums[0]} == "${sums[1]}" ]] || { echo "FAIL: checksums differ: ${sums[*]}"; fail=1; }
# A server that lost keys: flush redis between the load and the end.
"$bin" -q -P "$rp" --proto redis -s 16 -o 30 --seconds 2 >/tmp/kvl.$$ 2>&1 &
lp=$!
sleep 1.2
redis-cli -p "$rp" flushall >/dev/null
wait $lp
rc=$?
[[ $rc == 1 ]] && grep -q verify=FAIL /tmp/kvl.$$ ||
	{ echo "FAIL: lost keys not caught (exit $rc): $(cat /tmp/kvl.$$)"; fail=1; }
rm -f /tmp/kvl.$$
for bad in "--proto smtp" "--depth 0" "--depth 999" "--value 8" "--get-pct 101" "--seconds"; do
	# shellcheck disable=SC2086
	"$bin" -q -P "$rp" $bad >/dev/null 2>&1
	rc=$?
	[[ $rc == 2 ]] || { echo "FAIL: pf-kv-load $bad: exit $rc, want 2"; fail=1; }
done
"$bin" -q -s 8 >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: no -P accepted"; fail=1; }
exit $fail
