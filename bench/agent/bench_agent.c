// SPDX-License-Identifier: MIT
/*
 * pageflexd's micro benchmarks, each printing ratios or rates measured in
 * one run (this machine is a paravirtual guest: absolute fault costs are
 * ~10x bare metal, ratios are what carry over):
 *
 *   bench_agent faults [GIB] [REPS]  first touch of GIB GiB (default 2) with
 *                                    the agent's BPF fault program attached
 *                                    and the buffer a managed region, vs none
 *                                    and vs an empty program, interleaved;
 *                                    prints the ratios (PF_FAULT_MODES; the
 *                                    cut-short modes attach bpf/bench/
 *                                    fault_path_bench instead of the agent's)
 *   bench_agent scan [GIB]           page-table scanner cost per GiB (4 KiB
 *                                    pages and THP), MADV_COLD per GiB, and
 *                                    scan + clear per tick of an all-hot
 *                                    region as the engine clears it with
 *                                    clear_every 1, 2, 4, 8, 16 (engine.h)
 *   bench_agent clear [MIB]          ways to clear accessed bits between two
 *                                    scans (MADV_COLD, /proc/self/clear_refs):
 *                                    cost of the clear per GiB, of re-touching
 *                                    a cleared page, whether the scanner sees
 *                                    the re-touch (issue 14)
 *   bench_agent pageout [GIB]        MADV_PAGEOUT throughput into zram, GiB/s
 *   bench_agent lookup [N]           region lookup: sorted array vs LPM trie,
 *                                    N unaligned regions, ns per lookup
 *
 * Needs root and (pageout) swap: scripts/swap-setup.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "actuator.h"
#include "bpfview.h"
#include "fault_path_bench.skel.h"
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

static const struct pf_region_events bpf_counters = {.on_new = pf_bpf_region_reset};

static int load(void)
{
	struct pf_bpf_opts o = {.capacity_pages = 8ull << 18};

	pf_log_verbosity = PF_LOG_WARN;
	if (pf_regions_init(o.capacity_pages) || pf_bpf_open(&o)) {
		fprintf(stderr, "bench_agent: cannot load the agent's BPF programs (root?)\n");
		return -1;
	}
	pf_region_events_subscribe(&bpf_counters);
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

static long minflt_acc; /* minor faults of the last touch_once() */
static bool touch_thp; /* PF_FAULT_THP=1: let the kernel use THP (2 MiB faults) */

