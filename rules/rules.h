/* SPDX-License-Identifier: MIT */
/*
 * Rules: which policy, with which parameters and threshold, runs on which
 * region in which phase, and what to do when a phase starts. Loaded from a
 * YAML file (libyaml; see example.yaml for the format).
 *
 * The agent calls pf_rules_load() at start and on reload: it returns a new
 * rule set or NULL with "file:line:column: problem" in err, and the agent
 * keeps using its old set on failure. A rule set is immutable once loaded,
 * so matching needs no locking.
 */
#ifndef PAGEFLEX_RULES_H
#define PAGEFLEX_RULES_H

#include <stdbool.h>

#include "engine.h"
#include "pageflex_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pf_rules;

/* What a region is, as the matcher sees it. */
struct pf_region_attrs {
	const char *tag; /* "" if none */
	const char *symbol; /* call-site symbol ("module+0x1234" or a name), "" if none */
	enum pfw_kind kind;
	uint64_t size; /* bytes */
};

/* Actions when a phase starts. Glob lists of tags. */
struct pf_phase_actions {
	const char *const *demote; /* page out these tags' regions */
	size_t ndemote;
	const char *const *prefetch; /* bring these tags' regions back in */
	size_t nprefetch;
	bool prefetch_hot; /* prefetch what was hot at the end of this phase's previous run */
};

/* Loads a rules file: a new set, or NULL with "path:line:col: problem" in err. */
struct pf_rules *pf_rules_load(const char *path, char *err, size_t errlen);
/* The same from memory; name is used in messages. */
struct pf_rules *pf_rules_parse(const char *text, size_t len, const char *name, char *err,
				size_t errlen);
void pf_rules_free(struct pf_rules *rs);

/*
 * The binding of a region in a phase (phase may be NULL or "": no phase).
 * The first rule whose match clause fits wins, then its first phase override
 * whose pattern fits the phase; no rule: the defaults. Returns the index of
 * the rule, or -1 for the defaults. out is a copy: it outlives rs.
 */
int pf_rules_match(const struct pf_rules *rs, const struct pf_region_attrs *a, const char *phase,
		   struct pf_binding *out);
/* Actions on entering phase: the first `phases:` entry whose pattern fits
 * the phase name; NULL if none. */
const struct pf_phase_actions *pf_rules_phase_actions(const struct pf_rules *rs, const char *phase);
/* Whether tag matches any of the globs. */
bool pf_rules_glob_any(const char *const *globs, size_t n, const char *tag);
size_t pf_rules_count(const struct pf_rules *rs);
/* Defaults used where no rule matches (from `defaults:`). */
const struct pf_binding *pf_rules_defaults(const struct pf_rules *rs);

/* Parses a kind name ("anon", "heap", ..., "any"); -1 if unknown. */
int pf_kind_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif
