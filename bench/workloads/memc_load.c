/* SPDX-License-Identifier: MIT */
/*
 * pf-memc-load: a memcached load generator (Debian 12 has no memtier). Loads
 * N keys over the text protocol, then runs zipf-distributed gets and sets
 * (90/10) on one connection, one request at a time, checking every value it
 * reads against the key and the version it last wrote. Reports throughput,
 * p50/p99 latency and a checksum; exit status 1 on a wrong or missing value.
 *
 *   pf-memc-load -P PORT [-s MIB] [-n OPS] [-z S] [-S SEED]
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

#define VLEN 1000

static int fd;
static char rbuf[1 << 16];
static size_t rlen, rpos;

static void die(const char *what)
{
	fprintf(stderr, "pf-memc-load: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
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
	if (rpos < rlen)
		return;
	ssize_t r;
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

/* reads one \r\n-terminated line into out (without the terminator) */
static size_t read_line(char *out, size_t cap)
{
	size_t n = 0;
	for (;;) {
		fill();
		char c = rbuf[rpos++];
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
		fill();
		size_t k = rlen - rpos < n ? rlen - rpos : n;
		memcpy(out, rbuf + rpos, k);
		rpos += k;
		out += k;
		n -= k;
	}
}

static void make_value(char *v, uint64_t key, uint32_t ver)
{
	/* 256 bytes of hex (little redundancy) + a repeated tail: ~3x lz4 */
	uint64_t h = wl_mix(key * 1000003 + ver);
	for (int i = 0; i < 256; i += 16) {
		snprintf(v + i, 17, "%016llx", (unsigned long long)h);
		h = wl_mix(h);
	}
	for (int i = 256; i < VLEN; i++)
		v[i] = "memcached-value:"[(i + key) % 16];
}

static size_t set_cmd(char *buf, uint64_t key, uint32_t ver)
{
	size_t n = (size_t)sprintf(buf, "set k%010llu 0 0 %d\r\n", (unsigned long long)key, VLEN);
	make_value(buf + n, key, ver);
	memcpy(buf + n + VLEN, "\r\n", 2);
	return n + VLEN + 2;
}

int main(int argc, char **argv)
{
	int port = 0;
	/* -P PORT is ours; the rest goes to the common parser */
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "-P") || !strcmp(argv[i], "--port")) {
			port = atoi(argv[i + 1]);
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 1) * sizeof(char *));
			argc -= 2;
			break;
		}
	}
	const struct wl_desc d = {
		.name = "memc",
		.summary = "memcached load generator: loads 1000-byte values, then zipf\n"
			   "gets/sets (90/10) on one connection, checking every value.",
		.extra = "  -P, --port PORT    memcached's TCP port on 127.0.0.1 (required)\n",
		.def_size_mib = 512,
		.def_passes = 1,
		.def_ops = 400000,
		.def_zipf_s = 0.99,
	};
	struct wl_opts o;
	wl_parse(&d, argc, argv, &o);
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "pf-memc-load: -P PORT (1..65535) is required\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to 127.0.0.1");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	uint64_t nkeys = o.size_mib * 1024 * 1024 / (VLEN + 100);
	uint32_t *vers = calloc(nkeys, sizeof(*vers));
	char *buf = malloc(64 * (VLEN + 64));
	char line[256], *val = malloc(VLEN + 2), *want = malloc(VLEN);
	if (!vers || !buf || !val || !want)
		die("malloc");

	uint64_t t0 = wl_now_ns();
	for (uint64_t k = 0; k < nkeys; k += 64) {
		size_t n = 0;
		unsigned batch = nkeys - k < 64 ? (unsigned)(nkeys - k) : 64;
		for (unsigned i = 0; i < batch; i++)
			n += set_cmd(buf + n, k + i, 0);
		send_all(buf, n);
		for (unsigned i = 0; i < batch; i++)
			if (read_line(line, sizeof(line)) == 0 || strcmp(line, "STORED"))
				die("set during load");
	}
	uint64_t t1 = wl_now_ns();
	wl_note(&o, "memc: loaded %llu keys in %.2f s", (unsigned long long)nkeys, (t1 - t0) / 1e9);

	struct pf_zipf z;
	if (pf_zipf_init(&z, nkeys, o.zipf_s, o.seed)) {
		fprintf(stderr, "pf-memc-load: no keys to draw from\n");
		exit(2);
	}
	uint64_t rng = o.seed;
	struct wl_hist *hist = calloc(1, sizeof(*hist));
	uint64_t sum = 0, bad = 0;
	for (uint64_t op = 0; op < o.ops; op++) {
		uint64_t key = pf_zipf_next(&z, &rng);
		bool set = pf_splitmix64(&rng) % 10 == 0;
		uint64_t a = wl_now_ns();
		if (set) {
			send_all(buf, set_cmd(buf, key, ++vers[key]));
			if (read_line(line, sizeof(line)) == 0 || strcmp(line, "STORED"))
				die("set");
			sum += vers[key];
		} else {
			int n = sprintf(line, "get k%010llu\r\n", (unsigned long long)key);
			send_all(line, (size_t)n);
			read_line(line, sizeof(line));
			unsigned len = 0;
			if (sscanf(line, "VALUE %*s %*u %u", &len) != 1 || len != VLEN) {
				bad++; /* missing (evicted by memcached?) or malformed */
				if (strcmp(line, "END"))
					die("get reply");
				continue;
			}
			read_exact(val, VLEN + 2);
			read_line(line, sizeof(line));
			make_value(want, key, vers[key]);
			if (memcmp(val, want, VLEN))
				bad++;
			sum += wl_mix(key ^ vers[key]);
		}
		wl_hist_add(hist, wl_now_ns() - a);
	}
	uint64_t t2 = wl_now_ns();
	if (bad)
		fprintf(stderr, "pf-memc-load: %llu gets returned a wrong or no value\n",
			(unsigned long long)bad);
	double work_s = (t2 - t1) / 1e9;
	return wl_result("memc", bad == 0,
			 "size_mib=%llu keys=%llu ops=%llu runtime_s=%.3f load_s=%.3f work_s=%.3f "
			 "throughput=%.0f unit=ops/s p50_us=%.2f p99_us=%.2f checksum=0x%016llx",
			 (unsigned long long)o.size_mib, (unsigned long long)nkeys,
			 (unsigned long long)o.ops, (t2 - t0) / 1e9, (t1 - t0) / 1e9, work_s,
			 o.ops / work_s, wl_hist_quantile_us(hist, 0.50),
			 wl_hist_quantile_us(hist, 0.99), (unsigned long long)sum);
}