/* First touch of every page of a fresh mapping; this thread's CPU seconds. */
static double touch_once(size_t len)
{
	unsigned char *p = map(len, touch_thp);
	struct rusage r0, r1;
	double t0, dt;
	size_t i;

	getrusage(RUSAGE_THREAD, &r0);
	t0 = cpu_s();
	for (i = 0; i < len; i += PG)
		p[i] = 1;
	dt = cpu_s() - t0;
	getrusage(RUSAGE_THREAD, &r1);
	minflt_acc = r1.ru_minflt - r0.ru_minflt;
	munmap(p, len);
	return dt;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * What is on the page_fault_user hook while a slice is touched: nothing, a
 * program of fault_path_bench (empty, or the agent's fault path cut short,
 * on the agent's own maps), or the agent's pf_fault itself.
 */
enum fmode { FM_NONE, FM_EMPTY, FM_TGID, FM_REGION, FM_COUNT, FM_FULL, FM_WALK, FM_N };
static const char *const fmode_name[FM_N] = {"none",  "empty", "tgid", "region",
					     "count", "full",  "walk"};
static const char *const fmode_help[FM_N] = {
	"no program attached",
	"an empty program (the hook's floor)",
	"ours cut short (fault_path_bench): after the tgid check",
	"ours cut short (fault_path_bench): after the region lookup",
	"ours cut short (fault_path_bench): counters without classification",
	"ours, full path (region never paged out: no page-table walk)",
	"ours, full path in a region marked paged-out (page-table walk)",
};

static struct fault_path_bench_bpf *path_sk;
static struct bpf_link *path_link; /* the attached fault_path_bench program */
static enum fmode path_mode;
static uint32_t bench_region;

/* The fault_path_bench program of mode m, or NULL for none and the agent's own. */
static struct bpf_program *path_prog(enum fmode m)
{
	switch (m) {
	case FM_EMPTY:
		return path_sk->progs.fault_empty;
	case FM_TGID:
		return path_sk->progs.fault_tgid;
	case FM_REGION:
		return path_sk->progs.fault_region;
	case FM_COUNT:
		return path_sk->progs.fault_counters;
	default:
		return NULL;
	}
}

/* Loads fault_path_bench on the agent's own maps (pf_bpf_open() first). */
static int load_path_bench(void)
{
	static const char *const shared[] = {"proc_tab", "region_ents", "region_stats"};
	size_t i;

	path_sk = fault_path_bench_bpf__open();
	if (!path_sk)
		return -1;
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(path_sk->obj, shared[i]);
		int fd = pf_bpf_map_fd(shared[i]);

		if (!m || fd < 0 || bpf_map__reuse_fd(m, fd))
			return -1;
	}
	return fault_path_bench_bpf__load(path_sk);
}

static void set_mode(enum fmode m)
{
	struct bpf_program *p = path_prog(m);

	if (path_link && path_mode != m) {
		bpf_link__destroy(path_link);
		path_link = NULL;
	}
	pf_bpf_fault_attach(m >= FM_FULL);
	if (p && !path_link) {
		path_link = bpf_program__attach(p);
		path_mode = m;
	}
	if (m >= FM_FULL)
		pf_bpf_region_mark_out(bench_region, m == FM_WALK);
}

/* Run count and run time of the program of mode m (needs bpf_enable_stats). */
static void prog_stats(enum fmode m, uint64_t *runs, uint64_t *ns)
{
	struct bpf_program *p = path_prog(m);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	*runs = *ns = 0;
	if (!p) {
		pf_bpf_fault_prog_stats(runs, ns);
		return;
	}
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len)) {
		*runs = info.run_cnt;
		*ns = info.run_time_ns;
	}
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The machine is shared and noisy, so the modes take turns in slices of
 * 64 MiB, each slice in a rotated order, and all see the same background:
 * the BPF programs stay loaded and this process stays a managed region;
 * only the page_fault_user links are attached or detached between slices.
 * Each repetition touches GIB GiB per mode and prints its ratios to "none";
 * the summary gives the median and the range over the repetitions, and the
 * median over all slices of the per-slice ratio.
 */
