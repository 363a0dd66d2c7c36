# Case for compare.sh: Debian's redis-server on a loopback port chosen here
# (never 6379) answers redis-benchmark (fixed keys, so the dataset it leaves
# is deterministic) and a bulk load through redis-cli --pipe (200k keys, some
# values of 64 KiB - 1 MiB), then deletes half and asks for MEMORY PURGE
# (jemalloc's purge, through the shim's jemalloc), BGSAVE (a forked child
# writes the dataset) and DEBUG RELOAD. Compared: DBSIZE, DEBUG DIGEST of the
# whole dataset, sampled DIGEST-VALUEs, benchmark exit codes.
# The server, clients and benchmark all run under the shim. The server is
# started and stopped by this case; case_cleanup kills it on any exit.
# Many short processes: also run against a hung agent (they must not wait).
CASE_HUNG_AGENT=1
# Under pageflexd (2 s cold age) the loaded dataset is paged out while the
# server idles, then every value is read back for the digest.
CASE_PAGED=1
case_check() {
	for p in redis-server redis-cli redis-benchmark; do
		command -v $p >/dev/null || { echo "$p is not installed"; return 1; }
	done
}
redis_pid=
case_cleanup() {
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
		redis_pid=
	fi
}
# RESP commands for the bulk load: deterministic keys and values.
bulk_load() {
	awk 'function cmd(a, n,   i, s) {
		s = "*" n "\r\n"
		for (i = 1; i <= n; i++) s = s "$" length(a[i]) "\r\n" a[i] "\r\n"
		printf "%s", s
	}
	BEGIN {
		pad = "abcdefghijklmnopqrstuvwxyz0123456789"
		while (length(pad) < 4096) pad = pad pad
		for (i = 0; i < 200000; i++) {
			a[1] = "SET"; a[2] = "k:" i
			a[3] = substr(pad, 1 + i % 30, 10 + (i * 7919) % 2000) i
			cmd(a, 3)
			if (i % 100 == 0) { a[1] = "HSET"; a[2] = "h:" int(i / 1000); a[3] = "f" i; a[4] = i * 3; cmd(a, 4) }
			if (i % 50 == 0) { a[1] = "RPUSH"; a[2] = "l:" i % 7; a[3] = "e" i; cmd(a, 3) }
			if (i % 40 == 0) { a[1] = "ZADD"; a[2] = "z"; a[3] = (i * 2654435761) % 1000003; a[4] = "m" i; cmd(a, 4) }
		}
		big = pad; while (length(big) < 1048576) big = big big
		for (i = 0; i < 40; i++) {
			a[1] = "SET"; a[2] = "big:" i; a[3] = substr(big, 1 + i, 65536 + i * 24576) i
			cmd(a, 3)
		}
	}'
}
delete_half() {
	awk 'BEGIN { for (i = 0; i < 200000; i += 2) printf "*2\r\n$3\r\nDEL\r\n$%d\r\nk:%d\r\n", length("k:" i), i
		for (i = 0; i < 40; i += 3) printf "*2\r\n$3\r\nDEL\r\n$%d\r\nbig:%d\r\n", length("big:" i), i }'
}
cli() { under_test redis-cli -p "$port" "$@" 2>&1; }
start_server() {
	local tries
	for tries in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		under_test redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$PWD" --logfile "$PWD/redis.log" --enable-debug-command local \
			--daemonize no >/dev/null 2>&1 &
		redis_pid=$!
		for _ in $(seq 100); do
			kill -0 "$redis_pid" 2>/dev/null || break
			[ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
			sleep 0.1
		done
		case_cleanup # port taken (or a failed start): try another one
	done
	echo "redis-server did not start; last log:"
	tail -5 redis.log
	return 1
}
case_run() {
	start_server || return 1
	under_test redis-benchmark -p "$port" -q -n 20000 -c 10 -P 16 -d 100 \
		-t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset >bench.log 2>&1
	echo "redis-benchmark exit $?"
	bulk_load | under_test redis-cli -p "$port" --pipe 2>&1 | tail -1
	paged_pause 32 8
	echo "dbsize $(cli dbsize)"
	echo "digest $(cli debug digest)"
	for k in k:0 k:1 k:199999 h:7 l:3 z big:0 big:39 key:__rand_int__ counter:__rand_int__ mylist myset; do
		echo "$k $(cli debug digest-value "$k" | tr '\n' ' ')"
	done
	cli get k:12345
	cli lrange mylist 0 3
	cli zrange z 0 4 withscores
	delete_half | under_test redis-cli -p "$port" --pipe 2>&1 | tail -1
	cli memory purge
	echo "dbsize $(cli dbsize)"
	echo "digest $(cli debug digest)"
	cli info memory | grep '^mem_allocator'
	# Fork: BGSAVE writes the dataset from a child process; then DEBUG
	# RELOAD saves and loads it again in the server; the digest must hold.
	cli bgsave
	for _ in $(seq 300); do
		cli info persistence | grep -q '^rdb_bgsave_in_progress:0' && break
		sleep 0.1
	done
	cli info persistence | grep -e '^rdb_bgsave_in_progress' -e '^rdb_last_bgsave_status' | tr -d '\r'
	cli debug reload
	echo "digest after reload $(cli debug digest)"
	cli shutdown nosave
	wait "$redis_pid"
	echo "redis-server exit $?"
	redis_pid=
}
