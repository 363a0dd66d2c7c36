/* SPDX-License-Identifier: MIT */
/*
 * pf-uffd-faultlat: measures the cost of one page fault as the app sees it,
 * under whatever pager runs it (none, the kernel under a cgroup limit, or
 * libpf-uffd.so). Maps one region, writes every page once (first-touch
 * faults), then reads every page again in a scattered order (refaults when
 * the region exceeds the memory budget; scattered so no prefetcher helps)
 * and prints the mean time per page of each pass, and a checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: pf-uffd-faultlat [MIB]\n"
		       "Writes every page of a MIB-sized region (default 256), then reads\n"
		       "them in scattered order; prints microseconds per page of each pass.\n");
		return 0;
	}
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 256;
	if (mib < 1) {
		fprintf(stderr, "pf-uffd-faultlat: size must be >= 1 MiB\n");
		return 2;
	}
	uint64_t n = mib << 8;
	char *p = mmap(NULL, n << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("pf-uffd-faultlat: mmap");
		return 2;
	}
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		*(uint64_t *)(p + (i << 12)) = i * 2654435761ULL + 1;
	uint64_t t1 = now_ns();
	uint64_t a = 1000003 % n ? 1000003 : 999983, sum = 0, bad = 0;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = (k * a) % n;
		uint64_t v = *(volatile uint64_t *)(p + (i << 12));
		bad += v != i * 2654435761ULL + 1;
		sum += v;
	}
	uint64_t t2 = now_ns();
	printf("RESULT wl=faultlat size_mib=%llu first_touch_us=%.2f reread_us=%.2f "
	       "checksum=0x%016llx verify=%s\n",
	       (unsigned long long)mib, (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n,
	       (unsigned long long)sum, bad ? "FAIL" : "ok");
	return bad ? 1 : 0;
}
