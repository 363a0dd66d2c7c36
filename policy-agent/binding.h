/* SPDX-License-Identifier: MIT */
/*
 * The agent's policy binding, in one place: rules from the command line
 * (--cold-age TAG=SECONDS, --policy TAG=NAME) and the config file, matched
 * against a region's tag with fnmatch(3), first match wins. A region no rule
 * matches is observed (scanned, fault-counted) but never acted on.
 */
#ifndef PAGEFLEX_BINDING_H
#define PAGEFLEX_BINDING_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct pf_binding {
	char pattern[64];
	const struct pf_reclaim_ops *ops;
	struct pf_policy_params params;
};

/* Adds a rule; 0 or -EINVAL with the problem in err. */
int pf_binding_add(const char *pattern, const char *policy, uint64_t cold_age_ms, char *err,
		   size_t errlen);
/* "TAG=SECONDS" (cold-age); 0 or -EINVAL with the problem in err. */
int pf_binding_parse_cold_age(const char *arg, char *err, size_t errlen);
/* "TAG=POLICY"; 0 or -EINVAL. */
int pf_binding_parse_policy(const char *arg, char *err, size_t errlen);
/* The first rule matching tag, or NULL. */
const struct pf_binding *pf_binding_for(const char *tag);
/* Smallest cold age of all rules (0 if none): the reclaim loop scans at T/4. */
uint64_t pf_binding_min_cold_age_ms(void);
size_t pf_binding_count(void);
const struct pf_binding *pf_binding_at(size_t i);

/* Reads a config file (see config.c); 0 or -errno with "FILE:LINE: problem" in err. */
int pf_config_load(const char *path, uint64_t *scan_interval_ms, char *err, size_t errlen);

#endif
