// SPDX-License-Identifier: MIT
/*
 * pageflexd's micro benchmarks, each printing ratios or rates measured in
 * one run (this machine is a paravirtual guest: absolute fault costs are
 * ~10x bare metal, ratios are what carry over):
 *
 *   bench_agent faults [GIB] [REPS]  first touch of GIB GiB (default 2) with
 *                                    the agent's BPF programs loaded and the
 *                                    buffer a managed region, vs not loaded,
 *                                    interleaved; prints the ratio
 *   bench_agent scan [GIB]           page-table scanner cost per GiB (4 KiB
 *                                    pages and THP), and MADV_COLD per GiB
 *   bench_agent pageout [GIB]        MADV_PAGEOUT throughput into zram, GiB/s
 *   bench_agent lookup [N]           region lookup: sorted array vs LPM trie,
 *                                    N unaligned regions, ns per lookup
 *
 * Needs root and (pageout) swap: scripts/swap-setup.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "actuator.h"
#include "bpfview.h"
#include "log.h"
#include "regions.h"
#include "region_lookup_bench.skel.h"
#include "scanner.h"

#define PG 4096ul

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load(void)
{
	struct pf_bpf_opts o = {.capacity_pages = 8ull << 18};

	pf_log_verbosity = PF_LOG_WARN;
	if (pf_regions_init(o.capacity_pages) || pf_bpf_open(&o)) {
		fprintf(stderr, "bench_agent: cannot load the agent's BPF programs (root?)\n");
		return -1;
	}
	pf_regions_on_new_id = pf_bpf_region_reset;
	return 0;
}

static unsigned char *map(size_t len, bool thp)
{
	unsigned char *p =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/* This thread's CPU time (user + system): immune to waiting for a CPU. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_acc; /* wall time of the last touch_once() */

