// SPDX-License-Identifier: MIT
/*
 * Reloading the rules file (SIGHUP, `pageflexctl reload`): the new rules
 * replace the old ones only if the whole file parses (binding.c), then
 * every region of every managed process is bound again.
 */
#include <errno.h>
#include <stdio.h>

#include "agent.h"
#include "binding.h"
#include "log.h"

int pf_reload_rules(char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (!pf_opts.config) {
		snprintf(err, errlen,
			 "no rules file to reload (start pageflexd with --config FILE)");
		return -ENOENT;
	}
	rc = pf_binding_load_rules(pf_opts.config, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < pf_proc_count(); i++)
		pf_proc_rebind(pf_proc_at(i));
	pf_info("rules reloaded from %s: %zu rules", pf_opts.config, pf_binding_rules_count());
	return 0;
}