static int bench_faults(size_t gib, int reps)
{
	const size_t slice = 64ul << 20;
	size_t len = gib << 30, nslices = len / slice, k, nfaults = len / PG;
	enum fmode modes[FM_N];
	double cpu[FM_N], *rep_ratio[FM_N], *sl_ratio[FM_N], *sl_cpu[FM_N], us_none_sum = 0;
	long flt[FM_N];
	struct pf_rtable t = {0};
	struct pf_bpf_proc bp;
	struct pfa_region_stats s0, s1;
	const char *env = getenv("PF_FAULT_MODES");
	char buf[256], *tok, *save;
	int nm = 0, r, i, err, stats_fd;

	snprintf(buf, sizeof(buf), "%s", env ? env : "none,empty,full,walk");
	for (tok = strtok_r(buf, ",", &save); tok && nm < FM_N; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < FM_N && strcmp(tok, fmode_name[i]); i++)
			;
		if (i == FM_N) {
			fprintf(stderr, "bench_agent: unknown mode '%s' in PF_FAULT_MODES\n", tok);
			return 2;
		}
		modes[nm++] = (enum fmode)i;
	}
	if (nm < 2 || modes[0] != FM_NONE) {
		fprintf(stderr, "bench_agent: PF_FAULT_MODES must start with none and name "
				"another mode\n");
		return 2;
	}
	if (load())
		return 1;
	if (load_path_bench()) {
		fprintf(stderr, "bench_agent: cannot load fault_path_bench on the agent's maps\n");
		return 1;
	}
	/* The whole address space is one managed region: every fault takes the full path. */
	pf_bpf_proc_add(&bp, getpid());
	pf_rt_map(&t, 4096, (1ull << 47) - 8192, PFW_KIND_ANON, 3, "bench", 5, "", 0, 0, &err);
	pf_bpf_proc_sync(&bp, getpid(), &t);
	bench_region = t.p[0].ri->id;
	for (i = 0; i < nm; i++) {
		rep_ratio[i] = calloc(reps, sizeof(double));
		sl_ratio[i] = calloc(nslices * reps, sizeof(double));
		sl_cpu[i] = calloc(nslices * reps, sizeof(double));
	}
	touch_thp = getenv("PF_FAULT_THP") && atoi(getenv("PF_FAULT_THP"));
	printf("first touch of %zu GiB per mode and repetition, 64 MiB slices, modes in rotated "
	       "order per slice; this thread's CPU time (THP %s for these mappings)\n",
	       gib, touch_thp ? "allowed (MADV_HUGEPAGE)" : "off (MADV_NOHUGEPAGE)");
	for (i = 0; i < nm; i++)
		printf("  %-6s %s\n", fmode_name[modes[i]], fmode_help[modes[i]]);
	for (r = 0; r < reps; r++) {
		double sl[FM_N];

		memset(cpu, 0, sizeof(cpu));
		memset(flt, 0, sizeof(flt));
		for (k = 0; k < nslices; k++) {
			for (i = 0; i < nm; i++) {
				int m = (int)((i + k + (size_t)r) % (size_t)nm);

				set_mode(modes[m]);
				sl[m] = touch_once(slice);
				cpu[m] += sl[m];
				flt[m] += minflt_acc;
			}
			for (i = 1; i < nm; i++)
				sl_ratio[i][r * nslices + k] = sl[i] / sl[0];
			for (i = 0; i < nm; i++)
				sl_cpu[i][r * nslices + k] = sl[i];
		}
		us_none_sum += cpu[0] / nfaults * 1e6;
		printf("rep %2d: none %.3f us/page;", r + 1, cpu[0] / nfaults * 1e6);
		for (i = 1; i < nm; i++) {
			rep_ratio[i][r] = cpu[i] / cpu[0];
			printf(" %s %.3f", fmode_name[modes[i]], rep_ratio[i][r]);
		}
		printf("   (faults/page:");
		for (i = 0; i < nm; i++)
			printf(" %.3f", (double)flt[i] / nfaults);
		printf(")\n");
		fflush(stdout);
	}
	set_mode(FM_NONE);
	printf("ratio to none over %d repetitions (median [min..max]) and the median of %zu "
	       "per-slice ratios; a 4 KiB page costs %.3f us of CPU without BPF (mean):\n",
	       reps, nslices * reps, us_none_sum / reps);
	for (i = 1; i < nm; i++) {
		double lo = 1e9, hi = 0;

		for (r = 0; r < reps; r++) {
			lo = rep_ratio[i][r] < lo ? rep_ratio[i][r] : lo;
			hi = rep_ratio[i][r] > hi ? rep_ratio[i][r] : hi;
		}
		printf("  %-6s %.3f [%.3f..%.3f]  per-slice median %.3f%s\n", fmode_name[modes[i]],
		       median(rep_ratio[i], reps), lo, hi, median(sl_ratio[i], nslices * reps),
		       modes[i] == FM_FULL ? "  (target <= 1.03)" : "");
	}
	/* Each mode against the one before it, slice by slice (same background). */
	for (i = 2; i < nm; i++) {
		size_t n = nslices * (size_t)reps, j;

		for (j = 0; j < n; j++)
			sl_ratio[0][j] = sl_cpu[i][j] / sl_cpu[i - 1][j];
		printf("  %-6s / %-6s per-slice median %.3f\n", fmode_name[modes[i]],
		       fmode_name[modes[i - 1]], median(sl_ratio[0], n));
	}
	/*
	 * Then the kernel measures each program's own run time (BPF_ENABLE_STATS,
	 * which itself adds two clock reads per run: kept out of the ratios).
	 */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	for (i = 0; i < nm; i++) {
		uint64_t runs0, ns0, runs1, ns1;

		if (modes[i] == FM_NONE)
			continue;
		set_mode(modes[i]);
		prog_stats(modes[i], &runs0, &ns0);
		pf_bpf_region_stats(bench_region, &s0);
		for (k = 0; k < 4; k++)
			touch_once(slice);
		pf_bpf_region_stats(bench_region, &s1);
		prog_stats(modes[i], &runs1, &ns1);
		set_mode(FM_NONE);
		if (runs1 > runs0)
			printf("  %-6s program run time %.0f ns per fault (kernel's BPF stats; %llu "
			       "runs, counted first touches %llu, unknown %llu)\n",
			       fmode_name[modes[i]], (double)(ns1 - ns0) / (runs1 - runs0),
			       (unsigned long long)(runs1 - runs0),
			       (unsigned long long)(s1.first_touch - s0.first_touch),
			       (unsigned long long)(s1.unknown - s0.unknown));
	}
	if (stats_fd >= 0)
		close(stats_fd);
	for (i = 0; i < nm; i++) {
		free(rep_ratio[i]);
		free(sl_ratio[i]);
		free(sl_cpu[i]);
	}
	pf_bpf_proc_del(&bp, getpid());
	pf_rt_clear(&t);
	fault_path_bench_bpf__destroy(path_sk);
	pf_bpf_close();
	return 0;
}

