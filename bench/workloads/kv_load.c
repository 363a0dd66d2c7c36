/* SPDX-License-Identifier: MIT */
/*
 * pf-kv-load: a key-value load generator for memcached and redis (Debian 12
 * has no memtier), one connection on loopback, pipelined. It loads a dataset
 * of fixed-size values, a share of them keys written once and never touched
 * again (--one-hit: published cache traces are full of such objects), then
 * runs gets and sets on the other keys with Zipf(s) popularity, either for
 * a number of operations or, for steady-state measurements, for --seconds
 * after --warmup seconds that are not measured. Every value read is checked
 * against the key and the version last written; a missing or wrong value
 * is exit status 1; so is a one-hit key that does not read back as written
 * at the end (a sample of up to 2000, read after the measurement; with
 * --seconds their values are the checksum, the one thing that does not
 * depend on how many requests ran). Prints throughput and p50/p99/p99.9 latency (a request's
 * latency: from the send of its pipelined batch to its reply), and with
 * --series FILE one line per second of the measured run: seconds, ops/s,
 * p99 µs.
 *
 *   pf-kv-load -P PORT [--proto memcached|redis] [-s MIB] [-o ONE_HIT_PCT]
 *              [-n OPS | --seconds S [--warmup S]] [--depth N] [--value BYTES]
 */
#include "wl_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_DEPTH 256
#define MAX_VLEN 65536

enum proto { MEMCACHED, REDIS };

static int fd;
static char rbuf[1 << 16];
static size_t rlen, rpos;
static enum proto proto = MEMCACHED;
static unsigned vlen = 1000;

static void die(const char *what)
{
	fprintf(stderr, "pf-kv-load: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
	exit(2);
}

static void send_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= (size_t)w;
	}
}

static void fill(void)
{
	ssize_t r;

	if (rpos < rlen)
		return;
	do
		r = read(fd, rbuf, sizeof(rbuf));
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		errno = r < 0 ? errno : 0;
		die("read (server gone?)");
	}
	rlen = (size_t)r;
	rpos = 0;
}

/* One \r\n-terminated line into out (without the terminator). */
static size_t read_line(char *out, size_t cap)
{
	size_t n = 0;

	for (;;) {
		char c;

		fill();
		c = rbuf[rpos++];
		if (c == '\n') {
			if (n && out[n - 1] == '\r')
				n--;
			out[n] = 0;
			return n;
		}
		if (n + 1 < cap)
			out[n++] = c;
	}
}

static void read_exact(char *out, size_t n)
{
	while (n) {
		size_t k;

		fill();
		k = rlen - rpos < n ? rlen - rpos : n;
		memcpy(out, rbuf + rpos, k);
		rpos += k;
		out += k;
		n -= k;
	}
}

/* 256 bytes of hex (little redundancy) and a repeated tail: ~3x with lz4. */
static void make_value(char *v, uint64_t key, uint32_t ver)
{
	uint64_t h = wl_mix(key * 1000003 + ver);

	for (unsigned i = 0; i < 256 && i < vlen; i += 16) {
		char hex[17];

		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
		memcpy(v + i, hex, vlen - i < 16 ? vlen - i : 16);
		h = wl_mix(h);
	}
	for (unsigned i = 256; i < vlen; i++)
		v[i] = "kv-load-values.."[(i + key) % 16];
}

static size_t set_cmd(char *buf, uint64_t key, uint32_t ver)
{
	char k[16];
	size_t n;

	snprintf(k, sizeof(k), "k%010llu", (unsigned long long)key);
	if (proto == REDIS)
		n = (size_t)sprintf(buf, "*3\r\n$3\r\nSET\r\n$11\r\n%s\r\n$%u\r\n", k, vlen);
	else
		n = (size_t)sprintf(buf, "set %s 0 0 %u\r\n", k, vlen);
	make_value(buf + n, key, ver);
	memcpy(buf + n + vlen, "\r\n", 2);
	return n + vlen + 2;
}

static size_t get_cmd(char *buf, uint64_t key)
{
	if (proto == REDIS)
		return (size_t)sprintf(buf, "*2\r\n$3\r\nGET\r\n$11\r\nk%010llu\r\n",
				       (unsigned long long)key);
	return (size_t)sprintf(buf, "get k%010llu\r\n", (unsigned long long)key);
}

static void read_set_reply(void)
{
	char line[256];

	read_line(line, sizeof(line));
	if (strcmp(line, proto == REDIS ? "+OK" : "STORED"))
		die("set reply");
}

/* Reads a GET reply into val; false if the key is missing. */
static bool read_get_reply(char *val)
{
	char line[256];
	unsigned len = 0;

	read_line(line, sizeof(line));
	if (proto == REDIS) {
		if (!strcmp(line, "$-1"))
			return false;
		if (sscanf(line, "$%u", &len) != 1 || len != vlen)
			die("get reply");
		read_exact(val, vlen + 2);
		return true;
	}
	if (!strcmp(line, "END"))
		return false;
	if (sscanf(line, "VALUE %*s %*u %u", &len) != 1 || len != vlen)
		die("get reply");
	read_exact(val, vlen + 2);
	read_line(line, sizeof(line)); /* END */
	return true;
}

