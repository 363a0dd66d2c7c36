// SPDX-License-Identifier: MIT
/*
 * The `make demo` workload: a service with a hot region (64 MiB, read on
 * every request) and a cold one (512 MiB, built once, read back only at the
 * end). It names them with pageflex_tag() when libpageflex.so is preloaded;
 * without the shim and with --register SOCKET it reports them itself over
 * the wire protocol (the agent still takes its pid from the socket).
 *
 * With --pause it stops at each phase boundary, prints "@phase NAME" and
 * waits for a line on stdin, so a driver can look at the agent meanwhile.
 * The result line gives the work-phase and total times, and checksums that
 * must not change.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pageflex_wire.h"
#ifdef PAGEFLEX_HAVE_API
#include "pageflex.h"
#endif

static int pause_mode;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void phase(const char *name)
{
	char line[64];

	printf("@phase %s\n", name);
	fflush(stdout);
#ifdef PAGEFLEX_HAVE_API
	pageflex_phase(name);
#endif
	if (pause_mode && !fgets(line, sizeof(line), stdin))
		exit(1);
}

static int shim_active(void)
{
#ifdef PAGEFLEX_HAVE_API
	return pageflex_active && pageflex_active();
#else
	return 0;
#endif
}

/* Registers the two regions over the wire protocol (no shim). */
static int self_register(const char *path, void *hot, size_t hot_len, void *cold, size_t cold_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static uint64_t mem[1024];
	struct pfw_buf b;
	size_t n;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	pfw_buf_init(&b, mem, sizeof(mem), 0);
	pfw_put_hello(&b, (uint32_t)getpid(), (uint32_t)getppid(), 0, "demo_workload", 13);
	pfw_put_region_map(&b, (uintptr_t)hot, hot_len, PFW_KIND_TAGGED, 3, "hot", 3, "", 0, 0,
			   NULL, 0);
	pfw_put_region_map(&b, (uintptr_t)cold, cold_len, PFW_KIND_TAGGED, 3, "cold", 4, "", 0, 0,
			   NULL, 0);
	n = pfw_buf_finish(&b);
	if (send(fd, mem, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -errno;
	return fd; /* kept open: closing it unregisters the process */
}

static void fill(unsigned char *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		*(uint64_t *)(p + i) = (i * 0x9e3779b97f4a7c15ull) ^ seed;
}

static uint64_t sum(const unsigned char *p, size_t len, size_t step)
{
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < len; i += step)
		h = h * 31 + *(const uint64_t *)(p + i);
	return h;
}

int main(int argc, char **argv)
{
	size_t hot_mb = 64, cold_mb = 512, hot_len, cold_len;
	int requests = 40, gap_ms = 150, c;
	const char *reg = NULL;
	unsigned char *hot, *cold;
	uint64_t hot_sum, cold_sum, acc = 0;
	double t0, tw0, tw1, t1;

	while ((c = getopt(argc, argv, "h:c:n:g:r:p")) != -1) {
		switch (c) {
		case 'h':
			hot_mb = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cold_mb = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			requests = atoi(optarg);
			break;
		case 'g':
			gap_ms = atoi(optarg);
			break;
		case 'r':
			reg = optarg;
			break;
		case 'p':
			pause_mode = 1;
			break;
		default:
			fprintf(stderr,
				"usage: demo_workload [-h HOT_MB] [-c COLD_MB] [-n REQUESTS] "
				"[-g GAP_MS] [-r SOCKET] [-p]\n");
			return 2;
		}
	}
	hot_len = hot_mb << 20;
	cold_len = cold_mb << 20;
	t0 = now_s();
	hot = mmap(NULL, hot_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cold = mmap(NULL, cold_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hot == MAP_FAILED || cold == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
#ifdef PAGEFLEX_HAVE_API
	pageflex_tag(hot, hot_len, "hot");
	pageflex_tag(cold, cold_len, "cold");
#endif
	if (!shim_active() && reg && self_register(reg, hot, hot_len, cold, cold_len) < 0) {
		fprintf(stderr, "demo_workload: cannot register with %s: %s\n", reg,
			strerror(errno));
		return 1;
	}
	printf("@pid %d shim %s\n", getpid(), shim_active() ? "yes" : reg ? "self" : "no");
	fill(hot, hot_len, 1);
	fill(cold, cold_len, 2);
	hot_sum = sum(hot, hot_len, 8);
	cold_sum = sum(cold, cold_len, 8);
	phase("built");
	/* Requests: each reads the whole hot region; the cold one stays idle. */
	tw0 = now_s();
	for (c = 0; c < requests; c++) {
		acc += sum(hot, hot_len, 64);
		usleep(gap_ms * 1000);
	}
	tw1 = now_s();
	phase("served");
	/* Finally the cold data is needed again: read and verify everything. */
	if (sum(hot, hot_len, 8) != hot_sum || sum(cold, cold_len, 8) != cold_sum) {
		printf("@result CHECKSUM MISMATCH\n");
		return 1;
	}
	t1 = now_s();
	phase("verified");
	printf("@result ok work %.3f s total %.3f s (checksums ok, %llx)\n", tw1 - tw0, t1 - t0,
	       (unsigned long long)(acc & 0xfff));
	return 0;
}
