// SPDX-License-Identifier: MIT
/*
 * The rules loader and matcher (see rules.h and example.yaml). The file is
 * parsed by libyaml into a document tree; every node carries its position,
 * so each problem is reported as file:line:column. Unknown keys, policies
 * and parameters are errors that list what is valid.
 */
#include "rules.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "params.h"
#include "parse.h"

struct override {
	char *phase;
	struct pf_binding b;
};

struct rule {
	char *name;
	char *tag, *symbol; /* globs, NULL: any */
	int kind; /* PFW_KIND_ANY: any */
	uint64_t min_size, max_size; /* max 0: no limit */
	struct pf_binding b;
	struct override *ov;
	size_t nov;
};

struct phase_entry {
	char *phase;
	struct pf_phase_actions a;
};

struct pf_rules {
	struct pf_binding def;
	struct rule *r;
	size_t nr;
	struct phase_entry *ph;
	size_t nph;
};

struct ctx {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	struct pf_rules *rs;
};

int pf_kind_parse(const char *s)
{
	for (int i = 0; i <= PFW_KIND_MAX; i++)
		if (!strcmp(s, pfw_kind_name((unsigned)i)))
			return i;
	return -1;
}

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, const yaml_node_t *n,
						      const char *fmt, ...)
{
	va_list ap;
	int off = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name,
			   n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1);

	if (off >= 0 && (size_t)off < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(struct ctx *c, const yaml_node_t *n, const char *what, const char **out)
{
	*out = scalar(n);
	if (!*out)
		return fail(c, n, "%s must be a single value", what);
	return 0;
}

static int want_map(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return fail(c, n, "%s must be a mapping (key: value lines)", what);
	return 0;
}

#define FOR_PAIRS(c, map, k, v)                                      \
	for (yaml_node_pair_t *p_ = (map)->data.mapping.pairs.start; \
	     p_ < (map)->data.mapping.pairs.top &&                   \
	     ((k) = yaml_document_get_node((c)->doc, p_->key),       \
	     (v) = yaml_document_get_node((c)->doc, p_->value), 1);  \
	     p_++)

/* Whether name is one of the comma-separated names in list. */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		if (!end)
			break;
		p = end + 1;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* Rejects duplicate and unknown keys; valid is a comma-separated list. */
static int check_keys(struct ctx *c, yaml_node_t *map, const char *what, const char *valid)
{
	yaml_node_t *k, *v;

	FOR_PAIRS(c, map, k, v)
	{
		const char *ks = scalar(k);

		(void)v;
		if (!ks)
			return fail(c, k, "keys of %s must be plain names", what);
		if (!in_list(valid, ks))
			return fail(c, k, "unknown key '%s' in %s (valid: %s)", ks, what, valid);
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p_; q++) {
			const char *qs = scalar(yaml_document_get_node(c->doc, q->key));

			if (qs && !strcmp(qs, ks))
				return fail(c, k, "duplicate key '%s' in %s", ks, what);
		}
	}
	return 0;
}

static yaml_node_t *get(struct ctx *c, yaml_node_t *map, const char *key)
{
	yaml_node_t *k, *v;

	FOR_PAIRS(c, map, k, v)
	{
		const char *ks = scalar(k);

		if (ks && !strcmp(ks, key) && v)
			return v;
	}
	return NULL;
}

static int parse_u64_node(struct ctx *c, yaml_node_t *n, const char *what, uint64_t *out, bool size)
{
	const char *s;

	if (want_scalar(c, n, what, &s))
		return -1;
	if (size ? pf_parse_size(s, out) : pf_parse_u64(s, out))
		return fail(c, n, "%s: '%s' is not %s", what, s,
			    size ? "a size (e.g. 4096, 64K, 512M, 2G)" : "a non-negative integer");
	return 0;
}

