// SPDX-License-Identifier: MIT
/*
 * Unprivileged unit tests of pageflexd's pure parts: the region table
 * (overrides, splits, unmaps, slot mapping, region events and their
 * order), the actuator's batching (merging, page alignment, <= 1024 iovecs
 * per call, what its observer is told; on this process's own memory, which
 * needs no privilege) and the command-line rule parser.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actuator.h"
#include "binding.h"
#include "pageflex_agent.h"
#include "regions.h"

#define PG 4096ull
#define MB (1ull << 20)

static void init(void)
{
	cr_assert_eq(pf_regions_init(1ull << 20), 0);
}

static struct pf_rinfo *map(struct pf_rtable *t, uint64_t start, uint64_t len, const char *tag)
{
	int err = 0;
	struct pf_rinfo *ri =
		pf_rt_map(t, start, len, PFW_KIND_ANON, 3, tag, strlen(tag), "", 0, 0, &err);

	cr_assert_not_null(ri, "map failed: %d", err);
	return ri;
}

Test(regions, override_splits_and_unmap)
{
	struct pf_rtable t = {0};
	struct pf_rinfo *a, *b;

	init();
	a = map(&t, 0x10000000, 16 * MB, "a");
	/* A map in the middle splits a in two; both pieces keep a's id. */
	b = map(&t, 0x10000000 + 4 * MB, 2 * MB, "b");
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.p[0].ri, a);
	cr_assert_eq(t.p[1].ri, b);
	cr_assert_eq(t.p[2].ri, a);
	cr_assert_eq(t.p[0].end, 0x10000000 + 4 * MB);
	cr_assert_eq(t.p[2].start, 0x10000000 + 6 * MB);
	cr_assert_eq(a->refs, 2);
	cr_assert_eq(pf_regions_live(), 2);
	/* Lookups by address. */
	cr_assert_eq(pf_rt_find(&t, 0x10000000 + 5 * MB)->ri, b);
	cr_assert_eq(pf_rt_find(&t, 0x10000000 + 15 * MB)->ri, a);
	cr_assert_null(pf_rt_find(&t, 0x10000000 + 16 * MB));
	/* Unmapping across b's piece and into a's second piece. */
	pf_rt_unmap(&t, 0x10000000 + 5 * MB, 3 * MB);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.p[1].end, 0x10000000 + 5 * MB);
	cr_assert_eq(t.p[2].start, 0x10000000 + 8 * MB);
	/* Unmapping everything frees both ids. */
	pf_rt_unmap(&t, 0x10000000, 16 * MB);
	cr_assert_eq(t.n, 0);
	cr_assert_eq(pf_regions_live(), 0);
	pf_rt_clear(&t);
}

Test(regions, slots_follow_the_2mib_hull)
{
	struct pf_rtable t = {0};
	struct pf_rinfo *ri;

	init();
	/* Starts 12 KiB into a 2 MiB page and spans 3 of them. */
	ri = map(&t, 0x20000000 + 3 * PG, 4 * MB, "x");
	cr_assert_eq(ri->nchunks, 3);
	cr_assert(pf_rinfo_slots(ri));
	cr_assert_eq(ri->slot_base % 512, 0);
	cr_assert_eq(pf_rinfo_slot(ri, 0x20000000 + 3 * PG), ri->slot_base + 3);
	cr_assert_eq(pf_slots_used(), 3 * 512);
	/* A piece split off keeps the slot mapping. */
	map(&t, 0x20000000 + 1 * MB, 1 * MB, "y");
	cr_assert_eq(pf_rinfo_slot(ri, 0x20000000 + 2 * MB), ri->slot_base + 512);
	pf_rt_clear(&t);
	cr_assert_eq(pf_slots_used(), 0);
}

Test(regions, table_full_is_refused_not_fatal)
{
	struct pf_rtable t = {0};
	size_t i;
	int err = 0;

	init();
	for (i = 0; i + 2 <= PFA_PROC_TABLE; i++)
		cr_assert_not_null(pf_rt_map(&t, 0x40000000 + i * 2 * PG, PG, PFW_KIND_ANON, 3, "",
					     0, "", 0, 0, &err));
	cr_assert_null(pf_rt_map(&t, 0x90000000, PG, PFW_KIND_ANON, 3, "", 0, "", 0, 0, &err));
	cr_assert_eq(err, -ENOSPC);
	pf_rt_clear(&t);
}

/* Region events: who heard what, in order ("a+5" = subscriber a, on_new of id 5). */
static char heard[256];

static void note(char who, char what, uint32_t id)
{
	size_t n = strlen(heard);

	snprintf(heard + n, sizeof(heard) - n, "%s%c%c%u", n ? " " : "", who, what, id);
}

