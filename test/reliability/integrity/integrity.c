// SPDX-License-Identifier: MIT
/*
 * pf-integrity: proves that paging loses no byte. It fills many regions of
 * different sizes and kinds (private and shared anonymous mmaps, malloc'd
 * buffers) with checksummed content (pattern.h), keeps writer threads
 * rewriting units while memory is paged out and in (by a cgroup limit, by
 * pageflexd, or by its own madvise/process_madvise thread), resizes small
 * regions with mremap/realloc, and finally verifies every byte. Any zeroed,
 * stale, misplaced or corrupted unit is named. --inject corrupts units on
 * purpose to prove that the checker catches them.
 */
#include "pattern.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define MAX_INJECT 16
#define MAX_REPORTED 50
#define CHURN_MAX_BYTES (8UL << 20)

enum rkind { RK_PRIVATE, RK_SHARED, RK_MALLOC };
static const char *const kind_name[] = {"mmap-private", "mmap-shared", "malloc"};

enum inject_mode { INJ_FLIP, INJ_ZERO, INJ_DROP, INJ_STALE, INJ_MISPLACE };
static const char *const inject_name[] = {"flip", "zero", "drop", "stale", "misplace"};

struct region {
	pthread_rwlock_t lock;
	uint32_t id;
	enum rkind kind;
	bool hot, churn;
	unsigned char *base;
	size_t size, init_size, max_size;
	uint32_t *ver; /* per unit of max_size; only the unit's owner writes it */
};

static struct opts {
	uint64_t size_mib, seed;
	unsigned regions, threads, seconds, pageout_ms, churn_ms, entropy, hot_pct, write_rate;
	bool quiet, check_on_write, start_on_usr1;
	unsigned ninject;
	enum inject_mode inject[MAX_INJECT];
} opt = {.size_mib = 1024,
	 .seed = 1,
	 .regions = 64,
	 .threads = 3,
	 .seconds = 30,
	 .churn_ms = 200,
	 .entropy = 50,
	 .hot_pct = 70,
	 .check_on_write = true};

