// SPDX-License-Identifier: MIT
/*
 * Policy parameters by name, for the rules file and the simulator's
 * --param: parse "name = value" with units, and list the valid names when a
 * name is unknown.
 */
#include "params.h"
#include "parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_U32, P_U64 };

static const struct {
	const char *name;
	int type;
	size_t off;
	const char *help;
} table[] = {
	{"cold_age_ms", P_U64, offsetof(struct pf_policy_params, cold_age_ms),
	 "cold-age: idle time before a page is a victim (ms)"},
	{"lfu_decay", P_U32, offsetof(struct pf_policy_params, lfu_decay),
	 "lfu: halve counts every N scans (0: never, max 255)"},
	{"clock_bits", P_U32, offsetof(struct pf_policy_params, clock_bits),
	 "lru: bits of access history (1..32)"},
	{"tick_ms", P_U64, offsetof(struct pf_policy_params, tick_ms),
	 "time quantum of per-page times (ms)"},
	{"ra_max_pages", P_U32, offsetof(struct pf_policy_params, ra_max_pages),
	 "readahead: largest window (pages)"},
	{"leap_max_pages", P_U32, offsetof(struct pf_policy_params, leap_max_pages),
	 "leap: largest prefetch window (pages, max 256)"},
	{"clear_every", P_U32, offsetof(struct pf_policy_params, clear_every),
	 "ticks between clears of a hot page's accessed bit (1: every tick, max 16; "
	 "0, the default: chosen from the working set)"},
};

void pf_params_names(char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", table[i].name);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

int pf_params_set(struct pf_policy_params *p, const char *name, const char *value, char *err,
		  size_t errlen)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		uint64_t v;

		if (strcmp(table[i].name, name))
			continue;
		if (pf_parse_u64(value, &v)) {
			snprintf(err, errlen, "parameter %s: '%s' is not a non-negative integer",
				 name, value);
			return -EINVAL;
		}
		if (table[i].type == P_U32) {
			if (v > UINT32_MAX) {
				snprintf(err, errlen, "parameter %s: %s is too large", name, value);
				return -ERANGE;
			}
			if (table[i].off == offsetof(struct pf_policy_params, clear_every) &&
			    v > PF_CLEAR_MAX) {
				snprintf(err, errlen, "parameter %s: %s is above %d", name, value,
					 PF_CLEAR_MAX);
				return -ERANGE;
			}
			*(uint32_t *)((char *)p + table[i].off) = (uint32_t)v;
		} else {
			*(uint64_t *)((char *)p + table[i].off) = v;
		}
		return 0;
	}
	{
		char names[512];

		pf_params_names(names, sizeof(names));
		snprintf(err, errlen, "unknown parameter '%s' (valid: %s)", name, names);
	}
	return -ENOENT;
}

void pf_params_fit_tick(struct pf_policy_params *p)
{
	if (!p->tick_ms)
		p->tick_ms = 1000;
	if (p->cold_age_ms && p->cold_age_ms < 10 * p->tick_ms)
		p->tick_ms = p->cold_age_ms / 10 ? p->cold_age_ms / 10 : 1;
}