static int parse_threshold(struct ctx *c, yaml_node_t *n, struct pf_threshold_cfg *t)
{
	yaml_node_t *k, *v;
	uint64_t u;

	if (want_map(c, n, "threshold") ||
	    check_keys(c, n, "threshold",
		       "mode, budget, budget_pages, budget_pct, headroom_pct, promotion_ppm, "
		       "period_ms"))
		return -1;
	FOR_PAIRS(c, n, k, v)
	{
		const char *ks = scalar(k), *vs;

		if (!strcmp(ks, "mode")) {
			enum pf_threshold_mode m;

			if (want_scalar(c, v, "mode", &vs))
				return -1;
			if (pf_threshold_mode_parse(vs, &m))
				return fail(c, v,
					    "unknown threshold mode '%s' (valid: budget, "
					    "promotion, cold-age)",
					    vs);
			t->mode = m;
		} else if (!strcmp(ks, "budget")) {
			if (parse_u64_node(c, v, ks, &u, true))
				return -1;
			t->budget_pages = (u + 4095) / 4096;
		} else if (!strcmp(ks, "budget_pages")) {
			if (parse_u64_node(c, v, ks, &t->budget_pages, false))
				return -1;
		} else {
			if (parse_u64_node(c, v, ks, &u, false))
				return -1;
			if (!strcmp(ks, "period_ms")) {
				t->period_ms = u;
				continue;
			}
			if (u > (strcmp(ks, "promotion_ppm") ? 100 : 1000000))
				return fail(c, v, "%s: %llu is out of range", ks,
					    (unsigned long long)u);
			if (!strcmp(ks, "budget_pct"))
				t->budget_pct = (uint32_t)u;
			else if (!strcmp(ks, "headroom_pct"))
				t->headroom_pct = (uint32_t)u;
			else
				t->promotion_ppm = (uint32_t)u;
		}
	}
	return 0;
}

/* objective: {kind: ..., ...} (policy/objective.h); starts from the defaults. */
static int parse_objective(struct ctx *c, yaml_node_t *n, struct pf_objective_cfg *o)
{
	yaml_node_t *k, *v;
	uint64_t u;

	pf_objective_cfg_default(o);
	if (want_map(c, n, "objective") ||
	    check_keys(c, n, "objective",
		       "kind, promotion_ppm, stall_ppm, budget, budget_pct, thrash_ppm, "
		       "period_ms, min_age_ms, max_age_ms, max_out"))
		return -1;
	if (!get(c, n, "kind"))
		return fail(c, n,
			    "objective: 'kind' is missing (promotion, pressure, budget, none)");
	FOR_PAIRS(c, n, k, v)
	{
		const char *ks = scalar(k), *vs;

		if (!strcmp(ks, "kind")) {
			enum pf_objective_kind kind;

			if (want_scalar(c, v, "kind", &vs))
				return -1;
			if (pf_objective_kind_parse(vs, &kind))
				return fail(c, v,
					    "unknown objective '%s' (valid: promotion, pressure, "
					    "budget, none)",
					    vs);
			o->kind = kind;
		} else if (!strcmp(ks, "budget") || !strcmp(ks, "max_out")) {
			if (parse_u64_node(c, v, ks, &u, true))
				return -1;
			if (u < 4096)
				return fail(c, v, "%s: at least 4K", ks);
			if (!strcmp(ks, "budget"))
				o->budget_pages = u / 4096;
			else
				o->max_out_pages_per_s = u / 4096;
		} else {
			if (parse_u64_node(c, v, ks, &u, false))
				return -1;
			if (!strcmp(ks, "period_ms") || !strcmp(ks, "min_age_ms") ||
			    !strcmp(ks, "max_age_ms")) {
				if (!u)
					return fail(c, v, "%s: must be > 0", ks);
				*(!strcmp(ks, "period_ms")  ? &o->period_ms :
				  !strcmp(ks, "min_age_ms") ? &o->min_age_ms :
							      &o->max_age_ms) = u;
				continue;
			}
			if (u > (strcmp(ks, "budget_pct") ? 1000000 : 100) || !u)
				return fail(c, v, "%s: %llu is out of range", ks,
					    (unsigned long long)u);
			if (!strcmp(ks, "budget_pct"))
				o->budget_pct = (uint32_t)u;
			else if (!strcmp(ks, "promotion_ppm"))
				o->promotion_ppm = (uint32_t)u;
			else if (!strcmp(ks, "stall_ppm"))
				o->stall_ppm = (uint32_t)u;
			else
				o->thrash_ppm = (uint32_t)u;
		}
	}
	if (o->kind == PF_OBJ_BUDGET && !o->budget_pages && !o->budget_pct)
		return fail(c, n, "objective budget: give 'budget' (a size) or 'budget_pct'");
	if (o->max_age_ms < o->min_age_ms)
		return fail(c, n, "objective: max_age_ms is below min_age_ms");
	return 0;
}

