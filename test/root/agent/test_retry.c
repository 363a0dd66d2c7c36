// SPDX-License-Identifier: MIT
/*
 * Pages a PAGEOUT skipped are paged out again later. process_madvise()
 * refuses a locked VMA (EINVAL) and silently skips pages it cannot isolate
 * at that moment (taken by the machine's DAMON reclaimer, locked, under
 * writeback); the agent must not treat either as done. Here part of a
 * region is mlock'ed: the rest of the region, on both sides of the locked
 * part, must go out while the lock is held, and the locked part must go
 * out within a few scans of the munlock. And pages PAGEOUT skips without an
 * error (here: shared with a forked child, which PAGEOUT leaves alone) must
 * go out within a few scans of the child's exit.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pf_client.h"
#include "testutil.h"

#define PG 4096ul

/* Logs the runs of present pages of [p, p+len) (to see what a PAGEOUT skipped). */
static void log_present(const unsigned char *p, size_t len)
{
	size_t i, run = 0, pr, sw;

	for (i = 0; i <= len / PG; i++) {
		pr = 0;
		if (i < len / PG)
			pagemap_count(p + i * PG, PG, &pr, &sw);
		if (pr) {
			run++;
			continue;
		}
		if (run)
			cr_log_info("warning: present: pages %zu..%zu", i - run, i - 1);
		run = 0;
	}
}

/* Waits up to ms until [p, p+len) is entirely swapped; returns the swapped pages. */
Test(agent_retry, locked_pages_paged_out_after_munlock, .timeout = 120)
{
	/* 8 MiB before the locked part, 8 MiB locked, 16 MiB after it. */
	const size_t len = 32ul << 20, lk_off = 8ul << 20, lk_len = 8ul << 20;
	const size_t after_off = lk_off + lk_len, after_len = len - after_off;
	const char *args[] = {"--cold-age", "retry=1", "--scan-interval", "200", "-v", NULL};
	struct pfa_agent a;
	size_t present, swapped, s;
	unsigned char *buf;
	uint64_t sum;
	struct pfc c;

	TU_SKIP_UNLESS(tu_ensure_swap());
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	buf = tc_anon(len);
	tc_fill(buf, len, 11);
	sum = tc_checksum(buf, len);
	cr_assert_eq(mlock(buf + lk_off, lk_len), 0, "mlock failed");
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, buf, len, "retry"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "retry", 5000));

	/* Cold age 1 s: the unlocked parts go out; the locked part cannot. */
	s = pagemap_wait_swapped(buf, lk_off, 10000);
	cr_assert_eq(s, lk_off / PG, "before the locked part: %zu of %zu pages swapped", s,
		     lk_off / PG);
	s = pagemap_wait_swapped(buf + after_off, after_len, 5000);
	if (s != after_len / PG) {
		char *log = agent_log(&a);
		log_present(buf + after_off, after_len);
		cr_log_info("warning: agent log:\n%s", log);
		free(log);
	}
	cr_assert_eq(s, after_len / PG, "after the locked part: %zu of %zu pages swapped", s,
		     after_len / PG);
	pagemap_count(buf + lk_off, lk_len, &present, &swapped);
	cr_assert_eq(present, lk_len / PG, "locked pages went out (%zu present)", present);
	cr_assert_eq(swapped, 0);

	/* Unlocked, the skipped pages are still present and idle: the next scans take them. */
	cr_assert_eq(munlock(buf + lk_off, lk_len), 0);
	s = pagemap_wait_swapped(buf + lk_off, lk_len, 5000);
	cr_log_info("after munlock: %zu of %zu pages swapped, agent paged_out %lld pages", s,
		    lk_len / PG,
		    agent_region_field(&a, getpid(), "retry", "paged_out") / (long long)PG);
	cr_assert_eq(s, lk_len / PG, "after munlock: only %zu of %zu pages swapped", s,
		     lk_len / PG);
	cr_assert_eq(tc_checksum(buf, len), sum, "region corrupted");
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	munmap(buf, len);
}

Test(agent_retry, silently_skipped_pages_paged_out_later, .timeout = 120)
{
	const size_t len = 16ul << 20;
	const char *args[] = {"--cold-age", "shared=1", "--scan-interval", "200", NULL};
	size_t present, swapped, s;
	struct pfa_agent a;
	unsigned char *buf;
	uint64_t sum, t0;
	long long tried;
	struct pfc c;
	pid_t kid;

	TU_SKIP_UNLESS(tu_ensure_swap());
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	buf = tc_anon(len);
	tc_fill(buf, len, 13);
	sum = tc_checksum(buf, len);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, buf, len, "shared"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "shared", 5000));
	/*
	 * After the first scan (whose MADV_COLD clears the accessed bits of the
	 * fill: MADV_COLD, like PAGEOUT, leaves shared pages alone), a child
	 * shares every page (copy-on-write): PAGEOUT skips them, no error.
	 */
	t0 = now_ms();
	while (agent_region_field(&a, getpid(), "shared", "scans") < 1 && now_ms() - t0 < 5000)
		usleep(10000);
	cr_assert_geq(agent_region_field(&a, getpid(), "shared", "scans"), 1);
	kid = fork();
	cr_assert_geq(kid, 0);
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	/* Cold after 1 s: the agent tries, the kernel skips every page. */
	s = pagemap_wait_swapped(buf, len, 2500);
	tried = agent_region_field(&a, getpid(), "shared", "paged_out");
	pagemap_count(buf, len, &present, &swapped);
	cr_log_info("while shared: agent chose %lld KiB, %zu pages swapped", tried >> 10, swapped);
	cr_assert_geq(tried, (long long)len / 2, "the agent chose only %lld KiB", tried >> 10);
	cr_assert_lt(s * 100, len / PG, "shared pages went out (%zu of %lu)", s, len / PG);

	/* The child exits: the same pages, still present and idle, go out now. */
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	s = pagemap_wait_swapped(buf, len, 5000);
	cr_assert_eq(s, len / PG, "after the child exited: only %zu of %lu pages swapped", s,
		     len / PG);
	cr_assert_eq(tc_checksum(buf, len), sum, "region corrupted");
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	munmap(buf, len);
}
