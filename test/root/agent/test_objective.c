// SPDX-License-Identifier: MIT
/*
 * Objectives live (policy/objective.h, agent/objectives.c), on short
 * periods and ages so that a run takes seconds: a promotion objective
 * pages out the idle region and keeps the hot one, tightening its age as
 * nothing refaults, and says what each age would keep out; a budget below
 * what the program keeps using is called unreachable, and the agent holds
 * at the age that thrashed instead of paging the same pages out again and
 * again.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pf_client.h"
#include "testutil.h"

#define PG 4096ul

static void start_with_rules(struct pfa_agent *a, char *path, const char *yaml)
{
	const char *args[] = {"--config", path, NULL};
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	tc_write_file(path, yaml);
	cr_assert_eq(agent_start(a, args), 0, "pageflexd did not start");
}

/* The number after key, first found past anchor in `stats --json` (true
 * 1, false 0), or -1. */
static long long stats_number(struct pfa_agent *a, const char *anchor, const char *key)
{
	char *r = agent_query(a, "stats --json"), *o;
	long long v = -1;

	cr_assert_not_null(r);
	o = strstr(r, anchor);
	if (o && (o = strstr(o, key))) {
		o += strlen(key);
		v = !strncmp(o, "true", 4) ? 1 : !strncmp(o, "false", 5) ? 0 : atoll(o);
	}
	free(r);
	return v;
}

/* A field of the process's first objective, or -1. */
static long long objective_field(struct pfa_agent *a, const char *field)
{
	char key[64];

	snprintf(key, sizeof(key), "\"%s\":", field);
	return stats_number(a, "\"objectives\":[{", key);
}

/* The idle bytes at age_ms in the first objective's frontier, or -1. */
static long long frontier_idle(struct pfa_agent *a, long long age_ms)
{
	char key[64];

	snprintf(key, sizeof(key), "{\"age_ms\":%lld,\"idle_bytes\":", age_ms);
	return stats_number(a, "\"frontier\":[", key);
}

Test(objective, promotion_pages_out_the_idle_keeps_the_hot, .timeout = 120)
{
	const size_t cold_len = 64ul << 20, hot_len = 16ul << 20;
	char path[] = "/tmp/pf-rules-XXXXXX", *status;
	struct tc_toucher t = {.len = hot_len, .period_ms = 100};
	long long age, out_hot, idle1s;
	size_t present, swapped;
	uint64_t cold_sum;
	unsigned char *cold;
	struct pfa_agent a;
	pthread_t th;
	struct pfc c;

	TU_SKIP_UNLESS(tu_ensure_swap());
	start_with_rules(&a, path,
			 "version: 1\n"
			 "defaults:\n"
			 "  objective: {kind: promotion, promotion_ppm: 2000, period_ms: 500,\n"
			 "              min_age_ms: 1000, max_age_ms: 4000}\n");
	cold = tc_anon(cold_len);
	t.p = tc_anon(hot_len);
	tc_fill(cold, cold_len, 5);
	cold_sum = tc_checksum(cold, cold_len);
	tc_fill((unsigned char *)t.p, hot_len, 6);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, cold, cold_len, "cold"), 0);
	cr_assert_eq(pfc_map(&c, (void *)t.p, hot_len, "hot"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "hot", 5000));
	pthread_create(&th, NULL, tc_touch_loop, &t);
	/* Age 4 s at first: the idle region goes out after 4 s, then faster. */
	swapped = pagemap_wait_swapped(cold, cold_len, 20000);
	sleep(3); /* more periods without a refault: the age keeps tightening */
	age = objective_field(&a, "age_ms");
	idle1s = frontier_idle(&a, 1000);
	status = agent_query(&a, "status");
	out_hot = agent_region_field(&a, getpid(), "hot", "paged_out") / (long long)PG;
	t.stop = 1;
	pthread_join(th, NULL);
	pagemap_count(cold, cold_len, &present, &swapped);
	cr_log_info("cold %zu of %zu pages swapped, hot paged out %lld pages, age now %lld ms, "
		    "%lld tightens, %lld back-offs",
		    swapped, cold_len / PG, out_hot, age, objective_field(&a, "tightens"),
		    objective_field(&a, "backoffs"));
	cr_assert_geq(swapped * 100, cold_len / PG * 95, "only %zu idle pages went out", swapped);
	cr_assert_leq(out_hot, (long long)(hot_len / PG / 100), "%lld hot pages went out", out_hot);
	cr_assert(age > 0 && age < 4000, "the age did not tighten: %lld ms", age);
	cr_assert_eq(objective_field(&a, "backoffs"), 0, "backed off with nothing refaulting");
	cr_assert(status && strstr(status, "objective (rule default): promotion <= 0.20%/min"),
		  "status: %s", status);
	/* What an age of 1 s would keep out: the idle region, at least. */
	cr_assert_geq(idle1s * 100, (long long)cold_len * 95, "idle >= 1 s: %lld bytes", idle1s);
	cr_assert(strstr(status, "idle now and predicted promotion, by cold age: 1 s "),
		  "status: %s", status);
	free(status);
	cr_assert_eq(tc_checksum(cold, cold_len), cold_sum, "the idle region read back wrong");
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	unlink(path);
}