static struct region *reg;
static volatile sig_atomic_t sig_stop; /* SIGINT/SIGTERM: end the run phase early */
static volatile sig_atomic_t sig_go; /* SIGUSR1: start the run phase (--start-on-usr1) */
static size_t total_bytes;
static atomic_bool stop;
static atomic_uint_fast64_t n_writes, n_checked_bytes, n_resizes, n_madv, n_madv_err, n_mismatch;
static atomic_uint n_reported;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("pf-integrity: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet)
		return;
	va_start(ap, fmt);
	fputs("pf-integrity: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static size_t nunits(size_t size)
{
	return (size + PAT_UNIT - 1) / PAT_UNIT;
}

static size_t unit_len(size_t size, size_t u)
{
	size_t off = u * PAT_UNIT;

	return size - off < PAT_UNIT ? size - off : PAT_UNIT;
}

static unsigned owner(const struct region *r, size_t u)
{
	return (unsigned)((r->id * 7919u + u) % opt.threads);
}

static struct pat_id id_of(const struct region *r, size_t u)
{
	return (struct pat_id){
		.seed = opt.seed, .region = r->id, .unit = (uint32_t)u, .version = r->ver[u]};
}

static void fill_unit(struct region *r, size_t u)
{
	struct pat_id id = id_of(r, u);

	pat_fill(r->base + u * PAT_UNIT, unit_len(r->size, u), &id, opt.entropy);
}

/* Checks one unit; reports and counts a mismatch. Returns true if intact. */
static bool check_unit(struct region *r, size_t u, const char *when)
{
	struct pat_id id = id_of(r, u);
	struct pat_diff d;
	size_t len = unit_len(r->size, u);
	char what[160];

	atomic_fetch_add(&n_checked_bytes, len);
	if (pat_check(r->base + u * PAT_UNIT, len, &id, opt.entropy, &d) == PAT_OK)
		return true;
	atomic_fetch_add(&n_mismatch, 1);
	if (atomic_fetch_add(&n_reported, 1) < MAX_REPORTED) {
		pat_describe(&d, &id, what, sizeof(what));
		pthread_mutex_lock(&out_lock);
		printf("MISMATCH region=%u kind=%s unit=%zu addr=%p len=%zu when=%s: %s\n", r->id,
		       kind_name[r->kind], u, (void *)(r->base + u * PAT_UNIT), len, when, what);
		fflush(stdout);
		pthread_mutex_unlock(&out_lock);
	}
	return false;
}

/* ---- set-up ---------------------------------------------------------- */

static void *map_kind(enum rkind k, size_t size)
{
	void *p;

	if (k == RK_MALLOC) {
		p = malloc(size);
		if (!p)
			die("malloc(%zu) failed", size);
		return p;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_ANONYMOUS | (k == RK_SHARED ? MAP_SHARED : MAP_PRIVATE), -1, 0);
	if (p == MAP_FAILED)
		die("mmap(%zu) failed: %s", size, strerror(errno));
	return p;
}

static void make_regions(void)
{
	uint64_t s = opt.seed * 0x1234567ULL + 99;
	size_t want_pages = opt.size_mib * (1UL << 20) / PAGE;
	double *w = calloc(opt.regions, sizeof(*w)), sum = 0;

	reg = calloc(opt.regions, sizeof(*reg));
	if (!w || !reg)
		die("out of memory");
	/* Log-uniform sizes between 16 pages and 256x that, scaled to the total. */
	for (unsigned i = 0; i < opt.regions; i++)
		sum += w[i] = exp(log(16.0) + (rnd(&s) >> 11) * 0x1p-53 * log(256.0));
	for (unsigned i = 0; i < opt.regions; i++) {
		struct region *r = &reg[i];
		size_t pages = (size_t)(want_pages * w[i] / sum);
		unsigned k = i % 20;
		pthread_rwlockattr_t a;

		if (pages < 16)
			pages = 16;
		r->id = i;
		r->kind = k < 10 ? RK_PRIVATE : k < 13 ? RK_SHARED : RK_MALLOC;
		r->hot = i % 5 == 0;
		r->size = pages * PAGE;
		/* malloc'd buffers end mid-page: the tail unit is 64..4096 bytes. */
		if (r->kind == RK_MALLOC)
			r->size -= (rnd(&s) % 64) * PAT_MIN_UNIT;
		r->init_size = r->size;
		r->churn = r->kind != RK_SHARED && r->size <= CHURN_MAX_BYTES / 2;
		r->max_size = r->churn ? 2 * r->size : r->size;
		r->ver = calloc(nunits(r->max_size), sizeof(*r->ver));
		if (!r->ver)
			die("out of memory");
		r->base = map_kind(r->kind, r->size);
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&r->lock, &a);
		pthread_rwlockattr_destroy(&a);
		total_bytes += r->size;
	}
	free(w);
}

struct worker {
	pthread_t th;
	unsigned idx;
	uint64_t rng;
};

static void *fill_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = w->idx; i < opt.regions; i += opt.threads) {
		struct region *r = &reg[i];

		for (size_t u = 0; u < nunits(r->size); u++) {
			r->ver[u] = 1;
			fill_unit(r, u);
		}
	}
	return NULL;
}

/* ---- run phase ------------------------------------------------------- */

static struct region *pick_region(uint64_t *s)
{
	unsigned nhot = (opt.regions + 4) / 5;

	if (rnd(s) % 100 < opt.hot_pct)
		return &reg[(rnd(s) % nhot) * 5];
	return &reg[rnd(s) % opt.regions];
}

static void sleep_ms(unsigned ms);

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	double t0 = now_s();
	uint64_t mine = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct region *r = pick_region(&w->rng);

		/* --write-rate: at most write_rate units a second per writer. */
		while (opt.write_rate && mine >= (now_s() - t0) * opt.write_rate &&
		       !atomic_load_explicit(&stop, memory_order_relaxed))
			sleep_ms(1);
		mine++;

		pthread_rwlock_rdlock(&r->lock);
		size_t n = nunits(r->size), u = rnd(&w->rng) % n;

		u += (w->idx + opt.threads - owner(r, u)) % opt.threads;
		if (u < n) {
			if (opt.check_on_write)
				check_unit(r, u, "write");
			r->ver[u]++;
			fill_unit(r, u);
			atomic_fetch_add_explicit(&n_writes, 1, memory_order_relaxed);
		}
		pthread_rwlock_unlock(&r->lock);
	}
	return NULL;
}

