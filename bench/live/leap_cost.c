// SPDX-License-Identifier: MIT
/*
 * pf-leap-cost: what Leap on the fault path (pf_leap in
 * bpf/pageflex_agent.bpf.c, as pageflexd loads it) costs per page fault. Ratios and the kernel's own count of the
 * program's run time, measured in one run:
 *
 *  1. swap-ins in a Leap region (the case it is for): a buffer paged out
 *     with MADV_PAGEOUT and read back at a stride of 7 pages; the program
 *     attached and detached in alternating slices (ABBA), this thread's CPU
 *     time compared. Nobody issues the WILLNEED here, so every fault stays a
 *     swap-in and both sides do the same work but the program's.
 *  2. the same with decisions waking a poller thread (as in pageflexd) vs
 *     not waking it (the poller polls every 10 ms).
 *  3. the program's run time per fault (BPF_STATS_RUN_TIME) for: swap-ins in
 *     a Leap region, first touches in a Leap region (skipped after the PTE
 *     check), faults of a managed process outside its Leap regions, and
 *     faults of a process that is not managed.
 *
 *   pf-leap-cost [MIB] [ROUNDS]     (default 64 MiB per slice kind, 3 rounds)
 *
 * Needs root and swap (scripts/swap-setup.sh); exits 77 without them.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bpfview.h"
#include "leap_bpf.h"
#include "log.h"
#include "pageflex_wire.h"
#include "regions.h"

#define PG 4096ul
#define STRIDE 7

static struct pf_leap_bpf *lb;
static const struct pf_region_events bpf_counters = {.on_new = pf_bpf_region_reset};
static struct pf_bpf_proc bp = {.slot = -1};
static struct pf_rtable table; /* this process's regions, as the agent's BPF sees them */
static volatile int stop_poller;
static uint64_t decisions_seen;

/* Makes [p, p + len) a region of this process and runs Leap on it; its id. */
static uint32_t leap_on(void *p, size_t len)
{
	int err = 0;
	struct pf_rinfo *ri =
		pf_rt_map(&table, (uintptr_t)p, len, PFW_KIND_ANON, 3, "leap", 4, "", 0, 0, &err);

	if (!ri || pf_bpf_proc_sync(&bp, getpid(), &table) ||
	    pf_leap_bpf_add(lb, (uint32_t)getpid(), ri->id, (uintptr_t)p, (uintptr_t)p + len, 32)) {
		fprintf(stderr, "pf-leap-cost: cannot register a Leap region\n");
		exit(1);
	}
	return ri->id;
}

