// SPDX-License-Identifier: MIT
/*
 * Leap in BPF and in C decide the same: the same traces go through
 * bpf/test/leap_replay.bpf.c's leap_replay (BPF_PROG_TYPE_SYSCALL,
 * bpf_prog_test_run; the global function leap.bpf.c runs on the fault path)
 * and through leap_core.h compiled as user C, and every decision must match.
 * A second test runs the fault-path program on this process's own faults
 * (the variant this kernel loads: leap_on_fault, or leap_on_fault_compat).
 * Needs root (BPF).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leap.skel.h"
#include "leap_replay.skel.h"
#include "leap_bpf.h"
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

struct rb_check {
	const struct leap_event *want;
	size_t n, seen, bad;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct rb_check *k = ctx;
	const struct leap_event *got = data;

	if (len < sizeof(*got) || k->seen >= k->n) {
		k->bad++;
		return 0;
	}
	const struct leap_event *w = &k->want[k->seen++];

	if (got->addr != w->addr || got->stride_bytes != w->stride_bytes ||
	    got->count != w->count || got->region_id != w->region_id || got->tgid != w->tgid)
		k->bad++;
	return 0;
}

/* Touches a fresh mapping with a stride of 7 pages; the fault-path program
 * must emit exactly the decisions the C code makes on the same faults. */
/* leap.bpf.o with one of its two fault-path variants, loaded; NULL if it fails. */
static struct leap_bpf *open_variant(bool by_map, bool compat)
{
	struct leap_bpf *skel = leap_bpf__open();

	cr_assert_not_null(skel);
	bpf_program__set_autoload(skel->progs.leap_on_fault, !compat);
	bpf_program__set_autoload(skel->progs.leap_on_fault_compat, compat);
	if (!by_map)
		skel->rodata->target_tgid = (uint32_t)getpid();
	if (leap_bpf__load(skel)) {
		leap_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static void fault_path(bool by_map)
{
	const size_t npages = 4096, stride = 7;
	static struct leap_event want[4096];
	struct leap_region reg = {0};
	struct rb_check k = {.want = want};
	struct ring_buffer *rb;
	struct leap_bpf *skel;
	struct leap_state c;
	uint32_t zero = 0;
	char *mem;

	skel = open_variant(by_map, false);
	if (!skel) /* a kernel without bpf_rdonly_cast */
		skel = open_variant(by_map, true);
	cr_assert_not_null(skel, "neither variant of the fault-path program loads");
	if (by_map) {
		uint32_t me = (uint32_t)getpid();

		skel->bss->watched[me / 64] |= 1ull << (me % 64);
	}
	mem = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(mem, MAP_FAILED);
	reg.start = (uint64_t)(uintptr_t)mem;
	reg.end = reg.start + npages * 4096;
	reg.max_pw = 32;
	reg.id = 9;
	reg.tgid = (uint32_t)getpid();
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.regions), &zero, &reg, BPF_ANY), 0);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &k, NULL);
	cr_assert_not_null(rb);
	cr_assert_eq(leap_bpf__attach(skel), 0);

	/* First touches with a stride of 7 pages: each is one fault. */
	for (size_t p = 0; p < npages; p += stride)
		((volatile char *)mem)[p * 4096] = 1;
	leap_bpf__detach(skel);

	/* The same faults through the C code, hits classified the same way. */
	leap_init(&c);
	for (size_t p = 0; p < npages; p += stride) {
		struct leap_decision d;

		if (!leap_fault(&c, p, leap_in_window(&c, p), 32, &d))
			continue;
		want[k.n++] = (struct leap_event){.addr = reg.start + (d.start + d.stride) * 4096,
						  .stride_bytes = d.stride * 4096,
						  .count = d.count,
						  .region_id = 9,
						  .tgid = (uint32_t)getpid()};
	}
	ring_buffer__consume(rb);
	cr_assert_eq(skel->bss->faults_seen, (npages + stride - 1) / stride, "saw %llu faults",
		     (unsigned long long)skel->bss->faults_seen);
	cr_assert_eq(skel->bss->decisions_made, k.n, "BPF decided %llu times, C %zu",
		     (unsigned long long)skel->bss->decisions_made, k.n);
	cr_assert_gt(k.n, 0);
	cr_assert_eq(k.seen, k.n, "ring buffer had %zu of %zu decisions", k.seen, k.n);
	cr_assert_eq(k.bad, 0, "%zu decisions differ", k.bad);
	ring_buffer__free(rb);
	munmap(mem, npages * 4096);
	leap_bpf__destroy(skel);
}

