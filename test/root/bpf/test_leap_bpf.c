// SPDX-License-Identifier: MIT
/*
 * Leap in BPF and in C decide the same: the same traces go through
 * bpf/test/leap_replay.bpf.c's leap_replay (BPF_PROG_TYPE_SYSCALL,
 * bpf_prog_test_run; the global function pf_leap runs on the fault path)
 * and through leap_core.h compiled as user C, and every decision must match.
 * (The fault-path program itself, pf_leap, is tested on real swap faults by
 * test/root/agent/test_leap_fault_path.c.) Needs root (BPF).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "leap_replay.skel.h"
#include "leap_core.h"
#include "testutil.h"

static uint64_t rng = 42;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A trace of faults mixing strides, randomness and reversals, with hits
 * classified as the fault path does (page in the last window). */
static size_t make_trace(struct leap_trace_ent *t, size_t n, unsigned variant)
{
	struct leap_state ref;
	struct leap_decision d;
	uint64_t page = 1000000;
	size_t i = 0;

	leap_init(&ref);
	while (i < n) {
		unsigned seg = (unsigned)((next_rand() + variant) % 6);
		size_t len = 10 + next_rand() % 60;
		int64_t stride = seg == 0 ? 7 : seg == 1 ? -3 : seg == 2 ? 1 : 40;

		for (size_t k = 0; k < len && i < n; k++, i++) {
			if (seg >= 4)
				page = 1000000 + next_rand() % 100000;
			else if (seg == 3 && k % 3 == 2)
				page -= 100; /* a majority stride with noise */
			else
				page += (uint64_t)stride;
			t[i].page = page;
			t[i].hit = (uint32_t)leap_in_window(&ref, page);
			t[i].pad = 0;
			leap_fault(&ref, page, (int)t[i].hit, 32, &d);
		}
	}
	return n;
}

static void compare(struct leap_replay_bpf *skel, const struct leap_trace_ent *t, size_t n,
		    uint32_t max_pw)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct leap_state c;
	size_t prefetching = 0;

	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.trace), &i, &t[i], BPF_ANY),
			     0);
	skel->bss->trace_len = (uint32_t)n;
	skel->data->replay_max_pw = max_pw;
	cr_assert_eq(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.leap_replay), &opts), 0,
		     "test_run failed");
	cr_assert_eq((int)opts.retval, (int)n, "bpf_loop ran %d of %zu", (int)opts.retval, n);

	leap_init(&c);
	for (uint32_t i = 0; i < n; i++) {
		struct leap_decision want, got;

		leap_fault(&c, t[i].page, (int)t[i].hit, max_pw, &want);
		cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.decisions), &i, &got), 0);
		cr_assert(want.start == got.start && want.stride == got.stride &&
				  want.count == got.count && want.trend_window == got.trend_window,
			  "fault %u (page %llu): C says %lld x %u, BPF says %lld x %u", i,
			  (unsigned long long)t[i].page, (long long)want.stride, want.count,
			  (long long)got.stride, got.count);
		prefetching += want.count > 0;
	}
	/* The trace must exercise both outcomes, or the comparison proves little. */
	cr_assert(prefetching > n / 10 && prefetching < n - n / 10, "prefetching on %zu of %zu",
		  prefetching, n);
}

Test(leap_bpf, replay_matches_c, .timeout = 60)
{
	struct leap_replay_bpf *skel;
	static struct leap_trace_ent t[LEAP_BPF_MAX_TRACE];

	TU_SKIP_UNLESS(tu_need_root());
	skel = leap_replay_bpf__open_and_load();
	cr_assert_not_null(skel, "cannot load leap_replay.bpf.o");
	for (unsigned v = 0; v < 3; v++) {
		size_t n = make_trace(t, LEAP_BPF_MAX_TRACE, v);

		compare(skel, t, n, v == 2 ? 8 : 32);
	}
	leap_replay_bpf__destroy(skel);
}
