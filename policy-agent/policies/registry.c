// SPDX-License-Identifier: MIT
/*
 * The registry of built-in policies: lookup by name for the rules loader,
 * the agent and the simulator, and the list of valid names for errors.
 */
#include "policy_impl.h"

#include <stdio.h>
#include <string.h>

static const struct pf_reclaim_ops *const reclaim_table[] = {
	&pf_reclaim_kernel,
	&pf_reclaim_cold_age,
};

void pf_policy_params_default(struct pf_policy_params *p)
{
	memset(p, 0, sizeof(*p));
	p->cold_age_ms = 120 * 1000;
	p->lfu_decay = 0;
	p->clock_bits = 16;
	p->tick_ms = 1000;
}

const struct pf_reclaim_ops *pf_reclaim_at(size_t i)
{
	return i < sizeof(reclaim_table) / sizeof(reclaim_table[0]) ? reclaim_table[i] : NULL;
}

const struct pf_reclaim_ops *pf_reclaim_find(const char *name)
{
	const struct pf_reclaim_ops *ops;

	if (!name)
		return NULL;
	for (size_t i = 0; (ops = pf_reclaim_at(i)); i++)
		if (!strcmp(ops->name, name))
			return ops;
	return NULL;
}

void pf_reclaim_names(char *buf, size_t len)
{
	const struct pf_reclaim_ops *ops;
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; (ops = pf_reclaim_at(i)) && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", ops->name);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}