/* Resizes one small region with mremap or realloc, then checks what moved. */
static void churn_one(uint64_t *s)
{
	struct region *r = &reg[rnd(s) % opt.regions];

	if (!r->churn)
		return;
	pthread_rwlock_wrlock(&r->lock);
	size_t old = r->size, lo = r->init_size / 2 / PAGE, hi = r->max_size / PAGE;
	size_t pages = lo + rnd(s) % (hi - lo + 1), size = pages * PAGE;
	void *p;

	if (r->kind == RK_MALLOC) {
		size -= (rnd(s) % 64) * PAT_MIN_UNIT;
		p = realloc(r->base, size);
		if (!p)
			die("realloc(%zu) failed", size);
	} else {
		p = mremap(r->base, old, size, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			die("mremap(%zu -> %zu) failed: %s", old, size, strerror(errno));
	}
	r->base = p;
	r->size = size;
	for (size_t u = 0; u < nunits(size); u++) {
		bool same = u < nunits(old) && unit_len(old, u) == unit_len(size, u);

		if (same && check_unit(r, u, "resize"))
			continue;
		r->ver[u]++; /* new, reshaped or (reported) broken: rewrite */
		fill_unit(r, u);
	}
	atomic_fetch_add(&n_resizes, 1);
	pthread_rwlock_unlock(&r->lock);
}

static int pidfd_self = -1;

/* madvise or process_madvise(self) on random page ranges of one region. */
static void advise_one(uint64_t *s, unsigned iter)
{
	static const int advice[] = {MADV_PAGEOUT, MADV_PAGEOUT, MADV_PAGEOUT, MADV_COLD,
				     MADV_WILLNEED};
	struct region *r = &reg[rnd(s) % opt.regions];
	int adv = advice[rnd(s) % 5];
	struct iovec iov[8];
	unsigned niov = 0;

	pthread_rwlock_rdlock(&r->lock);
	uintptr_t a = ((uintptr_t)r->base + PAGE - 1) & ~(PAGE - 1);
	uintptr_t b = ((uintptr_t)r->base + r->size) & ~(PAGE - 1);
	size_t pages = b > a ? (b - a) / PAGE : 0;

	if (pages == 0)
		goto out;
	if (iter % 16 == 0) { /* now and then, the whole region */
		adv = MADV_PAGEOUT;
		iov[niov++] = (struct iovec){(void *)a, pages * PAGE};
	} else {
		for (unsigned i = 0; i < 1 + rnd(s) % 8; i++) {
			size_t first = rnd(s) % pages, len = 1 + rnd(s) % 256;

			if (first + len > pages)
				len = pages - first;
			iov[niov++] = (struct iovec){(void *)(a + first * PAGE), len * PAGE};
		}
	}
	for (unsigned i = 0; i < niov; i++) {
		long rc;

		if (pidfd_self >= 0 && (iter & 1))
			rc = syscall(SYS_process_madvise, pidfd_self, &iov[i], 1, adv, 0);
		else
			rc = madvise(iov[i].iov_base, iov[i].iov_len, adv);
		atomic_fetch_add(&n_madv, 1);
		if (rc < 0 && atomic_fetch_add(&n_madv_err, 1) == 0)
			note("first advice error: %s (advice %d, %zu bytes)", strerror(errno), adv,
			     iov[i].iov_len);
	}
out:
	pthread_rwlock_unlock(&r->lock);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void *churn_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop)) {
		sleep_ms(opt.churn_ms);
		churn_one(&w->rng);
	}
	return NULL;
}

static void *advise_main(void *arg)
{
	struct worker *w = arg;

	pidfd_self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	for (unsigned iter = 0; !atomic_load(&stop); iter++) {
		sleep_ms(opt.pageout_ms);
		advise_one(&w->rng, iter);
	}
	return NULL;
}

