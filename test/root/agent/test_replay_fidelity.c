// SPDX-License-Identifier: MIT
/*
 * A live recording, replayed, reproduces the live run (issue 15): a
 * workload populates 64 MiB, of which it then reads 40% with Zipf(0.99)
 * popularity and never touches the rest again; pageflexd manages it with one
 * rules file per reclaim policy and threshold mode; a second into the
 * run `pageflexctl record` records it; pageflex-sim replays the recording
 * with the same rules (--compare). The pages paged out and the refaults of
 * the replay must be within 10% of the live run's, or within a floor of
 * 0.5% of the region's pages where the live counts are that small (the
 * scan races the live workload by a few pages each tick; the replay cannot).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pf_client.h"
#include "testutil.h"
#include "zipf.h"

#define PG 4096ul
#define PAGES 16384ul /* 64 MiB */

/* The workload: populate, register, then read the hot 40% forever. */
static void workload(const char *sock, int ready_fd)
{
	volatile unsigned char *buf = tc_anon(PAGES * PG);
	uint64_t rng = 42, sum = 0, hot = PAGES * 4 / 10;
	struct pf_zipf z;
	struct pfc c;

	for (uint64_t i = 0; i < PAGES; i++)
		buf[i * PG] = (unsigned char)i;
	if (pfc_connect(&c, sock, 0) || pfc_map(&c, (void *)buf, PAGES * PG, "kv") ||
	    pf_zipf_init(&z, hot, 0.99, 7))
		_exit(3);
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	for (;;) {
		for (int k = 0; k < 2000; k++)
			sum += buf[pf_zipf_next(&z, &rng) * PG];
		usleep(10000 + (sum & 1));
	}
}

struct cmp {
	unsigned long long out_live, out_replay, ref_live, ref_replay, external;
};

/* Runs pageflex-sim --compare and reads its "total" line. */
static void replay(const char *trace, const char *rules, struct cmp *c, char *out, size_t outlen)
{
	char cmd[1024], line[512];
	size_t used = 0;
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/bin/pageflex-sim --trace %s --rules %s --compare 2>&1",
		 tu_build_dir(), trace, rules);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long ol, orp, rl, rr;
		char tag[32];
		double d1, d2;

		if (used + strlen(line) < outlen) {
			memcpy(out + used, line, strlen(line) + 1);
			used += strlen(line);
		}
		const char *x = strstr(line, " pages swapped by others");

		if (x) {
			while (x > line && x[-1] >= '0' && x[-1] <= '9')
				x--;
			c->external = strtoull(x, NULL, 10);
		}
		if (sscanf(line, " %31s %llu %llu %lf%% %llu %llu %lf%%", tag, &ol, &orp, &d1, &rl,
			   &rr, &d2) == 7 &&
		    !strcmp(tag, "total")) {
			c->out_live = ol;
			c->out_replay = orp;
			c->ref_live = rl;
			c->ref_replay = rr;
			found = true;
		}
	}
	cr_assert_eq(WEXITSTATUS(pclose(p)), 0, "pageflex-sim failed:\n%s", out);
	cr_assert(found, "no total line in pageflex-sim --compare:\n%s", out);
}

static bool close_enough(unsigned long long live, unsigned long long replay)
{
	unsigned long long d = live > replay ? live - replay : replay - live;

	return d * 10 <= live || d <= PAGES / 200;
}

static void fidelity(const char *name, const char *rule)
{
	char rules[] = "/tmp/pf-fidelity-XXXXXX", trace[256], cmd[512], out[16384], *r;
	const char *args[] = {"--config", rules, "--scan-interval", "250", NULL};
	int fd, pipefd[2];
	struct pfa_agent a;
	struct cmp c = {0};
	pid_t pid;
	char ch;

	fd = mkstemp(rules);
	cr_assert_geq(fd, 0);
	dprintf(fd, "version: 1\ndefaults: %s\n", rule);
	close(fd);
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	snprintf(trace, sizeof(trace), "%s/%s.pftrace", a.dir, name);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pipefd[0]);
		workload(a.sock, pipefd[1]);
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &ch, 1), 1, "the workload did not start");
	close(pipefd[0]);
	cr_assert(agent_wait_region(&a, pid, "kv", 5000));
	sleep(1); /* the agent manages it before the recording begins */
	snprintf(cmd, sizeof(cmd), "record %d %s 12", pid, trace);
	r = agent_query(&a, cmd);
	cr_assert(r && !strncmp(r, "ok", 2), "reply: %s", r);
	free(r);
	cr_assert(agent_wait_log(&a, "done (time is up)", 30000), "the recording did not end");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	replay(trace, rules, &c, out, sizeof(out));
	cr_log_info("%s: paged out live %llu replay %llu; refaults live %llu replay %llu\n%s", name,
		    c.out_live, c.out_replay, c.ref_live, c.ref_replay, out);
	cr_assert_gt(c.out_live, PAGES / 100, "%s: the agent paged out little (%llu pages)", name,
		     c.out_live);
	cr_assert(close_enough(c.out_live, c.out_replay),
		  "%s: paged out live %llu vs replay %llu\n%s", name, c.out_live, c.out_replay,
		  out);
	cr_assert(close_enough(c.ref_live, c.ref_replay),
		  "%s: refaults live %llu vs replay %llu\n%s", name, c.ref_live, c.ref_replay, out);
	/* Nobody else swapped much here: the agreement is the policy's, not copied. */
	cr_assert_leq(c.external, PAGES / 100, "%s: %llu pages swapped by others\n%s", name,
		      c.external, out);
	/* And the same recording under the kernel's policy pages out nothing. */
	fd = open(rules, O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0);
	dprintf(fd, "version: 1\ndefaults: {reclaim: kernel}\n");
	close(fd);
	replay(trace, rules, &c, out, sizeof(out));
	cr_assert_eq(c.out_replay, 0, "%s: a kernel-policy replay paged out %llu pages\n%s", name,
		     c.out_replay, out);
	unlink(trace);
	unlink(rules);
	cr_assert_eq(agent_stop(&a), 0);
}

Test(replay_fidelity, cold_age, .timeout = 120)
{
	TU_SKIP_UNLESS(tu_ensure_swap());
	fidelity("cold-age", "{reclaim: cold-age, params: {cold_age_ms: 2000}, "
			     "threshold: {mode: cold-age}}");
}

Test(replay_fidelity, lru_budget, .timeout = 120)
{
	TU_SKIP_UNLESS(tu_ensure_swap());
	fidelity("lru", "{reclaim: lru, threshold: {mode: budget, budget_pct: 35}}");
}

Test(replay_fidelity, lfu_promotion, .timeout = 120)
{
	TU_SKIP_UNLESS(tu_ensure_swap());
	fidelity("lfu", "{reclaim: lfu, params: {lfu_decay: 4}, threshold: {mode: promotion, "
			"promotion_ppm: 500000, period_ms: 1000}}");
}

Test(replay_fidelity, hyperbolic_budget, .timeout = 120)
{
	TU_SKIP_UNLESS(tu_ensure_swap());
	fidelity("hyperbolic", "{reclaim: hyperbolic, threshold: {mode: budget, budget_pct: 30}}");
}
