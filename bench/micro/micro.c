// SPDX-License-Identifier: MIT
/*
 * pageflex-micro: runs one micro workload and prints its cost per operation.
 * It knows nothing about the shim: bench/micro/run.sh runs it under
 * LD_PRELOAD=libjemalloc.so.2 and under LD_PRELOAD=libpageflex.so, and
 * compares. Only the workload loop is timed (not start-up, not exit): wall
 * time per operation of one thread, and the CPU time of the whole process
 * (all threads, the shim's sender thread included) per operation, which is
 * steadier than wall time on a shared machine.
 *
 *   pageflex-micro malloc|malloc-small|mmap-small|mmap-large|mmap-mixed
 *                  [--ops N] [--threads T] [--seed S] [--window W]
 *
 * --window: live mappings in the mmap workloads (default 64, ~0.6 ms of
 * life each here; the shim withdraws regions that die within ~20 ms).
 *
 * Output, one line:
 *   WORKLOAD ns_per_op X ops N threads T checksum C cpu_ns_per_op Y
 *            worker_cpu_ns_per_op Z
 * Y - Z is what the process spent outside the workload's threads (the
 * shim's sender thread).
 */
#include "micro.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
	pthread_t tid;
	pthread_barrier_t *start;
	const char *workload;
	uint64_t ops, seed, sum;
	unsigned window;
	double cpu_ns; /* this thread's own CPU time in the workload */
};

static uint64_t run_one(const char *w, uint64_t ops, uint64_t seed, unsigned window)
{
	if (!strcmp(w, "malloc"))
		return micro_malloc_run(ops, seed, 0);
	if (!strcmp(w, "malloc-small"))
		return micro_malloc_run(ops, seed, 1);
	if (!strcmp(w, "mmap-small"))
		return micro_mmap_run(ops, seed, MICRO_MMAP_SMALL, window);
	if (!strcmp(w, "mmap-large"))
		return micro_mmap_run(ops, seed, MICRO_MMAP_LARGE, window);
	return micro_mmap_run(ops, seed, MICRO_MMAP_MIXED, window);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	struct timespec a, b;

	pthread_barrier_wait(w->start);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	w->sum = run_one(w->workload, w->ops, w->seed, w->window);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	w->cpu_ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	return NULL;
}

static double now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int known(const char *w)
{
	return !strcmp(w, "malloc") || !strcmp(w, "malloc-small") || !strcmp(w, "mmap-small") ||
	       !strcmp(w, "mmap-large") || !strcmp(w, "mmap-mixed");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pageflex-micro malloc|malloc-small|mmap-small|mmap-large|mmap-mixed\n"
		   "                      [--ops N] [--threads T] [--seed S] [--window W]\n"
		   "Runs N operations per thread and prints the wall time per operation.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ops", required_argument, NULL, 'n'},	{"threads", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 's'}, {"window", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},	{0},
	};
	uint64_t ops = 1000000, seed = 42, sum = 0;
	double worker_cpu = 0;
	long threads = 1, window = MICRO_WINDOW;
	pthread_barrier_t start;
	struct worker *ws;
	double t0, t1, c0, c1;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:t:s:w:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ops = strtoull(optarg, NULL, 0);
			break;
		case 't':
			threads = strtol(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'w':
			window = strtol(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || !known(argv[optind]) || !ops || threads < 1 || threads > 64 ||
	    window < 1 || window > 1 << 20) {
		usage(stderr);
		return 2;
	}
	ws = calloc((size_t)threads, sizeof(*ws));
	if (!ws || pthread_barrier_init(&start, NULL, (unsigned)threads + 1)) {
		fprintf(stderr, "micro: failed to set up %ld threads\n", threads);
		return 1;
	}
	for (long i = 0; i < threads; i++) {
		ws[i] = (struct worker){.start = &start,
					.workload = argv[optind],
					.ops = ops,
					.seed = seed + (uint64_t)i * 0x9E3779B97F4A7C15ULL,
					.window = (unsigned)window};
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i])) {
			fprintf(stderr, "micro: failed to start thread %ld\n", i);
			return 1;
		}
	}
	pthread_barrier_wait(&start);
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < threads; i++) {
		pthread_join(ws[i].tid, NULL);
		sum ^= ws[i].sum;
		worker_cpu += ws[i].cpu_ns;
	}
	c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now_ns(CLOCK_MONOTONIC);
	printf("%s ns_per_op %.2f ops %" PRIu64 " threads %ld checksum %" PRIx64
	       " cpu_ns_per_op %.2f worker_cpu_ns_per_op %.2f\n",
	       argv[optind], (t1 - t0) / (double)ops, ops, threads, sum,
	       (c1 - c0) / (double)(ops * (uint64_t)threads),
	       worker_cpu / (double)(ops * (uint64_t)threads));
	free(ws);
	return 0;
}
