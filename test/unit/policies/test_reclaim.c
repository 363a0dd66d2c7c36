// SPDX-License-Identifier: MIT
/*
 * Reclaim policies on small hand-computed cases: the registry, cold-age.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policy.h"

static struct pf_policy_params params(void)
{
	struct pf_policy_params p;

	pf_policy_params_default(&p);
	return p;
}

Test(registry, finds_and_lists)
{
	char names[256];

	cr_assert_not_null(pf_reclaim_find("cold-age"));
	cr_assert_not_null(pf_reclaim_find("kernel"));
	cr_assert_null(pf_reclaim_find("nope"));
	cr_assert_null(pf_reclaim_find(NULL));
	pf_reclaim_names(names, sizeof(names));
	cr_assert(strstr(names, "cold-age") != NULL, "names: %s", names);
	cr_assert(pf_reclaim_find("kernel")->flags & PF_RECLAIM_PASSIVE);
}

Test(cold_age, victim_after_idle_time)
{
	struct pf_policy_params p = params();
	const struct pf_reclaim_ops *ops = pf_reclaim_find("cold-age");
	struct pf_scan_page hit = {.accessed = true, .present = true};
	struct pf_scan_page idle = {.accessed = false, .present = true};
	pf_page_state s;

	p.cold_age_ms = 5000;
	p.tick_ms = 1000;
	s = ops->init(&p, 0);
	s = ops->scan(&p, s, &hit, 10000); /* last access at t=10 s */
	s = ops->scan(&p, s, &idle, 14000);
	cr_assert_not(ops->victim(&p, s, 14000), "idle 4 s < 5 s");
	s = ops->scan(&p, s, &idle, 15000);
	cr_assert(ops->victim(&p, s, 15000), "idle 5 s >= 5 s");
	/* Colder pages weigh less. */
	pf_page_state warm = ops->scan(&p, s, &hit, 15000);
	cr_assert_lt(ops->weight(&p, s, 15000), ops->weight(&p, warm, 15000));
	/* A fresh access makes it hot again. */
	cr_assert_not(ops->victim(&p, warm, 15000));
}