static void a_new(uint32_t id)
{
	note('a', '+', id);
}

static void a_bind(struct pf_rinfo *ri)
{
	note('a', '=', ri->id);
}

static void a_free(struct pf_rinfo *ri)
{
	note('a', '-', ri->id);
}

static void b_new(uint32_t id)
{
	note('b', '+', id);
}

static void b_free(struct pf_rinfo *ri)
{
	note('b', '-', ri->id);
}

Test(regions, events_in_subscription_order_frees_in_reverse)
{
	static const struct pf_region_events a = {
		.on_new = a_new, .on_bind = a_bind, .on_free = a_free};
	static const struct pf_region_events b = {.on_new = b_new, .on_free = b_free};
	struct pf_rtable t = {0};
	struct pf_rinfo *ri;

	init();
	heard[0] = 0;
	pf_region_events_subscribe(&a);
	pf_region_events_subscribe(&b);
	pf_region_events_subscribe(&a); /* no-op: a stays first, heard once */
	ri = map(&t, 0x10000000, 2 * MB, "x");
	pf_region_events_bound(ri);
	pf_rt_unmap(&t, 0x10000000, 2 * MB);
	cr_assert_str_eq(heard, "a+0 b+0 a=0 b-0 a-0");
	/* Unsubscribed: b hears nothing more, a's order is kept. */
	heard[0] = 0;
	pf_region_events_unsubscribe(&b);
	ri = map(&t, 0x10000000, 2 * MB, "y");
	pf_rt_clear(&t);
	cr_assert_str_eq(heard, "a+0 a-0"); /* id 0 was free again */
	pf_region_events_unsubscribe(&a);
}

Test(actuator, normalize_merges_and_aligns)
{
	struct pf_batch b = {0};

	pf_batch_add(&b, 3 * PG, PG);
	pf_batch_add(&b, 1 * PG, PG);
	pf_batch_add(&b, 2 * PG, PG); /* adjacent to both */
	pf_batch_add(&b, 10 * PG + 100, 10); /* unaligned: widened to its page */
	pf_batch_add(&b, 20 * PG, 0); /* empty: ignored */
	pf_batch_normalize(&b);
	cr_assert_eq(b.n, 2);
	cr_assert_eq(b.r[0].start, 1 * PG);
	cr_assert_eq(b.r[0].len, 3 * PG);
	cr_assert_eq(b.r[1].start, 10 * PG);
	cr_assert_eq(b.r[1].len, PG);
	pf_batch_free(&b);
}

