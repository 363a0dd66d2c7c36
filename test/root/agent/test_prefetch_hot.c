// SPDX-License-Identifier: MIT
/*
 * pageflexd's prefetch_hot phase action, live (root, zram swap): a process
 * alternates phases A and B with disjoint hot sets in one region; the
 * agent's cold-age rule pages A's set out while B runs; when A starts again,
 * the agent brings A's last hot set back with MADV_WILLNEED before the
 * program touches it. Run twice, with and without prefetch_hot, one agent
 * each: the re-entry into A must take far fewer major faults with it, and
 * the data must come back byte for byte.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pageflex_wire.h"
#include "pf_client.h"
#include "testutil.h"

#define PG 4096ul
#define REGION (32ul << 20)
#define HOT (8ul << 20) /* each phase's hot set: 2048 pages */

static int send_phase(struct pfc *c, const char *name)
{
	static uint64_t phase_seq;
	uint64_t mem[32];
	struct pfw_buf b;
	int rc;

	pfw_buf_init(&b, mem, sizeof(mem), c->seq);
	if (pfw_put_phase(&b, ++phase_seq, name, strlen(name)))
		return -1;
	rc = pfc_send_raw(c, b.data, pfw_buf_finish(&b));
	if (!rc)
		c->seq++;
	return rc;
}

static long majflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_majflt;
}

/* One read of every page of [p, p+len). */
static uint64_t touch(const unsigned char *p, size_t len)
{
	uint64_t s = 0;

	for (size_t i = 0; i < len; i += PG)
		s += *(volatile const unsigned char *)(p + i);
	return s;
}

struct result {
	long majors; /* major faults of the re-entry into A */
	long long prefetched; /* pages the agent asked for (WILLNEED) */
	bool logged; /* the agent logged its prefetch_hot */
};

static void run(bool hot, uint64_t a_ms, struct result *res)
{
	char path[] = "/tmp/pf-rules-XXXXXX", rules[1024];
	const char *args[] = {"--config", path, "--scan-interval", "100", NULL};
	unsigned char *buf, *ref, *a_set, *b_set;
	size_t present, swapped;
	struct pfa_agent a;
	uint64_t t0;
	struct pfc c;
	long m0;
	char *alog;
	int fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(rules, sizeof(rules),
		 "version: 1\n"
		 "rules:\n"
		 "  - name: data\n"
		 "    match: {tag: \"data\"}\n"
		 "    reclaim: cold-age\n"
		 "    params: {cold_age_ms: 400}\n"
		 "    threshold: {mode: cold-age}\n"
		 "phases:\n"
		 "  \"A\":\n"
		 "    on_entry: {prefetch_hot: %s}\n",
		 hot ? "true" : "false");
	tc_write_file(path, rules);
	cr_assert_eq(agent_start(&a, args), 0);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	buf = tc_anon(REGION);
	ref = malloc(REGION);
	cr_assert_not_null(ref);
	for (size_t i = 0; i < REGION; i += 8)
		*(uint64_t *)(buf + i) = (i >> 6) * 0x9e3779b97f4a7c15ull + hot;
	memcpy(ref, buf, REGION);
	a_set = buf + 4 * PG; /* not at the start: offsets must be kept right */
	b_set = a_set + HOT;
	cr_assert_eq(pfc_map(&c, buf, REGION, "data"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "data", 5000));

	/* Let the agent's scans see (and clear) the accessed bits of the fill
	 * (before the cold age of 400 ms pages anything out). */
	usleep(300000);
	/* Phase A: its set is hot for a while (the agent scans every 100 ms). */
	cr_assert_eq(send_phase(&c, "A"), 0);
	for (int k = 0; k < 3 || now_ms() - t0 < a_ms; k++) {
		if (!k)
			t0 = now_ms();
		touch(a_set, HOT);
		usleep(2000);
	}
	/* Phase B: only B's set is used; A's goes cold and is paged out. */
	cr_assert_eq(send_phase(&c, "B"), 0);
	usleep(20000); /* a little other work first: the agent takes the phase in */
	t0 = now_ms();
	do {
		for (int k = 0; k < 50; k++) {
			touch(b_set, HOT);
			usleep(2000);
		}
		pagemap_count(a_set, HOT, &present, &swapped);
	} while ((swapped < HOT / PG * 98 / 100 || now_ms() - t0 < 1000) && now_ms() - t0 < 15000);
	cr_assert_geq(swapped, HOT / PG * 98 / 100, "only %zu of A's %lu pages were paged out",
		      swapped, HOT / PG);
	/* A again: a moment of other work, then A's set. */
	res->prefetched = agent_region_field(&a, getpid(), "data", "prefetched") / (long long)PG;
	cr_assert_eq(send_phase(&c, "A"), 0);
	usleep(500000);
	m0 = majflt();
	touch(a_set, HOT);
	res->majors = majflt() - m0;
	res->prefetched = agent_region_field(&a, getpid(), "data", "prefetched") / (long long)PG -
			  res->prefetched;
	alog = agent_log(&a);
	res->logged = alog && strstr(alog, "prefetch_hot: WILLNEED of");
	if (alog && strstr(alog, "phase 'A' ends"))
		cr_log_info("agent: %.*s", (int)strcspn(strstr(alog, "phase 'A' ends"), "\n"),
			    strstr(alog, "phase 'A' ends"));
	free(alog);
	cr_assert(!memcmp(buf, ref, REGION), "data changed");
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	unlink(path);
	munmap(buf, REGION);
	free(ref);
}

static void check(const char *what, const struct result *with, const struct result *without)
{
	cr_log_info("%s: re-entering phase A (%lu pages hot last time, all paged out during B): "
		    "%ld major faults without prefetch_hot, %ld with it (%lld pages prefetched)",
		    what, HOT / PG, without->majors, with->majors, with->prefetched);
	cr_assert(with->logged, "the agent did not log its prefetch_hot");
	cr_assert_eq(without->prefetched, 0);
	cr_assert_geq(with->prefetched, (long long)(HOT / PG * 9 / 10));
	cr_assert_leq(with->prefetched, (long long)(HOT / PG + HOT / PG / 10),
		      "prefetched %lld pages for a hot set of %lu", with->prefetched, HOT / PG);
	if (without->majors < (long)(HOT / PG / 2))
		cr_skip_test("the swap tier keeps paged-out pages in the swap cache (%ld major "
			     "faults for %lu paged-out pages): prefetch cannot be measured here",
			     without->majors, HOT / PG);
	cr_assert_leq(with->majors * 4, without->majors,
		      "with prefetch_hot %ld major faults, without %ld", with->majors,
		      without->majors);
}

/* Phase A lasts 1.2 s: its hot set comes from the agent's last periodic scan. */
Test(agent, prefetch_hot_brings_a_phase_back, .timeout = 180)
{
	struct result with, without;

	TU_SKIP_UNLESS(tu_ensure_swap());
	run(false, 1200, &without);
	run(true, 1200, &with);
	check("long phase", &with, &without);
}

/* Phase A lasts 30 ms, less than half a scan period: the agent scans when
 * it learns that A ended. */
Test(agent, prefetch_hot_after_a_short_phase, .timeout = 180)
{
	struct result with, without;

	TU_SKIP_UNLESS(tu_ensure_swap());
	run(false, 30, &without);
	run(true, 30, &with);
	check("short phase", &with, &without);
}
