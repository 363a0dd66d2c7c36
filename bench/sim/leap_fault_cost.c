// SPDX-License-Identifier: MIT
/*
 * leap-fault-cost: what Leap on the fault path (bpf/leap.bpf.c) costs per
 * page fault. Touches a fresh mapping with a stride of 7 pages (one first-
 * touch fault per access) three ways in one run — no program, the program
 * watching another process, the program running Leap on this region — and
 * prints ns per fault and the ratios, plus the program's own average run
 * time (BPF_ENABLE_STATS). Needs root.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "leap.skel.h"
#include "leap_core.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ns per fault of one strided pass over a fresh mapping of npages. */
static double pass(struct leap_bpf *skel, size_t npages, bool watch)
{
	const size_t stride = 7;
	uint32_t zero = 0;
	uint64_t t0, t1;
	size_t faults = 0;
	char *m = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (m == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (skel) {
		struct leap_region r = {.start = (uint64_t)(uintptr_t)m,
					.end = (uint64_t)(uintptr_t)m + npages * 4096,
					.max_pw = 32,
					.id = 1,
					.tgid = watch ? (uint32_t)getpid() : 0};
		struct leap_state st = {0};

		bpf_map_update_elem(bpf_map__fd(skel->maps.regions), &zero, &r, BPF_ANY);
		bpf_map_update_elem(bpf_map__fd(skel->maps.states), &zero, &st, BPF_ANY);
	}
	t0 = now_ns();
	for (size_t off = 0; off < stride; off++)
		for (size_t p = off; p < npages; p += stride, faults++)
			((volatile char *)m)[p * 4096] = 1;
	t1 = now_ns();
	munmap(m, npages * 4096);
	return (double)(t1 - t0) / (double)faults;
}

int main(int argc, char **argv)
{
	size_t npages = argc > 1 ? strtoul(argv[1], NULL, 0) : 65536;
	int rounds = argc > 2 ? atoi(argv[2]) : 5, stats_fd;
	double base = 0, other = 0, leap = 0;
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info), me = (uint32_t)getpid();
	struct leap_bpf *skel;

	if (geteuid()) {
		fprintf(stderr, "leap-fault-cost: needs root (BPF)\n");
		return 77;
	}
	skel = leap_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "leap-fault-cost: failed to load leap.bpf.o\n");
		return 1;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	skel->bss->watched[me / 64] |= 1ull << (me % 64);
	pass(NULL, npages, false); /* warm up */
	for (int i = 0; i < rounds; i++) {
		/* Interleaved, so drift hits all three alike. */
		base += pass(NULL, npages, false);
		leap_bpf__attach(skel);
		other += pass(skel, npages, false); /* region of another tgid: lookup only */
		leap += pass(skel, npages, true);
		leap_bpf__detach(skel);
	}
	base /= rounds;
	other /= rounds;
	leap /= rounds;
	bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.leap_on_fault), &info, &len);
	printf("faults per pass %zu, %d rounds\n", npages, rounds);
	printf("no program          %8.0f ns/fault  1.000\n", base);
	printf("watched, no region  %8.0f ns/fault  %.3f\n", other, other / base);
	printf("Leap on the region  %8.0f ns/fault  %.3f\n", leap, leap / base);
	if (stats_fd >= 0 && info.run_cnt)
		printf("program run time    %8.0f ns/run (%llu runs)\n",
		       (double)info.run_time_ns / (double)info.run_cnt,
		       (unsigned long long)info.run_cnt);
	printf("decisions %llu, window hits %llu\n", (unsigned long long)skel->bss->decisions_made,
	       (unsigned long long)skel->bss->window_hits);
	leap_bpf__destroy(skel);
	return 0;
}
