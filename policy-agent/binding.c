// SPDX-License-Identifier: MIT
/* Tag -> policy rules (see binding.h). */
#include "binding.h"

#include "agent.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 128

static struct pf_binding rules[MAX_RULES];
static size_t nrules;

int pf_binding_add(const char *pattern, const char *policy, uint64_t cold_age_ms, char *err,
		   size_t errlen)
{
	const struct pf_reclaim_ops *ops = pf_reclaim_find(policy);
	struct pf_binding *b;
	char names[256];

	if (!ops) {
		pf_reclaim_names(names, sizeof(names));
		snprintf(err, errlen, "unknown reclaim policy '%s' (known: %s)", policy, names);
		return -EINVAL;
	}
	if (!*pattern || strlen(pattern) >= sizeof(rules[0].pattern)) {
		snprintf(err, errlen, "tag pattern '%s' is empty or longer than %zu bytes", pattern,
			 sizeof(rules[0].pattern) - 1);
		return -EINVAL;
	}
	if (nrules == MAX_RULES) {
		snprintf(err, errlen, "more than %d rules", MAX_RULES);
		return -EINVAL;
	}
	b = &rules[nrules++];
	snprintf(b->pattern, sizeof(b->pattern), "%s", pattern);
	b->ops = ops;
	pf_policy_params_default(&b->params);
	if (cold_age_ms)
		b->params.cold_age_ms = cold_age_ms;
	/* Keep state ticks finer than the age so short ages stay exact. */
	if (!b->params.tick_ms)
		b->params.tick_ms = 1000;
	if (b->params.cold_age_ms < 10 * b->params.tick_ms)
		b->params.tick_ms = b->params.cold_age_ms / 10 ? b->params.cold_age_ms / 10 : 1;
	return 0;
}

/* Splits "TAG=VALUE" into pattern and value. */
static int split(const char *arg, char *pat, size_t patlen, const char **val, char *err,
		 size_t errlen, const char *what)
{
	const char *eq = strrchr(arg, '=');

	if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= patlen) {
		snprintf(err, errlen, "bad %s '%s': want TAG=%s", what, arg,
			 strcmp(what, "--cold-age") ? "POLICY" : "SECONDS");
		return -EINVAL;
	}
	memcpy(pat, arg, (size_t)(eq - arg));
	pat[eq - arg] = 0;
	*val = eq + 1;
	return 0;
}

/* Seconds with an optional fraction ("2", "0.5"): milliseconds or 0 on error. */
static uint64_t parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v <= 0 || v > 86400.0 * 365)
		return 0;
	return (uint64_t)(v * 1000 + 0.5) ? (uint64_t)(v * 1000 + 0.5) : 1;
}

int pf_binding_parse_cold_age(const char *arg, char *err, size_t errlen)
{
	char pat[64];
	const char *val;
	uint64_t ms;

	if (split(arg, pat, sizeof(pat), &val, err, errlen, "--cold-age"))
		return -EINVAL;
	ms = parse_seconds(val);
	if (!ms) {
		snprintf(err, errlen, "bad cold age '%s' in '%s': want seconds > 0", val, arg);
		return -EINVAL;
	}
	return pf_binding_add(pat, "cold-age", ms, err, errlen);
}

int pf_binding_parse_policy(const char *arg, char *err, size_t errlen)
{
	char pat[64];
	const char *val;

	if (split(arg, pat, sizeof(pat), &val, err, errlen, "--policy"))
		return -EINVAL;
	return pf_binding_add(pat, val, 0, err, errlen);
}

const struct pf_binding *pf_binding_for(const char *tag)
{
	size_t i;

	for (i = 0; i < nrules; i++)
		if (!fnmatch(rules[i].pattern, tag, 0))
			return &rules[i];
	return NULL;
}

uint64_t pf_binding_min_cold_age_ms(void)
{
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < nrules; i++)
		if (!(rules[i].ops->flags & PF_RECLAIM_PASSIVE) &&
		    (!m || rules[i].params.cold_age_ms < m))
			m = rules[i].params.cold_age_ms;
	return m;
}

size_t pf_binding_count(void)
{
	return nrules;
}

const struct pf_binding *pf_binding_at(size_t i)
{
	return i < nrules ? &rules[i] : NULL;
}

/* The one place a region meets its policy (called for every REGION_MAP). */
void pf_region_bind(struct pf_rinfo *ri)
{
	ri->bind = pf_binding_for(ri->tag);
	ri->state_ready = false;
}