#define BODY_KEYS "reclaim, prefetch, params, threshold, objective"

/* reclaim / prefetch / params / threshold keys of map, over b. */
static int parse_body(struct ctx *c, yaml_node_t *map, struct pf_binding *b)
{
	yaml_node_t *k, *v;

	FOR_PAIRS(c, map, k, v)
	{
		const char *ks = scalar(k), *vs;
		char names[512];

		if (!ks)
			continue;
		if (!strcmp(ks, "reclaim")) {
			if (want_scalar(c, v, "reclaim", &vs))
				return -1;
			b->reclaim = pf_reclaim_find(vs);
			if (!b->reclaim) {
				pf_reclaim_names(names, sizeof(names));
				return fail(c, v, "unknown reclaim policy '%s' (valid: %s)", vs,
					    names);
			}
		} else if (!strcmp(ks, "prefetch")) {
			if (want_scalar(c, v, "prefetch", &vs))
				return -1;
			b->prefetch = pf_prefetch_find(vs);
			if (!b->prefetch) {
				pf_prefetch_names(names, sizeof(names));
				return fail(c, v, "unknown prefetch policy '%s' (valid: %s)", vs,
					    names);
			}
		} else if (!strcmp(ks, "params")) {
			yaml_node_t *pk, *pv;

			if (want_map(c, v, "params"))
				return -1;
			FOR_PAIRS(c, v, pk, pv)
			{
				char perr[512];
				const char *pks = scalar(pk), *pvs;

				if (!pks)
					return fail(c, pk, "parameter names must be plain names");
				if (want_scalar(c, pv, pks, &pvs))
					return -1;
				int rc = pf_params_set(&b->params, pks, pvs, perr, sizeof(perr));

				if (rc)
					return fail(c, rc == -ENOENT ? pk : pv, "%s", perr);
			}
		} else if (!strcmp(ks, "threshold")) {
			if (get(c, map, "objective"))
				return fail(c, v,
					    "threshold and objective both set: an objective "
					    "chooses the threshold (keep one)");
			if (parse_threshold(c, v, &b->threshold))
				return -1;
		} else if (!strcmp(ks, "objective")) {
			if (parse_objective(c, v, &b->objective))
				return -1;
			pf_threshold_cfg_default(&b->threshold);
			b->threshold.mode = b->objective.kind == PF_OBJ_NONE ? PF_THRESH_BUDGET :
									       PF_THRESH_OBJECTIVE;
		}
	}
	/* An objective without a policy of its own pages out by age. */
	if (b->threshold.mode == PF_THRESH_OBJECTIVE && !get(c, map, "reclaim") &&
	    (!b->reclaim || (b->reclaim->flags & PF_RECLAIM_PASSIVE)))
		b->reclaim = pf_reclaim_find("cold-age");
	if (b->threshold.mode == PF_THRESH_OBJECTIVE && b->reclaim &&
	    (b->reclaim->flags & PF_RECLAIM_PASSIVE))
		return fail(c, map,
			    "objective with reclaim '%s', which never pages out: bind a policy "
			    "that does (cold-age, lru, lfu, hyperbolic)",
			    b->reclaim->name);
	return 0;
}