/* Pages the scanner sees accessed in the region of table t. */
static uint64_t scan_accessed(struct pf_rtable *t)
{
	pf_scan_proc(getpid(), t, UINT64_MAX);
	return t->p[0].ri->accessed;
}

/*
 * Between two scans the agent clears the accessed bits of the pages it saw
 * accessed, so that the next scan says which were touched again. Two ways
 * from user space: MADV_COLD on the pages (per range; also deactivates
 * them) and /proc/PID/clear_refs "1" (the whole process; leaves the LRU
 * lists alone). For each, on a region of MIB MiB of 4 KiB pages: the clear's
 * cost per GiB, the cost of re-touching a cleared page, and what the
 * scanner sees before and after the re-touch (a method whose cleared bits
 * re-touches do not set again is wrong, however cheap). (MADV_COLD's
 * deactivation shows only under memory pressure: without it, anonymous
 * pages stay on the inactive list anyway; not measured here.)
 */
static int bench_clear(size_t mib)
{
	static const char *const names[] = {"MADV_COLD", "clear_refs 1"};
	size_t len = mib << 20, np = len / 4096;
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0), err;

	if (load())
		return 1;
	printf("accessed-bit clear on %zu MiB of 4 KiB pages (%zu pages), 3 rounds each:\n", mib,
	       np);
	printf("%-13s %12s %14s %12s %12s\n", "method", "clear ms/GiB", "re-touch us/pg",
	       "seen after", "seen after");
	printf("%-13s %12s %14s %12s %12s\n", "", "", "", "clear", "re-touch");
	for (int m = 0; m < 2; m++)
		for (int round = 0; round < 3; round++) {
			struct pf_rtable t = {0};
			unsigned char *p = map(len, false);
			struct pf_batch b = {0};
			uint64_t after_clear, after_touch;
			double t0, t1, t2;

			memset(p, 1, len);
			pf_rt_map(&t, (uintptr_t)p, len, PFW_KIND_ANON, 3, "bench", 5, "", 0, 0,
				  &err);
			scan_accessed(&t);
			t0 = now_s();
			if (m == 0) {
				pf_batch_add(&b, (uintptr_t)p, len);
				pf_act(pidfd, getpid(), PF_ADV_COLD, &b);
			} else {
				int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

				if (fd < 0 || write(fd, "1", 1) != 1) {
					perror("clear_refs");
					return 1;
				}
				close(fd);
			}
			t1 = now_s();
			after_clear = scan_accessed(&t);
			t2 = now_s();
			for (size_t off = 0; off < len; off += 4096)
				p[off]++;
			t2 = now_s() - t2;
			after_touch = scan_accessed(&t);
			printf("%-13s %12.2f %14.3f %11.1f%% %11.1f%%\n", names[m],
			       (t1 - t0) * 1e3 / ((double)len / (1 << 30)), t2 / (double)np * 1e6,
			       100.0 * (double)after_clear / (double)np,
			       100.0 * (double)after_touch / (double)np);
			pf_batch_free(&b);
			pf_rt_clear(&t);
			munmap(p, len);
		}
	pf_bpf_close();
	return 0;
}

