// SPDX-License-Identifier: MIT
/* Region -> policy binding: command-line rules, then the YAML rules file (see binding.h). */
#include "binding.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "params.h"
#include "rules.h"
#include "pageflex_wire.h"

#define MAX_CLI_RULES 64

struct cli_rule {
	char pattern[64];
	const struct pf_reclaim_ops *ops; /* NULL: a prefetch-only rule */
	const struct pf_prefetch_ops *prefetch;
	struct pf_policy_params params;
};

static struct cli_rule cli[MAX_CLI_RULES];
static size_t ncli;
static struct pf_rules *rules;
/* --objective: for regions nothing else binds (kind none: not set). */
static struct pf_objective_cfg cli_objective;
static bool cli_objective_given; /* --objective, none included */

int pf_binding_parse_objective(const char *arg, char *err, size_t errlen)
{
	struct pf_objective_cfg c;

	pf_objective_cfg_default(&c);
	if (pf_objective_parse_arg(arg, &c, err, errlen))
		return -EINVAL;
	cli_objective = c;
	cli_objective_given = true;
	return 0;
}

const char *pf_binding_default_objective(bool have_config)
{
	char err[128];

	if (cli_objective_given || have_config || ncli)
		return NULL;
	if (pf_binding_parse_objective(PF_DEFAULT_OBJECTIVE, err, sizeof(err)))
		return NULL;
	return PF_DEFAULT_OBJECTIVE;
}

const struct pf_objective_cfg *pf_binding_cli_objective(void)
{
	return cli_objective.kind != PF_OBJ_NONE ? &cli_objective : NULL;
}

static int cli_add(const char *pattern, const char *policy, uint64_t cold_age_ms, char *err,
		   size_t errlen)
{
	const struct pf_reclaim_ops *ops = pf_reclaim_find(policy);
	struct cli_rule *r;
	char names[256];

	if (!ops) {
		pf_reclaim_names(names, sizeof(names));
		snprintf(err, errlen, "unknown reclaim policy '%s' (known: %s)", policy, names);
		return -EINVAL;
	}
	if (!*pattern || strlen(pattern) >= sizeof(cli[0].pattern)) {
		snprintf(err, errlen, "tag pattern '%s' is empty or longer than %zu bytes", pattern,
			 sizeof(cli[0].pattern) - 1);
		return -EINVAL;
	}
	if (ncli == MAX_CLI_RULES) {
		snprintf(err, errlen, "more than %d command-line rules", MAX_CLI_RULES);
		return -EINVAL;
	}
	r = &cli[ncli++];
	snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
	r->ops = ops;
	pf_policy_params_default(&r->params);
	if (cold_age_ms)
		r->params.cold_age_ms = cold_age_ms;
	pf_params_fit_tick(&r->params);
	return 0;
}

/* Splits "TAG=VALUE". */
static int split(const char *arg, char *pat, size_t patlen, const char **val, char *err,
		 size_t errlen, const char *what, const char *want)
{
	const char *eq = strrchr(arg, '=');

	if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= patlen) {
		snprintf(err, errlen, "bad %s '%s': want TAG=%s", what, arg, want);
		return -EINVAL;
	}
	memcpy(pat, arg, (size_t)(eq - arg));
	pat[eq - arg] = 0;
	*val = eq + 1;
	return 0;
}

/* Seconds with an optional fraction ("2", "0.5"): milliseconds, or 0 if invalid. */
static uint64_t parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400.0 * 365)
		return 0;
	return (uint64_t)(v * 1000 + 0.5) ? (uint64_t)(v * 1000 + 0.5) : 1;
}

int pf_binding_parse_cold_age(const char *arg, char *err, size_t errlen)
{
	char pat[64];
	const char *val;
	uint64_t ms;

	if (split(arg, pat, sizeof(pat), &val, err, errlen, "--cold-age", "SECONDS"))
		return -EINVAL;
	ms = parse_seconds(val);
	if (!ms) {
		snprintf(err, errlen, "bad cold age '%s' in '%s': want seconds > 0", val, arg);
		return -EINVAL;
	}
	return cli_add(pat, "cold-age", ms, err, errlen);
}

int pf_binding_parse_prefetch(const char *arg, char *err, size_t errlen)
{
	const struct pf_prefetch_ops *ops;
	char pat[64], names[256];
	const char *val;

	if (split(arg, pat, sizeof(pat), &val, err, errlen, "--prefetch", "PREFETCH"))
		return -EINVAL;
	ops = pf_prefetch_find(val);
	if (!ops) {
		pf_prefetch_names(names, sizeof(names));
		snprintf(err, errlen, "unknown prefetch policy '%s' (known: %s)", val, names);
		return -EINVAL;
	}
	/* Applies to the command-line rule for the same pattern, or a new kernel-reclaim one. */
	for (size_t i = 0; i < ncli; i++)
		if (!strcmp(cli[i].pattern, pat)) {
			cli[i].prefetch = ops;
			return 0;
		}
	if (cli_add(pat, "kernel", 0, err, errlen))
		return -EINVAL;
	cli[ncli - 1].prefetch = ops;
	return 0;
}