static char *dup_node(struct ctx *c, yaml_node_t *n, const char *what)
{
	const char *s;
	char *d;

	if (want_scalar(c, n, what, &s))
		return NULL;
	d = strdup(s);
	if (!d)
		fail(c, n, "out of memory");
	return d;
}

static int parse_match(struct ctx *c, yaml_node_t *n, struct rule *r)
{
	yaml_node_t *k, *v;

	if (want_map(c, n, "match") ||
	    check_keys(c, n, "match", "tag, symbol, kind, min_size, max_size"))
		return -1;
	FOR_PAIRS(c, n, k, v)
	{
		const char *ks = scalar(k), *vs;

		if (!strcmp(ks, "tag")) {
			if (!(r->tag = dup_node(c, v, "tag")))
				return -1;
		} else if (!strcmp(ks, "symbol")) {
			if (!(r->symbol = dup_node(c, v, "symbol")))
				return -1;
		} else if (!strcmp(ks, "kind")) {
			if (want_scalar(c, v, "kind", &vs))
				return -1;
			r->kind = pf_kind_parse(vs);
			if (r->kind < 0)
				return fail(c, v,
					    "unknown kind '%s' (valid: any, anon, file, shm, "
					    "stack, heap, tagged)",
					    vs);
		} else if (!strcmp(ks, "min_size")) {
			if (parse_u64_node(c, v, ks, &r->min_size, true))
				return -1;
		} else if (parse_u64_node(c, v, ks, &r->max_size, true)) {
			return -1;
		}
	}
	if (r->max_size && r->min_size > r->max_size)
		return fail(c, n, "min_size is larger than max_size");
	return 0;
}

static int parse_rule(struct ctx *c, yaml_node_t *n, struct rule *r, size_t idx)
{
	yaml_node_t *v;
	char buf[32];

	if (want_map(c, n, "a rule") ||
	    check_keys(c, n, "a rule", "name, match, phases, " BODY_KEYS))
		return -1;
	r->kind = PFW_KIND_ANY;
	r->b = c->rs->def;
	if ((v = get(c, n, "name"))) {
		if (!(r->name = dup_node(c, v, "name")))
			return -1;
	} else {
		snprintf(buf, sizeof(buf), "rule%zu", idx + 1);
		if (!(r->name = strdup(buf)))
			return fail(c, n, "out of memory");
	}
	snprintf(r->b.rule, sizeof(r->b.rule), "%s", r->name);
	if (!(v = get(c, n, "match")))
		return fail(c, n, "rule '%s' has no match: clause", r->name);
	if (parse_match(c, v, r) || parse_body(c, n, &r->b))
		return -1;
	if ((v = get(c, n, "phases"))) {
		yaml_node_t *pk, *pv;

		if (want_map(c, v, "phases"))
			return -1;
		r->ov = calloc(v->data.mapping.pairs.top - v->data.mapping.pairs.start + 1,
			       sizeof(*r->ov));
		if (!r->ov)
			return fail(c, v, "out of memory");
		FOR_PAIRS(c, v, pk, pv)
		{
			struct override *o = &r->ov[r->nov];

			if (!(o->phase = dup_node(c, pk, "a phase pattern")))
				return -1;
			r->nov++;
			o->b = r->b;
			if (want_map(c, pv, "a phase override") ||
			    check_keys(c, pv, "a phase override", BODY_KEYS) ||
			    parse_body(c, pv, &o->b))
				return -1;
		}
	}
	return 0;
}

static int parse_globs(struct ctx *c, yaml_node_t *n, const char *what, const char *const **out,
		       size_t *nout)
{
	char **l;

	if (scalar(n)) {
		l = calloc(1, sizeof(*l));
		if (!l || !(l[0] = strdup(scalar(n)))) {
			free(l);
			return fail(c, n, "out of memory");
		}
		*out = (const char *const *)l;
		*nout = 1;
		return 0;
	}
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "%s must be a tag pattern or a list of them", what);
	l = calloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1,
		   sizeof(*l));
	if (!l)
		return fail(c, n, "out of memory");
	*out = (const char *const *)l;
	*nout = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);

		if (!(l[*nout] = dup_node(c, e, what)))
			return -1;
		(*nout)++;
	}
	return 0;
}

