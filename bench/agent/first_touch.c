// SPDX-License-Identifier: MIT
/*
 * pf-first-touch: the first touch of GIB GiB of fresh anonymous memory, one
 * write per 4 KiB page (THP off for the mapping), as one mmap region that a
 * shim-managed process registers with pageflexd. Prints one line:
 *   RESULT wl=first-touch gib=G pages=N seconds=S ns_per_page=X
 * bench/agent/delegation.sh runs it with and without the agent to measure
 * what delegation costs the fault path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long gib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2;
	size_t len = gib << 30, pages = len >> 12;
	volatile unsigned char *p;
	double t0, t1;

	if (argc > 2 || gib == 0 || gib > 64) {
		fprintf(stderr, "usage: pf-first-touch [GIB=2] (1..64)\n");
		return 2;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("pf-first-touch: mmap");
		return 1;
	}
	madvise((void *)p, len, MADV_NOHUGEPAGE);
	t0 = now_s();
	for (size_t i = 0; i < pages; i++)
		p[i << 12] = 1;
	t1 = now_s();
	printf("RESULT wl=first-touch gib=%lu pages=%zu seconds=%.4f ns_per_page=%.1f\n", gib,
	       pages, t1 - t0, (t1 - t0) * 1e9 / (double)pages);
	return 0;
}
