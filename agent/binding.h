/* SPDX-License-Identifier: MIT */
/*
 * The agent's policy binding, in one place. A region's policy comes from,
 * in order: the command-line rules (--cold-age TAG=SECONDS, --policy
 * TAG=NAME; fnmatch on the tag, first match wins), then the YAML rules file
 * (--config, rules/rules.h: tag, call-site symbol, kind, size, phase
 * overrides; its `defaults:` where no rule matches), then --objective
 * (cold-age under that objective). A region that nothing binds is observed
 * (scanned, fault-counted) but never acted on. The rules
 * file is reloaded on SIGHUP and `pageflexctl reload`; a file with an error
 * is refused and the rules in force stay.
 */
#ifndef PAGEFLEX_BINDING_H
#define PAGEFLEX_BINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct pf_phase_actions;

/* Command-line rules; 0 or -EINVAL with the problem in err. */
int pf_binding_parse_cold_age(const char *arg, char *err, size_t errlen); /* TAG=SECONDS */
int pf_binding_parse_policy(const char *arg, char *err, size_t errlen); /* TAG=POLICY */
int pf_binding_parse_prefetch(const char *arg, char *err, size_t errlen); /* TAG=PREFETCH */
/* --objective KIND=VALUE (policy/objective.h): regions that no command-line
 * rule, no rule of the file and no paging `defaults:` bind follow it, under
 * cold-age. */
int pf_binding_parse_objective(const char *arg, char *err, size_t errlen);
/* The command line's objective, or NULL. */
const struct pf_objective_cfg *pf_binding_cli_objective(void);
/*
 * The objective pageflexd follows when told nothing: with no rules file, no
 * --cold-age / --policy / --prefetch and no --objective (`--objective none`
 * turns it off), every region is paged out by age as far as refaults stay
 * under 0.2% of its process's working set per minute (Google's far-memory
 * SLO; its age starts at 120 s, so a short-lived or busy program is never
 * touched). Sets it and returns its text, or NULL when something else was
 * given.
 */
#define PF_DEFAULT_OBJECTIVE "promotion=0.2"
const char *pf_binding_default_objective(bool have_config);
size_t pf_binding_cli_count(void);
/* One line describing command-line rule i, or NULL past the end. */
const char *pf_binding_cli_describe(size_t i, char *buf, size_t len);

/* Loads (or reloads) the rules file; 0, or -errno with "path:line:col: problem". */
int pf_binding_load_rules(const char *path, char *err, size_t errlen);
size_t pf_binding_rules_count(void);

/*
 * The binding of a region (tag, call-site module+offset, kind, size) in a
 * phase; false if nothing binds it.
 */
bool pf_binding_lookup(const char *tag, const char *symbol, unsigned kind, uint64_t size,
		       const char *phase, struct pf_binding *out);
/* The rules file's actions on entering phase, or NULL. */
const struct pf_phase_actions *pf_binding_phase_actions(const char *phase);

#endif
