// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the rules loader (YAML, libyaml): the agent reads
 * the rules file at start and on every reload, and a bad file must give an
 * error, never a crash or a leak. A file that loads is also matched against
 * a few regions and phases, so the matcher runs on every accepted rule set.
 */
#include <stdint.h>
#include <string.h>

#include "rules.h"

static const struct pf_region_attrs regions[] = {
	{.tag = "", .symbol = "", .kind = PFW_KIND_ANON, .size = 1 << 20},
	{.tag = "index", .symbol = "app+0x1234", .kind = PFW_KIND_HEAP, .size = 64 << 20},
	{.tag = "cache", .symbol = "build_cache", .kind = PFW_KIND_FILE, .size = 4096},
};
static const char *const phases[] = {NULL, "", "build", "query", "q*"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char err[512];
	struct pf_rules *rs =
		pf_rules_parse((const char *)data, len, "fuzz.yaml", err, sizeof(err));

	if (!rs) {
		/* An error must be a non-empty, terminated message. */
		if (!memchr(err, '\0', sizeof(err)) || !err[0])
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
			struct pf_binding b;
			int idx = pf_rules_match(rs, &regions[i], phases[p], &b);

			if (idx >= (int)pf_rules_count(rs) || !memchr(b.rule, 0, sizeof(b.rule)))
				__builtin_trap();
			(void)strlen(b.rule);
			const struct pf_phase_actions *a = pf_rules_phase_actions(rs, phases[p]);

			if (a) {
				for (size_t k = 0; k < a->ndemote; k++)
					(void)strlen(a->demote[k]);
				for (size_t k = 0; k < a->nprefetch; k++)
					(void)strlen(a->prefetch[k]);
				(void)pf_rules_glob_any(a->demote, a->ndemote, regions[i].tag);
			}
		}
	}
	(void)pf_rules_defaults(rs);
	pf_rules_free(rs);
	return 0;
}