/* Corrupts one unit behind the checker's back; the checker must name it. */
static void inject(enum inject_mode m, uint64_t *s)
{
	struct region *r;
	size_t u;

	for (;;) {
		r = &reg[rnd(s) % opt.regions];
		if (m == INJ_DROP && r->kind != RK_PRIVATE)
			continue;
		pthread_rwlock_wrlock(&r->lock);
		u = 1 + rnd(s) % (nunits(r->size) - 1);
		if (unit_len(r->size, u) == PAT_UNIT)
			break;
		pthread_rwlock_unlock(&r->lock);
	}
	unsigned char *p = r->base + u * PAT_UNIT;

	(void)rnd(s); /* keep successive injections apart */

	switch (m) {
	case INJ_FLIP:
		p[rnd(s) % PAT_UNIT] ^= (unsigned char)(1u << (rnd(s) % 8));
		break;
	case INJ_ZERO:
		memset(p, 0, PAT_UNIT);
		break;
	case INJ_DROP: /* what an agent that discarded a page would do */
		madvise(p, PAGE, MADV_PAGEOUT);
		if (madvise(p, PAGE, MADV_DONTNEED))
			die("MADV_DONTNEED: %s", strerror(errno));
		break;
	case INJ_STALE: {
		struct pat_id id = id_of(r, u);

		id.version--;
		pat_fill(p, PAT_UNIT, &id, opt.entropy);
		break;
	}
	case INJ_MISPLACE: /* the previous unit: always a full one */
		memcpy(p, p - PAT_UNIT, PAT_UNIT);
		break;
	}
	pthread_mutex_lock(&out_lock);
	printf("INJECT mode=%s region=%u unit=%zu addr=%p\n", inject_name[m], r->id, u, (void *)p);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	pthread_rwlock_unlock(&r->lock);
}

/* ---- monitoring and final check -------------------------------------- */

struct mem_sample {
	uint64_t swap_kib, rss_kib;
};

static struct mem_sample sample_mem(void)
{
	struct mem_sample m = {0, 0};
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "VmSwap: %llu", &v) == 1)
			m.swap_kib = v;
		else if (sscanf(line, "VmRSS: %llu", &v) == 1)
			m.rss_kib = v;
	}
	fclose(f);
	return m;
}

static atomic_uint_fast64_t n_final_bytes, n_final_units;

static void *verify_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = w->idx; i < opt.regions; i += opt.threads) {
		struct region *r = &reg[i];

		for (size_t u = 0; u < nunits(r->size); u++) {
			check_unit(r, u, "final");
			atomic_fetch_add(&n_final_bytes, unit_len(r->size, u));
			atomic_fetch_add(&n_final_units, 1);
		}
	}
	return NULL;
}

static void run_workers(void *(*fn)(void *), unsigned n, struct worker *w, uint64_t salt)
{
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct worker){.idx = i, .rng = opt.seed * 1000003ULL + salt + i};
		if (pthread_create(&w[i].th, NULL, fn, &w[i]))
			die("pthread_create failed");
	}
}

static void join_workers(unsigned n, struct worker *w)
{
	for (unsigned i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);
}