int pf_binding_parse_policy(const char *arg, char *err, size_t errlen)
{
	char pat[64];
	const char *val;

	if (split(arg, pat, sizeof(pat), &val, err, errlen, "--policy", "POLICY"))
		return -EINVAL;
	return cli_add(pat, val, 0, err, errlen);
}

size_t pf_binding_cli_count(void)
{
	return ncli;
}

const char *pf_binding_cli_describe(size_t i, char *buf, size_t len)
{
	if (i >= ncli)
		return NULL;
	snprintf(buf, len, "tag '%s' -> %s (cold age %.3g s), prefetch %s", cli[i].pattern,
		 cli[i].ops->name, cli[i].params.cold_age_ms / 1000.0,
		 cli[i].prefetch ? cli[i].prefetch->name : "none");
	return buf;
}

int pf_binding_load_rules(const char *path, char *err, size_t errlen)
{
	struct pf_rules *rs = pf_rules_load(path, err, errlen);

	if (!rs)
		return -EINVAL;
	pf_rules_free(rules);
	rules = rs;
	return 0;
}

size_t pf_binding_rules_count(void)
{
	return rules ? pf_rules_count(rules) : 0;
}

bool pf_binding_lookup(const char *tag, const char *symbol, unsigned kind, uint64_t size,
		       const char *phase, struct pf_binding *out)
{
	struct pf_region_attrs a = {
		.tag = tag, .symbol = symbol, .kind = (enum pfw_kind)kind, .size = size};
	size_t i;
	int k;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < ncli; i++) {
		if (fnmatch(cli[i].pattern, tag, 0))
			continue;
		snprintf(out->rule, sizeof(out->rule), "cli:%.59s", cli[i].pattern);
		out->reclaim = cli[i].ops;
		out->prefetch = cli[i].prefetch;
		out->params = cli[i].params;
		pf_threshold_cfg_default(&out->threshold);
		out->threshold.mode = PF_THRESH_COLD_AGE;
		return true;
	}
	if (rules) {
		k = pf_rules_match(rules, &a, phase, out);
		/* The file's defaults, if they page nothing out, yield to --objective. */
		if (out->reclaim && !(k < 0 && pf_binding_cli_objective() &&
				      (out->reclaim->flags & PF_RECLAIM_PASSIVE))) {
			if (k < 0)
				snprintf(out->rule, sizeof(out->rule), "default");
			pf_binding_fit_objective(out);
			pf_params_fit_tick(&out->params);
			return true;
		}
	}
	if (!pf_binding_cli_objective())
		return false;
	memset(out, 0, sizeof(*out));
	snprintf(out->rule, sizeof(out->rule), "cli:objective");
	out->reclaim = pf_reclaim_find("cold-age");
	pf_policy_params_default(&out->params);
	pf_threshold_cfg_default(&out->threshold);
	out->threshold.mode = PF_THRESH_OBJECTIVE;
	out->objective = cli_objective;
	pf_binding_fit_objective(out);
	pf_params_fit_tick(&out->params);
	return true;
}

const struct pf_phase_actions *pf_binding_phase_actions(const char *phase)
{
	return rules ? pf_rules_phase_actions(rules, phase) : NULL;
}

/* The one place a region meets its policy: on REGION_MAP, phase change and reload. */
void pf_region_bind(struct pf_rinfo *ri, const char *phase)
{
	char sym[300];
	struct pf_binding nb;
	bool bound;
	int rc;

	snprintf(sym, sizeof(sym), "%s+0x%llx", ri->module, (unsigned long long)ri->callsite);
	bound = pf_binding_lookup(ri->tag, ri->module[0] ? sym : "", ri->kind, ri->hull_len, phase,
				  &nb);
	rc = pf_engine_bind(&ri->eng, bound ? &nb : NULL, ri->hull_len / 4096);
	ri->eng.clear_per_s = PF_CLEAR_PER_S; /* the program's cost (engine.h) */
	if (rc < 0)
		pf_warn("region %u: no memory for its prefetch state", ri->id);
	if (rc)
		pf_region_events_bound(ri);
}

/* Every region of p, in p's current phase (phase change, rules reload). */
void pf_proc_rebind(struct pf_proc *p)
{
	size_t i;

	for (i = 0; i < p->rt.n; i++)
		pf_region_bind(p->rt.p[i].ri, p->phase);
}
