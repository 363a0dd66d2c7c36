// SPDX-License-Identifier: MIT
/*
 * The registry of built-in policies: lookup by name for the rules loader,
 * the agent and the simulator, and the list of valid names for errors.
 */
#include "policy_impl.h"

#include <stdio.h>
#include <string.h>

static const struct pf_reclaim_ops *const reclaim_table[] = {
	&pf_reclaim_kernel, &pf_reclaim_cold_age,   &pf_reclaim_lru,
	&pf_reclaim_lfu,    &pf_reclaim_hyperbolic,
};

static const struct pf_prefetch_ops *const prefetch_table[] = {
	&pf_prefetch_none,
	&pf_prefetch_readahead,
	&pf_prefetch_leap,
};

void pf_policy_params_default(struct pf_policy_params *p)
{
	memset(p, 0, sizeof(*p));
	p->cold_age_ms = 120 * 1000;
	p->lfu_decay = 0;
	p->clock_bits = 32;
	p->tick_ms = 1000;
	p->ra_max_pages = 8;
	p->leap_max_pages = 32;
}

const struct pf_reclaim_ops *pf_reclaim_at(size_t i)
{
	return i < sizeof(reclaim_table) / sizeof(reclaim_table[0]) ? reclaim_table[i] : NULL;
}

const struct pf_prefetch_ops *pf_prefetch_at(size_t i)
{
	return i < sizeof(prefetch_table) / sizeof(prefetch_table[0]) ? prefetch_table[i] : NULL;
}

static const char *reclaim_name(size_t i)
{
	const struct pf_reclaim_ops *ops = pf_reclaim_at(i);

	return ops ? ops->name : NULL;
}

static const char *prefetch_name(size_t i)
{
	const struct pf_prefetch_ops *ops = pf_prefetch_at(i);

	return ops ? ops->name : NULL;
}

/* The i for which name(i) is `want`, or SIZE_MAX (which no table has). */
static size_t find(const char *want, const char *(*name)(size_t i))
{
	const char *s;

	if (want)
		for (size_t i = 0; (s = name(i)); i++)
			if (!strcmp(s, want))
				return i;
	return SIZE_MAX;
}

/* Joins name(i) for i = 0.. into buf, comma-separated, truncating. */
static void join_names(char *buf, size_t len, const char *(*name)(size_t i))
{
	const char *s;
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; (s = name(i)) && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", s);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

const struct pf_reclaim_ops *pf_reclaim_find(const char *name)
{
	return pf_reclaim_at(find(name, reclaim_name));
}

const struct pf_prefetch_ops *pf_prefetch_find(const char *name)
{
	return pf_prefetch_at(find(name, prefetch_name));
}

void pf_reclaim_names(char *buf, size_t len)
{
	join_names(buf, len, reclaim_name);
}

void pf_prefetch_names(char *buf, size_t len)
{
	join_names(buf, len, prefetch_name);
}