/*
 * The engine's clears on an all-hot region of 4 KiB pages (policy/engine.h):
 * at tick t the segment s (1/every of the region) with (s + t) % every == 0
 * gets MADV_COLD, and for comparison the 2 MiB chunks c with
 * (c + t) % every == 0 (interleaved: every-th chunks). Per
 * tick, averaged over the second `every` ticks (the first round also moves
 * every page to the inactive list, which a steady state has done long ago;
 * the region is re-touched between ticks, untimed): the scan, the clear,
 * and their sum per GiB.
 */
static void scan_clear_ticks(size_t gib, int pidfd)
{
	static const unsigned everies[] = {1, 2, 4, 8, 16};
	size_t len = gib << 30, chunk = 2u << 20;

	printf("scan + clear per tick, all pages hot (%zu GiB, 4 KiB pages):\n", gib);
	printf("%-12s %-12s %12s %13s %13s\n", "clear_every", "ranges", "scan ms/GiB",
	       "clear ms/GiB", "total ms/GiB");
	for (size_t e = 0; e < 2 * sizeof(everies) / sizeof(everies[0]); e++) {
		unsigned every = everies[e / 2];
		bool interleaved = e % 2;
		size_t seg = len / every;
		struct pf_rtable t = {0};
		unsigned char *p = map(len, false);
		double scan = 0, clear = 0, t0;
		int err;

		memset(p, 1, len);
		pf_rt_map(&t, (uintptr_t)p, len, PFW_KIND_ANON, 3, "bench", 5, "", 0, 0, &err);
		for (unsigned tick = 0; tick < 2 * every; tick++) {
			struct pf_batch b = {0};
			double ts, tc;

			for (size_t off = 0; off < len; off += 4096)
				p[off]++;
			t0 = now_s();
			pf_scan_proc(getpid(), &t, UINT64_MAX);
			ts = now_s() - t0;
			for (size_t c = 0; interleaved && c < len / chunk; c++)
				if ((c + tick) % every == 0)
					pf_batch_add(&b, (uintptr_t)p + c * chunk, chunk);
			if (!interleaved)
				pf_batch_add(&b,
					     (uintptr_t)p + (every - tick % every) % every * seg,
					     seg);
			t0 = now_s();
			pf_act(pidfd, getpid(), PF_ADV_COLD, &b);
			tc = now_s() - t0;
			pf_batch_free(&b);
			if (tick >= every) {
				scan += ts;
				clear += tc;
			}
		}
		scan *= 1e3 / every / (double)gib;
		clear *= 1e3 / every / (double)gib;
		if (every == 1 && interleaved)
			continue; /* the same as the segment */
		printf("%-12u %-12s %12.2f %13.2f %13.2f\n", every,
		       interleaved ? "2 MiB chunks" : "a segment", scan, clear, scan + clear);
		pf_rt_clear(&t);
		munmap(p, len);
	}
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
	scan_clear_ticks(gib, pidfd);
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
			"usage: bench_agent faults [GIB [REPS]] | scan [GIB] | clear [MIB] | "
			"pageout [GIB] | lookup [REGIONS]\n");
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
	if (!strcmp(argv[1], "clear"))
		return bench_clear(gib ? gib : 256);
	if (!strcmp(argv[1], "lookup"))
		return bench_lookup(gib ? gib : 4096);
	if (!strcmp(argv[1], "pageout"))
		return bench_pageout(gib ? gib : 1);
	fprintf(stderr, "bench_agent: unknown benchmark '%s'\n", argv[1]);
	return 2;
}