static void leap_off(uint32_t id, void *p, size_t len)
{
	pf_leap_bpf_remove(lb, id);
	pf_rt_unmap(&table, (uintptr_t)p, len);
	pf_bpf_proc_sync(&bp, getpid(), &table);
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *map(size_t len)
{
	unsigned char *p =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void fill_and_page_out(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 8)
		*(uint64_t *)(p + i) = (i >> 6) * 0x9e3779b97f4a7c15ull;
	if (madvise(p, len, MADV_PAGEOUT)) {
		perror("madvise(MADV_PAGEOUT)");
		exit(1);
	}
}

/* Stride-7 read of every page (7 passes); CPU seconds of this thread. */
static double read_strided(const unsigned char *p, size_t len)
{
	size_t np = len / PG;
	double t0 = cpu_s();

	for (size_t k = 0; k < STRIDE; k++)
		for (size_t i = k; i < np; i += STRIDE)
			(void)*(volatile const unsigned char *)(p + i * PG);
	return cpu_s() - t0;
}

static double touch(unsigned char *p, size_t len)
{
	double t0 = cpu_s();

	for (size_t i = 0; i < len; i += PG)
		p[i] = 1;
	return cpu_s() - t0;
}

static void count(void *arg, uint32_t tgid, uint32_t region_id, uint64_t addr, int64_t stride_bytes,
		  uint32_t n)
{
	(void)arg, (void)tgid, (void)region_id, (void)addr, (void)stride_bytes, (void)n;
	decisions_seen++;
}

/* The agent's side: wait for decisions (woken, or every 10 ms) and take them. */
static void *poller(void *arg)
{
	struct pollfd pfd = {.fd = pf_leap_bpf_fd(lb), .events = POLLIN};

	(void)arg;
	while (!stop_poller) {
		poll(&pfd, 1, 10);
		pf_leap_bpf_poll(lb, count, NULL);
	}
	return NULL;
}

struct cost {
	uint64_t runs, ns;
};

static struct cost prog_cost(void)
{
	struct cost c = {0};

	pf_leap_bpf_prog_stats(lb, &c.runs, &c.ns);
	return c;
}

/* ns per run of the program on other processes' faults (not managed). */
static double foreign_ns;

/*
 * The kernel counts every run of the program, on every process's faults;
 * ours are `ours` of them. The others are charged at foreign_ns (measured
 * first, while this process is not managed) and the rest is ours.
 */
static double print_cost(const char *what, struct cost a, struct cost b, uint64_t ours,
			 double fault_us)
{
	uint64_t runs = b.runs - a.runs;
	double all = (double)(b.ns - a.ns), ns;

	if (ours > runs)
		ours = runs;
	ns = ours ? (all - (double)(runs - ours) * foreign_ns) / (double)ours : 0;
	printf("  %-44s %6.0f ns/fault", what, ns);
	if (fault_us > 0)
		printf("  = %5.2f%% of a %.2f us fault", 100.0 * ns / (fault_us * 1e3), fault_us);
	printf("  (%llu runs, %llu ours)\n", (unsigned long long)runs, (unsigned long long)ours);
	return ns;
}

/* Slices of len bytes, Leap attached in one of each pair (ABBA); returns
 * the ratio with/without of CPU time and the fault cost without (us). */
static double ab(size_t len, int rounds, double *fault_us)
{
	double on = 0, off = 0;
	size_t faults = 0;

	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < 2; k++) {
			unsigned char *p = map(len), *q = map(len);
			bool first_on = (r + k) % 2;
			uint32_t idp = leap_on(p, len), idq = leap_on(q, len);
			fill_and_page_out(p, len);
			fill_and_page_out(q, len);
			pf_leap_bpf_attach(lb, first_on);
			*(first_on ? &on : &off) += read_strided(p, len);
			pf_leap_bpf_attach(lb, !first_on);
			*(first_on ? &off : &on) += read_strided(q, len);
			leap_off(idp, p, len);
			leap_off(idq, q, len);
			faults += len / PG;
			munmap(p, len);
			munmap(q, len);
		}
	*fault_us = off / (double)faults * 1e6;
	return on / off;
}