Test(actuator, at_most_1024_iovecs_per_call)
{
	const size_t n = 3000;
	unsigned char *p =
		mmap(NULL, 2 * n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	struct pf_batch b = {0};
	uint64_t calls0 = pf_act_stats[PF_ADV_COLD].calls;
	size_t i;

	cr_assert_neq(p, MAP_FAILED);
	cr_assert_geq(pidfd, 0);
	memset(p, 1, 2 * n * PG);
	for (i = 0; i < n; i++) /* every other page: no merging possible */
		pf_batch_add(&b, (uintptr_t)p + 2 * i * PG, PG);
	cr_assert_eq(pf_act(pidfd, getpid(), PF_ADV_COLD, &b), n * PG);
	cr_assert_eq(pf_act_stats[PF_ADV_COLD].calls - calls0, 3, "3000 iovecs in %llu calls",
		     (unsigned long long)(pf_act_stats[PF_ADV_COLD].calls - calls0));
	/* A bad range is counted, skipped, and the rest still goes out. */
	pf_batch_reset(&b);
	pf_batch_add(&b, (uintptr_t)p, PG);
	pf_batch_add(&b, 0x1000, PG); /* not mapped */
	pf_batch_add(&b, (uintptr_t)p + 4 * PG, PG);
	{
		uint64_t err0 = pf_act_stats[PF_ADV_COLD].errors;
		uint64_t done = pf_act(pidfd, getpid(), PF_ADV_COLD, &b);

		cr_assert_geq(pf_act_stats[PF_ADV_COLD].errors, err0 + 1);
		cr_assert_eq(done, 2 * PG, "advised %llu bytes", (unsigned long long)done);
	}
	pf_batch_free(&b);
	munmap(p, 2 * n * PG);
	close(pidfd);
}

static struct {
	int calls, pid;
	enum pf_advice a;
	struct pf_batch b;
} seen;

static void observe(int pid, enum pf_advice a, const struct pf_batch *done)
{
	seen.calls++;
	seen.pid = pid;
	seen.a = a;
	pf_batch_reset(&seen.b);
	for (size_t i = 0; i < done->n; i++)
		pf_batch_add_sep(&seen.b, done->r[i].start, done->r[i].len);
}

/* The recorder's view: the ranges advised, of the observed process only. */
Test(actuator, observer_gets_what_was_advised)
{
	const size_t n = 16384; /* 64 MiB */
	unsigned char *p =
		mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	uintptr_t a = (uintptr_t)p;
	struct pf_batch b = {0};
	uint64_t done, sum = 0;
	size_t i;

	cr_assert_neq(p, MAP_FAILED);
	cr_assert_geq(pidfd, 0);
	memset(p, 1, n * PG);
	pf_act_observe(getpid(), observe);
	/* A range that fails (not mapped) is left out; the others are there, merged. */
	pf_batch_add(&b, a + 10 * PG, 3 * PG);
	pf_batch_add(&b, 0x1000, PG);
	pf_batch_add(&b, a, PG);
	pf_batch_add(&b, a + PG, PG);
	pf_batch_add(&b, a + 4 * PG, PG);
	done = pf_act(pidfd, getpid(), PF_ADV_COLD, &b);
	cr_assert_eq(done, 6 * PG);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.pid, getpid());
	cr_assert_eq(seen.a, PF_ADV_COLD);
	cr_assert_eq(seen.b.n, 3, "%zu ranges", seen.b.n);
	cr_assert(seen.b.r[0].start == a && seen.b.r[0].len == 2 * PG);
	cr_assert(seen.b.r[1].start == a + 4 * PG && seen.b.r[1].len == PG);
	cr_assert(seen.b.r[2].start == a + 10 * PG && seen.b.r[2].len == 3 * PG);
	/* A batch shared among threads (PAGEOUT >= 32 MiB): all of it, in order. */
	pf_batch_reset(&b);
	for (i = 0; i < n; i += 2)
		pf_batch_add(&b, a + i * PG, PG);
	pf_act_threads = 2;
	done = pf_act(pidfd, getpid(), PF_ADV_PAGEOUT, &b);
	pf_act_threads = 1;
	cr_assert_eq(done, n / 2 * PG);
	cr_assert_eq(seen.calls, 2);
	cr_assert_eq(seen.b.n, n / 2);
	for (i = 0; i < seen.b.n; i++) {
		cr_assert_eq(seen.b.r[i].start, a + 2 * i * PG);
		sum += seen.b.r[i].len;
	}
	cr_assert_eq(sum, done);
	/* Another process observed: not told about this one. */
	pf_act_observe(1, observe);
	pf_batch_reset(&b);
	pf_batch_add(&b, a, PG);
	cr_assert_eq(pf_act(pidfd, getpid(), PF_ADV_COLD, &b), PG);
	cr_assert_eq(seen.calls, 2);
	pf_act_observe(0, NULL);
	pf_batch_free(&b);
	pf_batch_free(&seen.b);
	munmap(p, n * PG);
	close(pidfd);
}

Test(binding, command_line_rules)
{
	char err[256];
	struct pf_binding b;

	cr_assert_neq(pf_binding_parse_cold_age("cold", err, sizeof(err)), 0);
	cr_assert(strstr(err, "want TAG=SECONDS"), "%s", err);
	cr_assert_neq(pf_binding_parse_cold_age("cold=abc", err, sizeof(err)), 0);
	cr_assert_neq(pf_binding_parse_cold_age("cold=0", err, sizeof(err)), 0);
	cr_assert_neq(pf_binding_parse_policy("x=nosuch", err, sizeof(err)), 0);
	cr_assert(strstr(err, "unknown reclaim policy"), "%s", err);
	cr_assert_eq(pf_binding_parse_cold_age("db.*=0.5", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pf_binding_parse_cold_age("*=120", err, sizeof(err)), 0, "%s", err);
	cr_assert(pf_binding_lookup("db.index", "", PFW_KIND_ANON, MB, NULL, &b));
	cr_assert_str_eq(b.reclaim->name, "cold-age");
	cr_assert_eq(b.params.cold_age_ms, 500);
	cr_assert_leq(b.params.tick_ms, 50, "ticks must stay well below the age");
	cr_assert(pf_binding_lookup("other", "", PFW_KIND_ANON, MB, NULL, &b));
	cr_assert_eq(b.params.cold_age_ms, 120000);
}

Test(regions, untrusted_names_are_made_printable)
{
	struct pf_rtable t = {0};
	struct pf_rinfo *ri;
	int err = 0;

	init();
	ri = pf_rt_map(&t, 0x50000000, PG, PFW_KIND_ANON, 3, "a\nb\033c", 5, "lib\n.so", 7, 0,
		       &err);
	cr_assert_not_null(ri);
	cr_assert_str_eq(ri->tag, "a?b?c");
	cr_assert_str_eq(ri->module, "lib?.so");
	pf_rt_clear(&t);
}