struct opts {
	int port;
	unsigned depth, get_pct;
	double seconds, warmup;
	const char *series;
};

/* Takes our own options out of argv; the rest is for wl_parse. */
static void own_opts(int *argc, char **argv, struct opts *x)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (!strcmp(a, "-P") || !strcmp(a, "--port"))
			x->port = v ? atoi(v) : 0;
		else if (!strcmp(a, "--proto") && v && !strcmp(v, "redis"))
			proto = REDIS;
		else if (!strcmp(a, "--proto") && v && !strcmp(v, "memcached"))
			proto = MEMCACHED;
		else if (!strcmp(a, "--proto")) {
			fprintf(stderr, "pf-kv-load: --proto: want memcached or redis\n");
			exit(2);
		} else if (!strcmp(a, "--depth"))
			x->depth = v ? (unsigned)atoi(v) : 0;
		else if (!strcmp(a, "--value"))
			vlen = v ? (unsigned)atoi(v) : 0;
		else if (!strcmp(a, "--get-pct"))
			x->get_pct = v ? (unsigned)atoi(v) : 101;
		else if (!strcmp(a, "--seconds"))
			x->seconds = v ? atof(v) : -1;
		else if (!strcmp(a, "--warmup"))
			x->warmup = v ? atof(v) : -1;
		else if (!strcmp(a, "--series"))
			x->series = v;
		else
			takes = false;
		if (takes && !v) {
			fprintf(stderr, "pf-kv-load: %s needs a value\n", a);
			exit(2);
		}
		if (takes)
			i++;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	if (x->port <= 0 || x->port > 65535 || !x->depth || x->depth > MAX_DEPTH || vlen < 16 ||
	    vlen > MAX_VLEN || x->get_pct > 100 || x->seconds < 0 || x->warmup < 0) {
		fprintf(stderr,
			"pf-kv-load: want -P PORT (1..65535), --depth 1..%d, --value "
			"16..%d, --get-pct 0..100, --seconds and --warmup >= 0\n",
			MAX_DEPTH, MAX_VLEN);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct opts x = {.depth = 16, .get_pct = 90};
	const struct wl_desc d = {
		.name = "kv-load",
		.summary = "Key-value load generator for memcached and redis: loads values,\n"
			   "a share of them written once and never read (--one-hit), then\n"
			   "pipelined zipf gets/sets on the others, checking every value.",
		.extra =
			"  -P, --port PORT    the server's TCP port on 127.0.0.1 (required)\n"
			"      --proto P      memcached (default) or redis\n"
			"      --value BYTES  value size (default 1000)\n"
			"      --depth N      requests per pipelined batch (default 16)\n"
			"      --get-pct P    gets among the requests (default 90; the rest sets)\n"
			"      --seconds S    measure for S seconds (instead of --ops)\n"
			"      --warmup S     run S seconds first, not measured (with --seconds)\n"
			"      --series FILE  per second of the measured run: s ops/s p99_us\n",
		.def_size_mib = 512,
		.def_passes = 1,
		.def_ops = 400000,
		.def_zipf_s = 0.99,
		.one_hit = true,
	};
	struct wl_opts o;
	int one = 1;

	own_opts(&argc, argv, &x);
	wl_parse(&d, argc, argv, &o);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)x.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to 127.0.0.1");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	/* Keys: one-hit ones spread among the others (by a hash of the key). */
	uint64_t nkeys = o.size_mib * 1024 * 1024 / (vlen + 100), nlive = 0;
	uint32_t *vers = calloc(nkeys, sizeof(*vers));
	uint64_t *live = malloc(nkeys * sizeof(*live));
	char *buf = malloc(MAX_DEPTH * ((size_t)vlen + 96));
	char *val = malloc(vlen + 2), *want = malloc(vlen);
	FILE *series = x.series ? fopen(x.series, "w") : NULL;

	if (!vers || !live || !buf || !val || !want)
		die("malloc");
	if (x.series && !series)
		die(x.series);
	for (uint64_t k = 0; k < nkeys; k++)
		if (wl_mix(k ^ (o.seed << 32)) % 100 >= o.one_hit_pct)
			live[nlive++] = k;

	uint64_t t0 = wl_now_ns();
	for (uint64_t k = 0; k < nkeys; k += x.depth) {
		unsigned batch = nkeys - k < x.depth ? (unsigned)(nkeys - k) : x.depth;
		size_t n = 0;

		for (unsigned i = 0; i < batch; i++)
			n += set_cmd(buf + n, k + i, 0);
		send_all(buf, n);
		for (unsigned i = 0; i < batch; i++)
			read_set_reply();
	}
	uint64_t t1 = wl_now_ns();
	wl_note(&o, "kv-load: loaded %llu keys (%llu read later) in %.2f s",
		(unsigned long long)nkeys, (unsigned long long)nlive, (t1 - t0) / 1e9);

	struct pf_zipf z;
	if (pf_zipf_init(&z, nlive, o.zipf_s, o.seed)) {
		fprintf(stderr, "pf-kv-load: no keys to read (--one-hit 100?)\n");
		exit(2);
	}
	uint64_t rng = o.seed, sum = 0, bad = 0, ops = 0, done_warm = 0;
	struct wl_hist *hist = calloc(1, sizeof(*hist)), *sec = calloc(1, sizeof(*sec));
	uint64_t keys[MAX_DEPTH];
	uint32_t expect[MAX_DEPTH]; /* a get's version when it was sent */
	bool sets[MAX_DEPTH];
	uint64_t warm_end = t1 + (uint64_t)(x.warmup * 1e9), tm = t1, sec_start = 0, sec_ops = 0;
	bool timed = x.seconds > 0, measuring = !timed || x.warmup <= 0;

	if (!hist || !sec)
		die("malloc");
	if (measuring)
		sec_start = tm = t1;
	for (;;) {
		uint64_t now = wl_now_ns();
		size_t n = 0;

		if (timed && !measuring && now >= warm_end) {
			measuring = true;
			done_warm = ops;
			ops = sec_ops = 0;
			tm = sec_start = now;
		}
		if (timed ? measuring && now - tm >= (uint64_t)(x.seconds * 1e9) : ops >= o.ops)
			break;
		for (unsigned i = 0; i < x.depth; i++) {
			keys[i] = live[pf_zipf_next(&z, &rng)];
			sets[i] = pf_splitmix64(&rng) % 100 >= x.get_pct;
			/* The server answers in order: a get sees the sets before it. */
			expect[i] = sets[i] ? ++vers[keys[i]] : vers[keys[i]];
			n += sets[i] ? set_cmd(buf + n, keys[i], expect[i]) :
				       get_cmd(buf + n, keys[i]);
		}
		uint64_t a = wl_now_ns();
		send_all(buf, n);
		for (unsigned i = 0; i < x.depth; i++) {
			uint64_t k = keys[i];

			if (sets[i]) {
				read_set_reply();
				sum += expect[i];
			} else if (!read_get_reply(val)) {
				bad++; /* missing: evicted by the server, or lost */
			} else {
				make_value(want, k, expect[i]);
				bad += memcmp(val, want, vlen) != 0;
				sum += wl_mix(k ^ expect[i]);
			}
			if (measuring) {
				uint64_t lat = wl_now_ns() - a;

				wl_hist_add(hist, lat);
				wl_hist_add(sec, lat);
			}
		}
		ops += x.depth;
		sec_ops += x.depth;
		now = wl_now_ns();
		if (measuring && series && now - sec_start >= 1000000000ull) {
			fprintf(series, "%.1f %.0f %.1f\n", (now - tm) / 1e9,
				sec_ops / ((now - sec_start) / 1e9),
				wl_hist_quantile_us(sec, 0.99));
			memset(sec, 0, sizeof(*sec));
			sec_start = now;
			sec_ops = 0;
		}
	}
	uint64_t t2 = wl_now_ns();
	if (series)
		fclose(series);
	/* The cold data: a sample of the one-hit keys, never rewritten. */
	uint64_t cold_sum = nkeys, checked = 0;
	for (uint64_t k = 0; k < nkeys && checked < 2000; k += 1 + nkeys / 20000) {
		size_t n;

		if (wl_mix(k ^ (o.seed << 32)) % 100 >= o.one_hit_pct)
			continue;
		n = get_cmd(buf, k);
		send_all(buf, n);
		if (!read_get_reply(val)) {
			bad++;
			continue;
		}
		make_value(want, k, 0);
		bad += memcmp(val, want, vlen) != 0;
		cold_sum = wl_mix(cold_sum ^ k ^ ((uint64_t)(unsigned char)val[vlen / 2] << 40));
		checked++;
	}
	if (timed)
		sum = cold_sum;
	if (bad)
		fprintf(stderr, "pf-kv-load: %llu gets returned a wrong or no value\n",
			(unsigned long long)bad);
	double work_s = (t2 - tm) / 1e9;
	int rc = wl_result(
		"kv-load", bad == 0,
		"proto=%s size_mib=%llu keys=%llu read_keys=%llu one_hit_pct=%u value=%u "
		"depth=%u ops=%llu warmup_ops=%llu one_hit_checked=%llu runtime_s=%.3f "
		"load_s=%.3f work_s=%.3f "
		"throughput=%.0f unit=ops/s p50_us=%.2f p99_us=%.2f p999_us=%.2f "
		"checksum=0x%016llx",
		proto == REDIS ? "redis" : "memcached", (unsigned long long)o.size_mib,
		(unsigned long long)nkeys, (unsigned long long)nlive, o.one_hit_pct, vlen, x.depth,
		(unsigned long long)ops, (unsigned long long)done_warm, (unsigned long long)checked,
		(t2 - t0) / 1e9, (t1 - t0) / 1e9, work_s, ops / work_s,
		wl_hist_quantile_us(hist, 0.50), wl_hist_quantile_us(hist, 0.99),
		wl_hist_quantile_us(hist, 0.999), (unsigned long long)sum);
	free(vers);
	free(live);
	free(buf);
	free(val);
	free(want);
	free(hist);
	free(sec);
	return rc;
}