/* ---- options ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pf-integrity [options]\n"
		"Fills many regions with checksummed data, keeps threads rewriting it while\n"
		"memory is paged out and in, and verifies every byte at the end.\n\n"
		"  -s, --size MIB        total size of all regions (default %llu)\n"
		"  -r, --regions N       number of regions, sizes log-uniform over 256x (default %u);\n"
		"                        50%% private mmap, 15%% shared anonymous mmap, 35%% malloc\n"
		"  -t, --threads N       writer (and fill/verify) threads (default %u)\n"
		"  -d, --seconds S       run time after the fill (default %u); SIGINT or SIGTERM\n"
		"                        ends it early, and the final check still runs\n"
		"  -P, --pageout-ms MS   every MS ms, madvise or process_madvise(self) PAGEOUT,\n"
		"                        COLD or WILLNEED on random ranges (default 0: off)\n"
		"  -c, --churn-ms MS     every MS ms, resize a small region with mremap/realloc\n"
		"                        and check what moved (default %u, 0: off)\n"
		"  -e, --entropy PCT     pseudo-random share of each page; the rest compresses\n"
		"                        (default %u)\n"
		"  -w, --write-rate N    units each writer rewrites per second (default 0: as fast\n"
		"                        as it can)\n"
		"  -H, --hot PCT         share of writes that go to the hot fifth of the regions\n"
		"                        (default %u)\n"
		"  -S, --seed N          seed of sizes and content (default 1)\n"
		"  -i, --inject MODE     corrupt one unit mid-run behind the checker's back, to\n"
		"                        prove it is caught: flip, zero, drop (MADV_DONTNEED of\n"
		"                        a paged-out page), stale, misplace; repeatable\n"
		"      --no-check-on-write  writers do not check a unit before rewriting it\n"
		"      --start-on-usr1   after the fill, wait for SIGUSR1 before the run phase\n"
		"                        (a test starts many at once, after their set-up)\n"
		"  -q, --quiet           no progress on stderr\n"
		"  -h, --help            this text\n\n"
		"Every unit (a page, or a malloc'd buffer's shorter tail) holds content derived\n"
		"from (seed, region, unit, version); writers check a unit before rewriting it\n"
		"with the next version. A mismatch prints a MISMATCH line naming the region,\n"
		"unit and address and what was found (zeroed, stale, misplaced, corrupt).\n"
		"Prints one line: RESULT wl=integrity ok=0|1 bytes_verified=... mismatches=...\n"
		"Exit status: 0 all bytes intact, 1 mismatches, 2 bad usage or set-up failure.\n",
		(unsigned long long)opt.size_mib, opt.regions, opt.threads, opt.seconds,
		opt.churn_ms, opt.entropy, opt.hot_pct);
}

static uint64_t num(const char *name, const char *v, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi)
		die("%s: want a number in [%llu, %llu], got '%s'", name, (unsigned long long)lo,
		    (unsigned long long)hi, v);
	return x;
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"size", required_argument, 0, 's'},
		{"regions", required_argument, 0, 'r'},
		{"threads", required_argument, 0, 't'},
		{"seconds", required_argument, 0, 'd'},
		{"pageout-ms", required_argument, 0, 'P'},
		{"churn-ms", required_argument, 0, 'c'},
		{"entropy", required_argument, 0, 'e'},
		{"hot", required_argument, 0, 'H'},
		{"seed", required_argument, 0, 'S'},
		{"inject", required_argument, 0, 'i'},
		{"no-check-on-write", no_argument, 0, 'W'},
		{"start-on-usr1", no_argument, 0, 'U'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:r:t:d:P:c:e:H:w:S:i:qh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.size_mib = num("--size", optarg, 1, 1 << 20);
			break;
		case 'r':
			opt.regions = (unsigned)num("--regions", optarg, 1, 1000000);
			break;
		case 't':
			opt.threads = (unsigned)num("--threads", optarg, 1, 256);
			break;
		case 'd':
			opt.seconds = (unsigned)num("--seconds", optarg, 0, 86400 * 7);
			break;
		case 'P':
			opt.pageout_ms = (unsigned)num("--pageout-ms", optarg, 0, 60000);
			break;
		case 'c':
			opt.churn_ms = (unsigned)num("--churn-ms", optarg, 0, 60000);
			break;
		case 'e':
			opt.entropy = (unsigned)num("--entropy", optarg, 0, 100);
			break;
		case 'H':
			opt.hot_pct = (unsigned)num("--hot", optarg, 0, 100);
			break;
		case 'w':
			opt.write_rate = (unsigned)num("--write-rate", optarg, 0, 100000000);
			break;
		case 'S':
			opt.seed = num("--seed", optarg, 0, UINT64_MAX);
			break;
		case 'i': {
			unsigned m;

			for (m = 0; m < sizeof(inject_name) / sizeof(inject_name[0]); m++)
				if (!strcmp(optarg, inject_name[m]))
					break;
			if (m == sizeof(inject_name) / sizeof(inject_name[0]))
				die("--inject: unknown mode '%s' (flip, zero, drop, stale, misplace)",
				    optarg);
			if (opt.ninject == MAX_INJECT)
				die("--inject: at most %d", MAX_INJECT);
			opt.inject[opt.ninject++] = m;
			break;
		}
		case 'W':
			opt.check_on_write = false;
			break;
		case 'U':
			opt.start_on_usr1 = true;
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if ((uint64_t)opt.regions * 16 * PAGE > opt.size_mib << 20)
		die("--size %llu MiB is too small for %u regions of at least 64 KiB",
		    (unsigned long long)opt.size_mib, opt.regions);
}

static void on_stop_signal(int sig)
{
	(void)sig;
	sig_stop = 1;
}

static void on_go_signal(int sig)
{
	(void)sig;
	sig_go = 1;
}

int main(int argc, char **argv)
{
	struct worker *w, churner, adviser;
	struct mem_sample m;
	uint64_t swap_peak = 0, rss_sum = 0, rss_n = 0, inj_rng = opt.seed ^ 0xfeed;
	double t0, t1, t2, t3;
	unsigned next_inject = 0;
	struct rusage ru;

	parse(argc, argv);
	inj_rng = opt.seed * 0x9e3779b97f4a7c15ULL ^ opt.ninject;
	w = calloc(opt.threads, sizeof(*w));
	if (!w)
		die("out of memory");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	sigset_t usr1, waitmask;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (opt.start_on_usr1) {
		/* blocked from here on (threads inherit it): an early SIGUSR1 waits
		 * as pending instead of killing the process or being lost */
		signal(SIGUSR1, on_go_signal);
		sigprocmask(SIG_BLOCK, &usr1, &waitmask);
		sigdelset(&waitmask, SIGUSR1);
	}

	t0 = now_s();
	make_regions();
	note("%u regions, %.1f MiB, filling with %u threads", opt.regions, total_bytes / 1048576.0,
	     opt.threads);
	run_workers(fill_main, opt.threads, w, 1);
	join_workers(opt.threads, w);
	t1 = now_s();
	if (opt.start_on_usr1) {
		note("filled; waiting for SIGUSR1");
		while (!sig_go && !sig_stop)
			sigsuspend(&waitmask);
		sigprocmask(SIG_UNBLOCK, &usr1, NULL);
		double waited = now_s() - t1;

		t0 += waited; /* the fill's time stays the fill's */
		t1 += waited;
	}

	run_workers(writer_main, opt.threads, w, 2);
	if (opt.churn_ms)
		run_workers(churn_main, 1, &churner, 3);
	if (opt.pageout_ms)
		run_workers(advise_main, 1, &adviser, 4);
	for (unsigned sec = 0; sec < opt.seconds && !sig_stop; sec++) {
		sleep_ms(1000);
		m = sample_mem();
		if (m.swap_kib > swap_peak)
			swap_peak = m.swap_kib;
		rss_sum += m.rss_kib;
		rss_n++;
		while (next_inject < opt.ninject &&
		       sec + 1 >= (next_inject + 1) * opt.seconds / (opt.ninject + 1))
			inject(opt.inject[next_inject++], &inj_rng);
		note("t=%us writes=%llu resizes=%llu advice=%llu rss=%lluM swap=%lluM mismatches=%llu",
		     sec + 1, (unsigned long long)n_writes, (unsigned long long)n_resizes,
		     (unsigned long long)n_madv, (unsigned long long)m.rss_kib >> 10,
		     (unsigned long long)m.swap_kib >> 10, (unsigned long long)n_mismatch);
	}
	while (next_inject < opt.ninject) /* --seconds 0: inject before the final check */
		inject(opt.inject[next_inject++], &inj_rng);
	atomic_store(&stop, true);
	join_workers(opt.threads, w);
	if (opt.churn_ms)
		join_workers(1, &churner);
	if (opt.pageout_ms)
		join_workers(1, &adviser);
	m = sample_mem();
	if (m.swap_kib > swap_peak)
		swap_peak = m.swap_kib;
	t2 = now_s();

	uint64_t run_checked = n_checked_bytes;

	run_workers(verify_main, opt.threads, w, 5);
	join_workers(opt.threads, w);
	t3 = now_s();
	getrusage(RUSAGE_SELF, &ru);

	bool ok = n_mismatch == 0;

	printf("RESULT wl=integrity ok=%d size_mib=%.1f regions=%u bytes_verified=%llu "
	       "units_verified=%llu bytes_checked_during_run=%llu mismatches=%llu writes=%llu "
	       "resizes=%llu advice_calls=%llu advice_errors=%llu injected=%u swap_peak_mib=%llu "
	       "rss_avg_mib=%llu majflt=%ld fill_s=%.2f run_s=%.2f verify_s=%.2f\n",
	       ok, total_bytes / 1048576.0, opt.regions, (unsigned long long)n_final_bytes,
	       (unsigned long long)n_final_units, (unsigned long long)run_checked,
	       (unsigned long long)n_mismatch, (unsigned long long)n_writes,
	       (unsigned long long)n_resizes, (unsigned long long)n_madv,
	       (unsigned long long)n_madv_err, opt.ninject, (unsigned long long)swap_peak >> 10,
	       (unsigned long long)(rss_n ? rss_sum / rss_n : m.rss_kib) >> 10, ru.ru_majflt,
	       t1 - t0, t2 - t1, t3 - t2);
	free(w);
	return ok ? 0 : 1;
}
