/* SPDX-License-Identifier: MIT */
/*
 * pf-live-two: the two-region workload of the live acceptance run
 * (bench/live/two_regions.sh). An "index" region is walked in passes at a
 * stride of 7 pages (Leap's case: a stride the kernel's readahead misses);
 * between two index pages, a few zipf-distributed lookups hit a "cache"
 * region (Hyperbolic's case: popularity, not recency). Each index page
 * takes -w microseconds of wall-clock time (a spin), so a run lasts as many
 * of the agent's scan periods on an idle machine as on a loaded one; with
 * -W it is fixed CPU work instead (the same instructions whatever the
 * faults cost, calibrated once: the run's time then includes them). Both
 * are tagged with pageflex_tag() so the rules file binds a policy to each.
 * Every page holds words derived from its index and each read is checked,
 * so a lost or stale page fails the run. With -g FILE it maps and tags, then waits for FILE to
 * exist before touching anything (so a recording can start first); with
 * -e FILE it waits for FILE before exiting (so its counters can be read).
 */
#include "pageflex.h"
#include "wl_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORDS (WL_PAGE / sizeof(uint64_t))
#define STRIDE 7

static uint64_t word(uint64_t region, uint64_t pg, unsigned j)
{
	return wl_mix((region << 40) ^ (pg << 9) ^ j);
}

static void wait_for(const char *path)
{
	struct stat st;

	while (stat(path, &st))
		usleep(10000);
}

/* n rounds of CPU work on registers only. */
static uint64_t spin(uint64_t n)
{
	uint64_t x = n;

	for (uint64_t i = 0; i < n; i++)
		x = wl_mix(x + i);
	return x;
}

/* The rounds of spin() done in ns of this machine's time. */
static uint64_t spin_calibrate(uint64_t ns)
{
	uint64_t n = 1024, t;
	volatile uint64_t sink;

	for (;;) {
		t = wl_now_ns();
		sink = spin(n);
		t = wl_now_ns() - t;
		(void)sink;
		if (t >= ns / 4)
			return n * ns / t;
		n *= 2;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pf-live-two [-i INDEX_MIB] [-c CACHE_MIB] [-p PASSES] [-l LOOKUPS]\n"
		"                   [-z ZIPF_S] [-w WORK | -W CPU_WORK] [-g GOFILE] [-e ENDFILE]\n"
		"  -i  index region MiB, walked at a stride of 7 pages (default 64)\n"
		"  -c  cache region MiB, zipf lookups (default 64)\n"
		"  -p  passes over the index (default 4)\n"
		"  -l  cache lookups per index page (default 4)\n"
		"  -z  zipf exponent of the cache lookups (default 0.9)\n"
		"  -w  time spent per index page, in microseconds (default 80)\n"
		"  -W  CPU work per index page instead, in microseconds of this machine's\n"
		"      time (calibrated at the start), so faults add to the run's time\n"
		"  -g  wait until GOFILE exists before the first access\n"
		"  -e  after the RESULT line, wait until ENDFILE exists before exiting\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t imib = 64, cmib = 64, lookups = 4, work_us = 80, cpu_us = 0, iters = 0;
	unsigned passes = 4;
	double zs = 0.9;
	const char *go = NULL, *end = NULL;
	int c;

	while ((c = getopt(argc, argv, "i:c:p:l:z:w:W:g:e:h")) != -1) {
		switch (c) {
		case 'i':
			imib = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			cmib = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			passes = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			lookups = strtoull(optarg, NULL, 0);
			break;
		case 'z':
			zs = strtod(optarg, NULL);
			break;
		case 'w':
			work_us = strtoull(optarg, NULL, 0);
			break;
		case 'W':
			cpu_us = strtoull(optarg, NULL, 0);
			break;
		case 'g':
			go = optarg;
			break;
		case 'e':
			end = optarg;
			break;
		default:
			usage();
		}
	}
	if (!imib || !cmib || !passes || zs <= 0 || zs >= 1)
		usage();

	uint64_t ip = imib * (1024 * 1024 / WL_PAGE), cp = cmib * (1024 * 1024 / WL_PAGE);
	uint64_t *idx = wl_map(ip * WL_PAGE, "index");
	uint64_t *cache = wl_map(cp * WL_PAGE, "cache");
	pageflex_tag(idx, ip * WL_PAGE, "index");
	pageflex_tag(cache, cp * WL_PAGE, "cache");
	if (go)
		wait_for(go);

	if (cpu_us) /* iterations of spin() in cpu_us, timed over 50 ms */
		iters = cpu_us * spin_calibrate(50000000) / 50000;
	uint64_t t0 = wl_now_ns();
	for (uint64_t pg = 0; pg < ip; pg++)
		for (unsigned j = 0; j < WORDS; j++)
			idx[pg * WORDS + j] = word(1, pg, j);
	for (uint64_t pg = 0; pg < cp; pg++)
		for (unsigned j = 0; j < WORDS; j++)
			cache[pg * WORDS + j] = word(2, pg, j);

	struct pf_zipf z;
	uint64_t rng = 42;
	uint64_t bad = 0, sum = 0, nlook = 0;

	if (pf_zipf_init(&z, cp, zs, rng))
		usage();
	uint64_t t1 = wl_now_ns();
	for (unsigned p = 0; p < passes; p++) {
		for (uint64_t s = 0; s < STRIDE; s++) {
			for (uint64_t pg = s; pg < ip; pg += STRIDE) {
				const uint64_t *w = idx + pg * WORDS;
				uint64_t until = wl_now_ns() + work_us * 1000;

				for (unsigned j = 0; j < WORDS; j += 8) {
					if (w[j] != word(1, pg, j))
						bad++;
					sum += w[j];
				}
				for (uint64_t l = 0; l < lookups; l++) {
					uint64_t cpg = pf_zipf_next(&z, &rng);
					unsigned j = (unsigned)(pf_splitmix64(&rng) % WORDS);

					if (cache[cpg * WORDS + j] != word(2, cpg, j))
						bad++;
					nlook++;
				}
				/* Wall-clock work: the run takes as many scan periods
				 * on an idle machine as on a loaded one. Or CPU work. */
				if (iters)
					sum += spin(iters);
				else
					while (wl_now_ns() < until)
						__asm__ volatile("" ::: "memory");
			}
		}
	}
	uint64_t t2 = wl_now_ns();
	printf("RESULT wl=live-two index_mib=%llu cache_mib=%llu passes=%u lookups=%llu "
	       "fill_s=%.3f work_s=%.3f checksum=0x%016llx verify=%s\n",
	       (unsigned long long)imib, (unsigned long long)cmib, passes,
	       (unsigned long long)nlook, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (unsigned long long)sum,
	       bad ? "FAIL" : "ok");
	fflush(stdout);
	if (end)
		wait_for(end);
	return bad ? 1 : 0;
}
