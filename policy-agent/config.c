// SPDX-License-Identifier: MIT
/*
 * pageflexd's config file: one directive per line, '#' starts a comment.
 *
 *   scan-interval MS            how often regions are scanned (default: T/4)
 *   cold-age TAG-GLOB SECONDS   pages of matching regions idle >= T are paged out
 *   policy TAG-GLOB NAME [PARAM=VALUE ...]   any reclaim policy of policies/
 *
 * Rules are tried in order, after those of the command line. Every error
 * names the file, the line and the problem.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "params.h"

static int directive(char **tok, int n, uint64_t *scan_ms, char *err, size_t errlen)
{
	char arg[256];

	if (!strcmp(tok[0], "scan-interval")) {
		uint64_t v;

		if (n != 2 || pf_parse_u64(tok[1], &v) || v < 10 || v > 3600000) {
			snprintf(err, errlen,
				 "scan-interval wants one number of ms in 10..3600000");
			return -EINVAL;
		}
		*scan_ms = v;
		return 0;
	}
	if (!strcmp(tok[0], "cold-age")) {
		if (n != 3) {
			snprintf(err, errlen, "cold-age wants TAG-GLOB SECONDS");
			return -EINVAL;
		}
		snprintf(arg, sizeof(arg), "%s=%s", tok[1], tok[2]);
		return pf_binding_parse_cold_age(arg, err, errlen);
	}
	if (!strcmp(tok[0], "policy")) {
		const struct pf_binding *b;
		int i, rc;

		if (n < 3) {
			snprintf(err, errlen, "policy wants TAG-GLOB NAME [PARAM=VALUE ...]");
			return -EINVAL;
		}
		rc = pf_binding_add(tok[1], tok[2], 0, err, errlen);
		if (rc)
			return rc;
		b = pf_binding_at(pf_binding_count() - 1);
		for (i = 3; i < n; i++) {
			char *eq = strchr(tok[i], '=');

			if (!eq) {
				snprintf(err, errlen, "'%s' is not PARAM=VALUE", tok[i]);
				return -EINVAL;
			}
			*eq = 0;
			rc = pf_params_set((struct pf_policy_params *)&b->params, tok[i], eq + 1,
					   err, errlen);
			if (rc)
				return rc;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown directive '%s' (known: scan-interval, cold-age, policy)",
		 tok[0]);
	return -EINVAL;
}

int pf_config_load(const char *path, uint64_t *scan_interval_ms, char *err, size_t errlen)
{
	char line[1024], msg[512], *tok[16], *s, *save;
	FILE *f = fopen(path, "r");
	int lineno = 0, n, rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno,
				 sizeof(line) - 2);
			rc = -EINVAL;
			break;
		}
		s = strchr(line, '#');
		if (s)
			*s = 0;
		n = 0;
		for (s = strtok_r(line, " \t\r\n", &save); s && n < 16;
		     s = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = s;
		if (!n)
			continue;
		rc = directive(tok, n, scan_interval_ms, msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			break;
		}
	}
	fclose(f);
	return rc;
}