static int parse_phases(struct ctx *c, yaml_node_t *n)
{
	yaml_node_t *k, *v;

	if (want_map(c, n, "phases"))
		return -1;
	c->rs->ph = calloc(n->data.mapping.pairs.top - n->data.mapping.pairs.start + 1,
			   sizeof(*c->rs->ph));
	if (!c->rs->ph)
		return fail(c, n, "out of memory");
	FOR_PAIRS(c, n, k, v)
	{
		struct phase_entry *e = &c->rs->ph[c->rs->nph];
		yaml_node_t *ek, *ev, *on;

		if (!(e->phase = dup_node(c, k, "a phase pattern")))
			return -1;
		c->rs->nph++;
		if (want_map(c, v, "a phase") || check_keys(c, v, "a phase", "on_entry"))
			return -1;
		if (!(on = get(c, v, "on_entry")))
			continue;
		if (want_map(c, on, "on_entry") ||
		    check_keys(c, on, "on_entry", "demote, prefetch, prefetch_hot"))
			return -1;
		FOR_PAIRS(c, on, ek, ev)
		{
			const char *ks = scalar(ek), *vs;

			if (!strcmp(ks, "demote")) {
				if (parse_globs(c, ev, "demote", &e->a.demote, &e->a.ndemote))
					return -1;
			} else if (!strcmp(ks, "prefetch")) {
				if (parse_globs(c, ev, "prefetch", &e->a.prefetch, &e->a.nprefetch))
					return -1;
			} else {
				if (want_scalar(c, ev, ks, &vs))
					return -1;
				if (!strcmp(vs, "true") || !strcmp(vs, "yes"))
					e->a.prefetch_hot = true;
				else if (!strcmp(vs, "false") || !strcmp(vs, "no"))
					e->a.prefetch_hot = false;
				else
					return fail(c, ev,
						    "prefetch_hot: '%s' is not true or false", vs);
			}
		}
	}
	return 0;
}

static int parse_root(struct ctx *c, yaml_node_t *root)
{
	yaml_node_t *v;

	if (!root)
		return fail(c, NULL, "empty file: expected a mapping with version and rules");
	if (want_map(c, root, "the file") ||
	    check_keys(c, root, "the file", "version, defaults, rules, phases"))
		return -1;
	if (!(v = get(c, root, "version")))
		return fail(c, root, "missing 'version: 1'");
	if (!scalar(v) || strcmp(scalar(v), "1"))
		return fail(c, v, "unsupported version '%s' (this agent reads version 1)",
			    scalar(v) ? scalar(v) : "?");
	if ((v = get(c, root, "defaults"))) {
		if (want_map(c, v, "defaults") || check_keys(c, v, "defaults", BODY_KEYS) ||
		    parse_body(c, v, &c->rs->def))
			return -1;
	}
	if ((v = get(c, root, "rules"))) {
		size_t n;

		if (v->type != YAML_SEQUENCE_NODE)
			return fail(c, v, "rules must be a list (lines starting with '- ')");
		n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		c->rs->r = calloc(n + 1, sizeof(*c->rs->r));
		if (!c->rs->r)
			return fail(c, v, "out of memory");
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *e =
				yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);

			c->rs->nr++;
			if (parse_rule(c, e, &c->rs->r[i], i))
				return -1;
		}
	}
	if ((v = get(c, root, "phases")) && parse_phases(c, v))
		return -1;
	return 0;
}