/* First touch of every page of a fresh mapping; CPU seconds. */
static double touch_once(size_t len)
{
	unsigned char *p = map(len, false);
	double t0, w0, dt;
	size_t i;

	w0 = now_s();
	t0 = cpu_s();
	for (i = 0; i < len; i += PG)
		p[i] = 1;
	dt = cpu_s() - t0;
	wall_acc = now_s() - w0;
	munmap(p, len);
	return dt;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The machine is shared and noisy, so the two modes alternate in slices
 * of 64 MiB (ABBA order) and both see the same background: the BPF
 * programs stay loaded and this process stays a managed region; only the
 * page_fault_user link is attached or detached between slices.
 */
static int bench_faults(size_t gib, int reps)
{
	const size_t slice = 64ul << 20;
	size_t len = gib << 30, nslices = len / slice, k;
	double on = 0, off = 0, won = 0, woff = 0, *ratio;
	struct pf_rtable t = {0};
	struct pf_bpf_proc bp;
	struct pfa_region_stats s;
	uint64_t runs0 = 0, ns0 = 0, runs1 = 0, ns1 = 0;
	int r, err, stats_fd;

	if (load())
		return 1;
	/* The whole address space is one managed region: every fault takes the full path. */
	pf_bpf_proc_add(&bp, getpid());
	pf_rt_map(&t, 4096, (1ull << 47) - 8192, PFW_KIND_ANON, 3, "bench", 5, "", 0, 0, &err);
	pf_bpf_proc_sync(&bp, getpid(), &t);
	if (getenv("PF_FAULT_DEPTH"))
		pf_bpf_fault_depth((unsigned)atoi(getenv("PF_FAULT_DEPTH")));
	ratio = calloc(nslices * reps, sizeof(*ratio));
	printf("first touch of %zu GiB with and without the BPF fault path, %d rounds, "
	       "alternating 64 MiB slices\n",
	       gib, reps);
	for (r = 0; r < reps; r++) {
		for (k = 0; k < nslices; k++) {
			double a, b;

			double wa, wb;

			pf_bpf_fault_attach(k % 2);
			a = touch_once(slice);
			wa = wall_acc;
			pf_bpf_fault_attach(!(k % 2));
			b = touch_once(slice);
			wb = wall_acc;
			if (k % 2) { /* a was with BPF */
				on += a;
				off += b;
				won += wa;
				woff += wb;
				ratio[r * nslices + k] = a / b;
			} else {
				on += b;
				off += a;
				won += wb;
				woff += wa;
				ratio[r * nslices + k] = b / a;
			}
		}
	}
	/*
	 * Then the kernel measures the program's own run time (BPF_ENABLE_STATS,
	 * which itself adds two clock reads per run: kept out of the ratio above).
	 */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	pf_bpf_fault_attach(true);
	pf_bpf_fault_prog_stats(&runs0, &ns0);
	for (k = 0; k < 4; k++)
		touch_once(slice);
	pf_bpf_fault_prog_stats(&runs1, &ns1);
	if (stats_fd >= 0)
		close(stats_fd);
	pf_bpf_region_stats(t.p[0].ri->id, &s);
	qsort(ratio, nslices * reps, sizeof(double), cmp_d);
	printf("CPU time without: %.3f s (%.2f us/fault); with: %.3f s (%.2f us/fault); BPF counted %llu "
	       "first touches\n",
	       off, off / (reps * len / PG) * 1e6, on, on / (reps * len / PG) * 1e6,
	       (unsigned long long)s.first_touch);
	printf("wall time without: %.3f s (%.2f us/fault); with: %.3f s: ratio %.3f\n", woff,
	       woff / (reps * len / PG) * 1e6, won, won / woff);
	printf("fault-path cost ratio (with/without, CPU time): total %.3f, median of %zu slice pairs %.3f  "
	       "(target <= 1.03)\n",
	       on / off, nslices * reps, ratio[nslices * reps / 2]);
	if (runs1 > runs0)
		printf("page_fault_user program: %llu runs, %.0f ns per run (kernel's BPF run-time "
		       "stats) = %.1f%% of the %.2f us fault without it\n",
		       (unsigned long long)(runs1 - runs0), (double)(ns1 - ns0) / (runs1 - runs0),
		       100.0 * ((double)(ns1 - ns0) / (runs1 - runs0)) /
			       (off / (reps * len / PG) * 1e9),
		       off / (reps * len / PG) * 1e6);
	printf("(times are this thread's CPU time: the machine is shared, and a fault's wall "
	       "time here also includes waiting for a CPU)\n");
	free(ratio);
	pf_bpf_proc_del(&bp, getpid());
	pf_rt_clear(&t);
	pf_bpf_close();
	return 0;
}

static int bench_scan(size_t gib)
{
	size_t len = gib << 30;
	int thp, i, pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (load())
		return 1;
	for (thp = 0; thp <= 1; thp++) {
		struct pf_rtable t = {0};
		unsigned char *p = map(len, thp);
		struct pf_batch b = {0};
		double t0, dt, best = 1e9;
		int err;

		memset(p, 1, len);
		pf_rt_map(&t, (uintptr_t)p, len, PFW_KIND_ANON, 3, "bench", 5, "", 0, 0, &err);
		for (i = 0; i < 10; i++) {
			t0 = now_s();
			pf_scan_proc(getpid(), &t, UINT64_MAX);
			dt = now_s() - t0;
			if (dt < best)
				best = dt;
		}
		printf("scan of %zu GiB %s: %.2f ms/GiB (best of 10; %llu resident, %llu in THP)\n",
		       gib, thp ? "THP" : "4 KiB pages", best * 1e3 / gib,
		       (unsigned long long)t.p[0].ri->resident,
		       (unsigned long long)t.p[0].ri->huge);
		pf_batch_add(&b, (uintptr_t)p, len);
		t0 = now_s();
		pf_act(pidfd, getpid(), PF_ADV_COLD, &b);
		printf("MADV_COLD of %zu GiB %s: %.2f ms/GiB\n", gib, thp ? "THP" : "4 KiB pages",
		       (now_s() - t0) * 1e3 / gib);
		pf_batch_free(&b);
		pf_rt_clear(&t);
		munmap(p, len);
	}
	pf_bpf_close();
	return 0;
}

/* PAGEOUT of a fresh gib GiB buffer with `threads` threads; GiB/s. */
static double pageout_once(size_t gib, int threads)
{
	size_t len = gib << 30, i;
	unsigned char *p = map(len, false);
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	struct pf_batch b = {0};
	uint64_t done, calls0 = pf_act_stats[PF_ADV_PAGEOUT].calls;
	double t0, dt;

	/* Half-compressible data: a counter and a hash per 16 bytes. */
	for (i = 0; i < len; i += 16) {
		*(uint64_t *)(p + i) = i;
		*(uint64_t *)(p + i + 8) = (i * 0x9e3779b97f4a7c15ull) >> 7;
	}
	/* Batches of 2 MiB ranges, as the agent sends them. */
	for (i = 0; i < len; i += 2ul << 20)
		pf_batch_add(&b, (uintptr_t)p + i, (2ul << 20) - PG);
	pf_act_threads = threads;
	t0 = now_s();
	done = pf_act(pidfd, getpid(), PF_ADV_PAGEOUT, &b);
	dt = now_s() - t0;
	printf("PAGEOUT of %.2f GiB in %zu ranges, %d thread%s: %.3f s, %.2f GiB/s (%llu calls, "
	       "%llu errors)\n",
	       done / (double)(1ul << 30), b.n, threads, threads > 1 ? "s" : "", dt,
	       done / (double)(1ul << 30) / dt,
	       (unsigned long long)(pf_act_stats[PF_ADV_PAGEOUT].calls - calls0),
	       (unsigned long long)pf_act_stats[PF_ADV_PAGEOUT].errors);
	fflush(stdout);
	pf_batch_free(&b);
	munmap(p, len);
	close(pidfd);
	return done / (double)(1ul << 30) / dt;
}

static int bench_pageout(size_t gib)
{
	int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	double one, many;

	one = pageout_once(gib, 1);
	many = pageout_once(gib, n);
	printf("PAGEOUT throughput: %.2f GiB/s with 1 thread, %.2f GiB/s with %d (pageflexd "
	       "--pageout-threads)\n",
	       one, many, n);
	return 0;
}

/* Aligned prefixes covering [start, end): the LPM trie's view of a range. */
static int lpm_insert(int fd, uint32_t tgid, uint64_t start, uint64_t end, uint32_t id)
{
	int n = 0;

	while (start < end) {
		uint64_t size = start ? start & -start : 1ull << 63;
		struct {
			uint32_t prefixlen;
			uint8_t data[12];
		} k;
		int i, bits;

		while (start + size > end || !size)
			size >>= 1;
		bits = __builtin_ctzll(size);
		k.prefixlen = 32 + 64 - bits;
		for (i = 0; i < 4; i++)
			k.data[i] = (uint8_t)(tgid >> (24 - 8 * i));
		for (i = 0; i < 8; i++)
			k.data[4 + i] = (uint8_t)(start >> (56 - 8 * i));
		if (bpf_map_update_elem(fd, &k, &id, BPF_ANY))
			return -1;
		start += size;
		n++;
	}
	return n;
}

static int bench_lookup(size_t nregions)
{
	struct region_lookup_bench_bpf *sk;
	struct pfa_region_ent *e;
	uint64_t a = 0x7f0000000000ull, rnd = 88172645463325252ull;
	size_t i, prefixes = 0;
	double ns[2] = {1e18, 1e18};
	uint64_t found[2] = {0, 0};
	int r, m, prog;

	if (nregions > PFA_PROC_TABLE)
		nregions = PFA_PROC_TABLE;
	sk = region_lookup_bench_bpf__open_and_load();
	if (!sk) {
		fprintf(stderr, "bench_agent: cannot load region_lookup_bench\n");
		return 1;
	}
	e = calloc(nregions, sizeof(*e));
	sk->bss->tgid = 1234;
	for (i = 0; i < nregions; i++) {
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		a += (rnd % 64) * PG; /* gap */
		e[i].start = a;
		e[i].end = a + (1 + (rnd >> 8) % 512) * PG; /* 4 KiB .. 2 MiB, unaligned */
		e[i].id = (uint32_t)i;
		a = e[i].end;
		uint32_t k = (uint32_t)i;

		bpf_map_update_elem(bpf_map__fd(sk->maps.ents), &k, &e[i], BPF_ANY);
		r = lpm_insert(bpf_map__fd(sk->maps.trie), sk->bss->tgid, e[i].start, e[i].end,
			       (uint32_t)i);
		if (r < 0) {
			fprintf(stderr, "bench_agent: LPM insert failed\n");
			return 1;
		}
		prefixes += (size_t)r;
	}
	sk->bss->nents = (uint32_t)nregions;
	sk->bss->lo_addr = e[0].start;
	sk->bss->span = e[nregions - 1].end - e[0].start;
	sk->bss->iters = 1u << 20;
	prog = bpf_program__fd(sk->progs.run);
	for (r = 0; r < 3; r++)
		for (m = 0; m < 2; m++) {
			struct bpf_test_run_opts o;

			memset(&o, 0, sizeof(o)); /* padding too: libbpf checks it */
			o.sz = sizeof(o);
			sk->bss->mode = (uint32_t)m;
			if (bpf_prog_test_run_opts(prog, &o)) {
				perror("bpf_prog_test_run");
				return 1;
			}
			if (sk->bss->elapsed_ns / (double)sk->bss->iters < ns[m])
				ns[m] = sk->bss->elapsed_ns / (double)sk->bss->iters;
			found[m] = sk->bss->found;
		}
	printf("region lookup, %zu unaligned regions of 4 KiB..2 MiB (%zu LPM prefixes, %.1f per "
	       "region), %u random lookups, best of 3:\n",
	       nregions, prefixes, (double)prefixes / nregions, sk->bss->iters);
	printf("  sorted array + binary search: %.1f ns/lookup (%llu hits)\n", ns[0],
	       (unsigned long long)found[0]);
	printf("  LPM trie (tgid, address):     %.1f ns/lookup (%llu hits)\n", ns[1],
	       (unsigned long long)found[1]);
	if (found[0] != found[1])
		printf("  MISMATCH: the two structures disagree\n");
	free(e);
	region_lookup_bench_bpf__destroy(sk);
	return found[0] != found[1];
}

int main(int argc, char **argv)
{
	size_t gib = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr,
			"usage: bench_agent faults [GIB [REPS]] | scan [GIB] | pageout [GIB] | "
			"lookup [REGIONS]\n");
		return argc < 2 ? 2 : 0;
	}
	if (geteuid()) {
		fprintf(stderr, "bench_agent: needs root (BPF, process_madvise)\n");
		return 1;
	}
	if (!strcmp(argv[1], "faults"))
		return bench_faults(gib ? gib : 2, argc > 3 ? atoi(argv[3]) : 1);
	if (!strcmp(argv[1], "scan"))
		return bench_scan(gib ? gib : 1);
	if (!strcmp(argv[1], "lookup"))
		return bench_lookup(gib ? gib : 4096);
	if (!strcmp(argv[1], "pageout"))
		return bench_pageout(gib ? gib : 1);
	fprintf(stderr, "bench_agent: unknown benchmark '%s'\n", argv[1]);
	return 2;
}