/*
 * A 4 MiB budget for 16 MiB that are touched every 1.2 s: the age tightens
 * below 1.2 s, the pages go out and come straight back. The agent backs
 * off once, says the budget is unreachable, and holds: no second round.
 */
Test(objective, unreachable_budget_holds_instead_of_thrashing, .timeout = 120)
{
	const size_t len = 16ul << 20;
	char path[] = "/tmp/pf-rules-XXXXXX", *log;
	struct tc_toucher t = {.len = len, .period_ms = 1200};
	long long refaults, backoffs, unreachable;
	struct pfa_agent a;
	pthread_t th;
	struct pfc c;

	TU_SKIP_UNLESS(tu_ensure_swap());
	start_with_rules(&a, path,
			 "version: 1\n"
			 "defaults:\n"
			 "  objective: {kind: budget, budget: 4M, period_ms: 500,\n"
			 "              min_age_ms: 250, max_age_ms: 4000}\n");
	t.p = tc_anon(len);
	tc_fill((unsigned char *)t.p, len, 7);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, (void *)t.p, len, "ws"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "ws", 5000));
	pthread_create(&th, NULL, tc_touch_loop, &t);
	sleep(14);
	refaults = agent_region_field(&a, getpid(), "ws", "refaults");
	backoffs = objective_field(&a, "backoffs");
	unreachable = objective_field(&a, "unreachable");
	t.stop = 1;
	pthread_join(th, NULL);
	log = agent_log(&a);
	cr_log_info("budget 4 MiB for 16 MiB in use: %lld refaults, %lld back-offs, unreachable "
		    "%lld, age %lld ms",
		    refaults, backoffs, unreachable, objective_field(&a, "age_ms"));
	cr_assert_eq(unreachable, 1, "the budget is not called unreachable");
	cr_assert(log && strstr(log, "is unreachable"), "no log line:\n%s", log);
	free(log);
	cr_assert_geq(backoffs, 1, "never backed off");
	/* One round of the region at most, not one per period. */
	cr_assert_leq(refaults, (long long)(len / PG * 2), "%lld refaults: it kept thrashing",
		      refaults);
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	unlink(path);
}

/*
 * With nothing on its command line pageflexd follows promotion <= 0.2%/min
 * for every region (agent/binding.h, PF_DEFAULT_OBJECTIVE); its age starts
 * at 120 s, so nothing goes out in this short run. `--objective none`
 * leaves every region to the kernel.
 */
static char *status_of(const char *const *args)
{
	const size_t len = 4ul << 20;
	unsigned char *p = tc_anon(len);
	struct pfa_agent a;
	struct pfc c;
	char *status;

	tc_fill(p, len, 8);
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, p, len, "plain"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "plain", 5000));
	status = agent_query(&a, "status");
	cr_assert_eq(agent_region_field(&a, getpid(), "plain", "paged_out"), 0);
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	munmap(p, len);
	cr_assert_not_null(status);
	return status;
}

Test(objective, default_without_rules_and_none_turns_it_off, .timeout = 60)
{
	const char *none[] = {"--objective", "none", NULL}, *nothing[] = {NULL};
	char *with = status_of(nothing), *without = status_of(none);

	cr_assert(strstr(with, "cold-age/none objective=2000ppm"), "no default objective:\n%s",
		  with);
	cr_assert(!strstr(without, " objective="), "--objective none still has one:\n%s", without);
	cr_assert(strstr(without, " none/none"), "--objective none: not unbound:\n%s", without);
	free(with);
	free(without);
}