Test(leap_bpf, fault_path_decides_like_c, .timeout = 60)
{
	TU_SKIP_UNLESS(tu_need_root());
	fault_path(false);
}

Test(leap_bpf, fault_path_watched_map, .timeout = 60)
{
	TU_SKIP_UNLESS(tu_need_root());
	fault_path(true);
}

struct collected {
	size_t n, bad;
	uint64_t lo, hi;
};

static void collect(void *arg, uint32_t tgid, uint32_t region_id, uint64_t addr,
		    int64_t stride_bytes, uint32_t count)
{
	struct collected *c = arg;

	c->n++;
	if (tgid != (uint32_t)getpid() || region_id != 2 || stride_bytes != 5 * 4096 || !count ||
	    addr < c->lo || addr >= c->hi + 4096 * 5 * 256)
		c->bad++;
}

Test(leap_bpf, agent_handle_slots_and_decisions, .timeout = 60)
{
	const size_t np = 2048;
	struct pf_leap_bpf *lb;
	struct pf_leap_bpf_stats st;
	struct collected got = {0};
	uint32_t me = (uint32_t)getpid();
	char *a, *b;

	TU_SKIP_UNLESS(tu_need_root());
	cr_assert_eq(pf_leap_bpf_open(&lb, NULL), 0);
	a = mmap(NULL, np * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, np * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(a != MAP_FAILED && b != MAP_FAILED);
	got.lo = (uint64_t)(uintptr_t)b;
	got.hi = got.lo + np * 4096;
	cr_assert_eq(pf_leap_bpf_watch(lb, me, true), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, me, 1, (uintptr_t)a, (uintptr_t)a + np * 4096, 32), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, me, 2, (uintptr_t)b, (uintptr_t)b + np * 4096, 32), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, me, 2, (uintptr_t)b, (uintptr_t)b + np * 4096, 32),
		     -EEXIST);
	cr_assert_eq(pf_leap_bpf_add(lb, me, 3, 1, 4096, 32), -EINVAL);
	cr_assert_eq(pf_leap_bpf_remove(lb, me, 1), 0, "region 2 moves into slot 0");
	cr_assert_eq(pf_leap_bpf_remove(lb, me, 1), -ENOENT);

	for (size_t p = 0; p < np; p += 5)
		((volatile char *)b)[p * 4096] = 1;
	for (size_t p = 0; p < np; p += 5)
		((volatile char *)a)[p * 4096] = 1; /* not a Leap region any more */
	cr_assert_gt(pf_leap_bpf_poll(lb, collect, &got), 0);
	cr_assert_eq(got.bad, 0, "%zu of %zu decisions wrong", got.bad, got.n);
	pf_leap_bpf_stats(lb, &st);
	cr_assert_eq(st.faults, (np + 4) / 5, "faults %llu", (unsigned long long)st.faults);
	cr_assert_eq(st.decisions, got.n);
	cr_assert_eq(st.regions, 1);

	pf_leap_bpf_forget(lb, me);
	pf_leap_bpf_stats(lb, &st);
	cr_assert_eq(st.regions, 0);
	for (size_t p = 1; p < np; p += 5)
		((volatile char *)b)[p * 4096] = 1;
	pf_leap_bpf_stats(lb, &st);
	cr_assert_eq(st.faults, (np + 4) / 5, "no faults counted after forget");
	munmap(a, np * 4096);
	munmap(b, np * 4096);
	pf_leap_bpf_close(lb);
}