int main(int argc, char **argv)
{
	struct pf_bpf_opts o = {.capacity_pages = 1ull << 18};
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64, len = mib << 20;
	int rounds = argc > 2 ? atoi(argv[2]) : 3, stats_fd;
	struct pf_leap_bpf_stats st0, st1;
	double ratio, ratio_nowake, fault_us, fu2, wake, nowake;
	struct cost c0, c1;
	pthread_t th;
	unsigned char *p;
	uint32_t id;

	if (geteuid()) {
		fprintf(stderr, "pf-leap-cost: needs root (BPF)\n");
		return 77;
	}
	if (!mib || rounds < 1) {
		fprintf(stderr, "usage: pf-leap-cost [MIB] [ROUNDS]\n");
		return 2;
	}
	pf_log_verbosity = PF_LOG_WARN;
	if (pf_regions_init(o.capacity_pages) || pf_bpf_open(&o) || !pf_bpf_dmap_ok()) {
		fprintf(stderr,
			"pf-leap-cost: cannot load or calibrate the agent's BPF programs\n");
		return 1;
	}
	pf_region_events_subscribe(&bpf_counters);
	pf_bpf_fault_attach(false); /* only Leap's program on the fault path */
	if (pf_leap_bpf_open(&lb, NULL) || pf_bpf_proc_add(&bp, getpid())) {
		fprintf(stderr, "pf-leap-cost: Leap's program (pf_leap) is not loaded: %s\n",
			pf_bpf_feature(PF_FEAT_LEAP)->why);
		return 1;
	}
	{
		/* Swap must take our pages: check that a paged-out buffer is seen as swap faults. */
		unsigned char *t = map(4 << 20);
		uint32_t id = leap_on(t, 4 << 20);

		fill_and_page_out(t, 4 << 20);
		pf_leap_bpf_stats(lb, &st0);
		read_strided(t, 4 << 20);
		pf_leap_bpf_stats(lb, &st1);
		leap_off(id, t, 4 << 20);
		munmap(t, 4 << 20);
		if (st1.faults - st0.faults < 1024 * 9 / 10) {
			fprintf(stderr,
				"pf-leap-cost: MADV_PAGEOUT did not swap (%llu swap faults of 1024): "
				"no swap? (scripts/swap-setup.sh)\n",
				(unsigned long long)(st1.faults - st0.faults));
			return 77;
		}
	}
	stop_poller = 0;
	pthread_create(&th, NULL, poller, NULL);
	printf("Leap on the fault path: stride-%d swap-ins, %zu MiB slices, %d rounds (ABBA)\n",
	       STRIDE, mib, rounds);
	pf_leap_bpf_set_wake(lb, true);
	pf_leap_bpf_stats(lb, &st0);
	ratio = ab(len, rounds, &fault_us);
	pf_leap_bpf_stats(lb, &st1);
	printf("  decisions wake the poller:   CPU time with/without %.3f  (swap-in %.2f us "
	       "without; %llu faults, %llu decisions, %llu taken)\n",
	       ratio, fault_us, (unsigned long long)(st1.faults - st0.faults),
	       (unsigned long long)(st1.decisions - st0.decisions),
	       (unsigned long long)decisions_seen);
	pf_leap_bpf_set_wake(lb, false);
	ratio_nowake = ab(len, rounds, &fu2);
	printf("  decisions never wake:        CPU time with/without %.3f  (swap-in %.2f us "
	       "without)\n",
	       ratio_nowake, fu2);

	/* The program's own run time per fault, as the kernel counts it. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		printf("(no BPF run-time stats: %s)\n", strerror(errno));
		goto out;
	}
	pf_leap_bpf_attach(lb, true);
	printf("program run time per fault of ours (kernel BPF stats, which add two clock reads; "
	       "other processes' faults charged at the 'not managed' cost):\n");
	pf_bpf_proc_del(&bp, getpid());
	p = map(len);
	c0 = prog_cost();
	fu2 = touch(p, len) / (double)(len / PG) * 1e6;
	c1 = prog_cost();
	foreign_ns = c1.runs > c0.runs ? (double)(c1.ns - c0.ns) / (double)(c1.runs - c0.runs) : 0;
	print_cost("any fault of a process not managed", c0, c1, c1.runs - c0.runs, fu2);
	munmap(p, len);
	if (pf_bpf_proc_add(&bp, getpid()))
		goto out;

	/* 8 Leap regions elsewhere: the fault's region lookup misses. */
	{
		uint32_t ids[8];

		for (uint32_t i = 0; i < 8; i++)
			ids[i] =
				leap_on((void *)(0x10000000000ull + ((uintptr_t)i << 20)), 1 << 20);
		p = map(len);
		c0 = prog_cost();
		fu2 = touch(p, len) / (double)(len / PG) * 1e6;
		c1 = prog_cost();
		print_cost("managed process, outside its 8 Leap regions", c0, c1, len / PG, fu2);
		munmap(p, len);
		for (uint32_t i = 0; i < 8; i++)
			leap_off(ids[i], (void *)(0x10000000000ull + ((uintptr_t)i << 20)),
				 1 << 20);
	}

	p = map(len);
	id = leap_on(p, len);
	c0 = prog_cost();
	fu2 = touch(p, len) / (double)(len / PG) * 1e6;
	c1 = prog_cost();
	print_cost("first touch in a Leap region (PTE check)", c0, c1, len / PG, fu2);
	leap_off(id, p, len);
	munmap(p, len);

	p = map(len);
	id = leap_on(p, len);
	fill_and_page_out(p, len);
	pf_leap_bpf_set_wake(lb, false);
	pf_leap_bpf_stats(lb, &st0);
	c0 = prog_cost();
	read_strided(p, len);
	c1 = prog_cost();
	pf_leap_bpf_stats(lb, &st1);
	nowake = print_cost("swap-in in a Leap region, no wakeup", c0, c1, len / PG, fault_us);
	fill_and_page_out(p, len);
	pf_leap_bpf_set_wake(lb, true);
	c0 = prog_cost();
	read_strided(p, len);
	c1 = prog_cost();
	wake = print_cost("swap-in in a Leap region, waking decisions", c0, c1, len / PG, fault_us);
	if (st1.decisions > st0.decisions)
		printf("  (%llu decisions in %zu swap-ins: one wakeup costs the program ~%.1f us)\n",
		       (unsigned long long)(st1.decisions - st0.decisions), len / PG,
		       (wake - nowake) * (double)(len / PG) /
			       (double)(st1.decisions - st0.decisions) / 1e3);
	leap_off(id, p, len);
	munmap(p, len);
	close(stats_fd);
out:
	stop_poller = 1;
	pthread_join(th, NULL);
	pf_leap_bpf_close(lb);
	pf_bpf_close();
	return 0;
}