struct pf_rules *pf_rules_parse(const char *text, size_t len, const char *name, char *err,
				size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct ctx c = {.doc = &doc, .name = name, .err = err, .errlen = errlen};
	struct pf_rules *rs = calloc(1, sizeof(*rs));
	int rc;

	if (!rs) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	c.rs = rs;
	snprintf(rs->def.rule, sizeof(rs->def.rule), "default");
	rs->def.reclaim = pf_reclaim_find("kernel");
	rs->def.prefetch = pf_prefetch_find("none");
	pf_policy_params_default(&rs->def.params);
	pf_threshold_cfg_default(&rs->def.threshold);
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		free(rs);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", name, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "bad YAML", parser.context ? " " : "",
			 parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		free(rs);
		return NULL;
	}
	rc = parse_root(&c, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	if (!rc) {
		/* One document only: a second one would be silently ignored. */
		yaml_document_t next;

		if (!yaml_parser_load(&parser, &next)) {
			snprintf(err, errlen, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
				 parser.problem_mark.column + 1,
				 parser.problem ? parser.problem : "bad YAML");
			rc = -1;
		} else {
			yaml_node_t *root = yaml_document_get_root_node(&next);

			if (root) {
				snprintf(err, errlen,
					 "%s:%zu:%zu: a second YAML document; put all rules in one",
					 name, root->start_mark.line + 1,
					 root->start_mark.column + 1);
				rc = -1;
			}
			yaml_document_delete(&next);
		}
	}
	yaml_parser_delete(&parser);
	if (rc) {
		pf_rules_free(rs);
		return NULL;
	}
	return rs;
}

struct pf_rules *pf_rules_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct pf_rules *rs;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			if (cap > (16u << 20) || !(nb = realloc(buf, cap))) {
				snprintf(err, errlen, "%s: too large or out of memory", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	rs = pf_rules_parse(buf, len, path, err, errlen);
	free(buf);
	return rs;
}

static void free_globs(const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)l[i]);
	free((void *)l);
}

void pf_rules_free(struct pf_rules *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nr; i++) {
		struct rule *r = &rs->r[i];

		free(r->name);
		free(r->tag);
		free(r->symbol);
		for (size_t j = 0; j < r->nov; j++)
			free(r->ov[j].phase);
		free(r->ov);
	}
	free(rs->r);
	for (size_t i = 0; i < rs->nph; i++) {
		free(rs->ph[i].phase);
		free_globs(rs->ph[i].a.demote, rs->ph[i].a.ndemote);
		free_globs(rs->ph[i].a.prefetch, rs->ph[i].a.nprefetch);
	}
	free(rs->ph);
	free(rs);
}

static bool glob(const char *pat, const char *s)
{
	return !pat || !fnmatch(pat, s ? s : "", 0);
}

int pf_rules_match(const struct pf_rules *rs, const struct pf_region_attrs *a, const char *phase,
		   struct pf_binding *out)
{
	for (size_t i = 0; i < rs->nr; i++) {
		const struct rule *r = &rs->r[i];

		if (!glob(r->tag, a->tag) || !glob(r->symbol, a->symbol))
			continue;
		if (r->kind != PFW_KIND_ANY && r->kind != (int)a->kind)
			continue;
		if (a->size < r->min_size || (r->max_size && a->size > r->max_size))
			continue;
		*out = r->b;
		if (phase && *phase)
			for (size_t j = 0; j < r->nov; j++)
				if (glob(r->ov[j].phase, phase)) {
					*out = r->ov[j].b;
					break;
				}
		return (int)i;
	}
	*out = rs->def;
	return -1;
}

const struct pf_phase_actions *pf_rules_phase_actions(const struct pf_rules *rs, const char *phase)
{
	for (size_t i = 0; i < rs->nph; i++)
		if (phase && glob(rs->ph[i].phase, phase))
			return &rs->ph[i].a;
	return NULL;
}

bool pf_rules_glob_any(const char *const *globs, size_t n, const char *tag)
{
	for (size_t i = 0; i < n; i++)
		if (glob(globs[i], tag))
			return true;
	return false;
}

size_t pf_rules_count(const struct pf_rules *rs)
{
	return rs->nr;
}

const struct pf_binding *pf_rules_defaults(const struct pf_rules *rs)
{
	return &rs->def;
}
