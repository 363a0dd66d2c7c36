// SPDX-License-Identifier: MIT
/*
 * The rules file: the shipped example loads, matching by tag, symbol, kind
 * and size, per-phase overrides, phase actions, and errors with
 * file:line:column that name the valid choices.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"
#include "testutil.h"

static struct pf_rules *parse(const char *text, char *err, size_t errlen)
{
	return pf_rules_parse(text, strlen(text), "t.yaml", err, errlen);
}

static struct pf_binding match(const struct pf_rules *rs, const char *tag, const char *sym,
			       enum pfw_kind kind, uint64_t size, const char *phase)
{
	struct pf_region_attrs a = {.tag = tag, .symbol = sym, .kind = kind, .size = size};
	struct pf_binding b;

	pf_rules_match(rs, &a, phase, &b);
	return b;
}

Test(rules, example_file_loads_and_matches)
{
	char path[4096], err[512];
	struct pf_rules *rs;
	struct pf_binding b;
	const struct pf_phase_actions *act;

	snprintf(path, sizeof(path), "%s/rules/example.yaml", tu_source_dir());
	rs = pf_rules_load(path, err, sizeof(err));
	cr_assert_not_null(rs, "%s", err);
	cr_assert_eq(pf_rules_count(rs), 4);

	b = match(rs, "index-main", "", PFW_KIND_HEAP, 4096, NULL);
	cr_assert_str_eq(b.rule, "index");
	cr_assert_str_eq(b.reclaim->name, "lru");
	cr_assert_str_eq(b.prefetch->name, "leap");
	cr_assert_eq(b.threshold.budget_pct, 50);

	b = match(rs, "cache", "", PFW_KIND_ANON, 512 * 1024, NULL);
	cr_assert_str_eq(b.rule, "default", "too small for the cache rule");
	b = match(rs, "cache", "", PFW_KIND_ANON, 8 << 20, NULL);
	cr_assert_str_eq(b.reclaim->name, "hyperbolic");
	cr_assert_eq(b.threshold.mode, PF_THRESH_PROMOTION);

	b = match(rs, "session-store", "", PFW_KIND_ANON, 8 << 20, NULL);
	cr_assert_str_eq(b.rule, "sessions");
	cr_assert_eq(b.threshold.mode, PF_THRESH_OBJECTIVE);
	cr_assert_eq(b.objective.kind, PF_OBJ_PROMOTION);
	cr_assert_str_eq(b.reclaim->name, "cold-age", "an objective's policy by default");

	b = match(rs, "", "build_table", PFW_KIND_ANON, 128 << 20, "load");
	cr_assert_str_eq(b.rule, "build-buffers");
	cr_assert_eq(b.params.cold_age_ms, 30000);
	b = match(rs, "", "build_table", PFW_KIND_ANON, 128 << 20, "query-2");
	cr_assert_eq(b.params.cold_age_ms, 2000, "phase override");
	cr_assert_str_eq(b.reclaim->name, "cold-age", "override keeps the rest of the rule");
	b = match(rs, "", "build_table", PFW_KIND_FILE, 128 << 20, NULL);
	cr_assert_str_eq(b.rule, "default", "kind must fit");

	act = pf_rules_phase_actions(rs, "query");
	cr_assert_not_null(act);
	cr_assert_eq(act->ndemote, 1);
	cr_assert(pf_rules_glob_any(act->demote, act->ndemote, "build-buf"));
	cr_assert(pf_rules_glob_any(act->prefetch, act->nprefetch, "index"));
	cr_assert(act->prefetch_hot);
	cr_assert_null(pf_rules_phase_actions(rs, "idle"));
	pf_rules_free(rs);
}

/* Each bad file must fail with this "line:column" and this text. */
static void expect_error(const char *text, const char *where, const char *what)
{
	char err[512], want[64];
	struct pf_rules *rs = parse(text, err, sizeof(err));

	cr_assert_null(rs, "accepted:\n%s", text);
	snprintf(want, sizeof(want), "t.yaml:%s: ", where);
	cr_assert(!strncmp(err, want, strlen(want)), "error '%s' is not at %s", err, where);
	cr_assert(strstr(err, what), "error '%s' lacks '%s'", err, what);
}

Test(rules, errors_give_line_and_column)
{
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    reclaim: lruu\n", "4:14",
		     "unknown reclaim policy 'lruu' (valid: kernel, cold-age, lru, lfu, "
		     "hyperbolic)");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    prefetch: leep\n", "4:15",
		     "(valid: none, readahead, leap)");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    params:\n      cold_age: 5\n",
		     "5:7", "unknown parameter 'cold_age' (valid: cold_age_ms, lfu_decay");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    params:\n      lfu_decay: -3\n",
		     "5:18", "not a non-negative integer");
	expect_error(
		"version: 1\nrules:\n  - match: {tag: x, colour: red}\n", "3:21",
		"unknown key 'colour' in match (valid: tag, symbol, kind, min_size, max_size)");
	expect_error("version: 1\nrules:\n  - match: {kind: blob}\n", "3:19",
		     "unknown kind 'blob'");
	expect_error("version: 1\nrules:\n  - match: {min_size: 12Q}\n", "3:23", "is not a size");
	expect_error("version: 2\n", "1:10", "unsupported version '2'");
	expect_error("rules: []\n", "1:1", "missing 'version: 1'");
	expect_error("version: 1\nrules:\n  - reclaim: lru\n", "3:5", "has no match");
	expect_error("version: 1\nrules: {a: 1}\n", "2:8", "rules must be a list");
	expect_error("version: 1\nversion: 1\n", "2:1", "duplicate key 'version'");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    threshold: {mode: fast}\n",
		     "4:23", "unknown threshold mode 'fast' (valid: budget, promotion, cold-age)");
	expect_error("version: 1\nphases:\n  q:\n    on_entry: {prefetch_hot: maybe}\n", "4:30",
		     "not true or false");
	/* A YAML syntax error, reported by libyaml with its position. */
	expect_error("version: 1\nrules:\n  - match: {tag: [x}\n", "3:20", "did not find expected");
}

Test(rules, missing_file_and_reload_keep_old)
{
	char err[512];
	struct pf_rules *old = parse("version: 1\ndefaults: {reclaim: lfu}\n", err, sizeof(err));
	struct pf_rules *bad = pf_rules_load("/nonexistent/rules.yaml", err, sizeof(err));
	struct pf_binding b;

	cr_assert_not_null(old, "%s", err);
	cr_assert_null(bad);
	cr_assert(strstr(err, "/nonexistent/rules.yaml: No such file"), "%s", err);
	/* The old set is untouched by a failed load. */
	b = match(old, "any", "", PFW_KIND_ANON, 4096, NULL);
	cr_assert_str_eq(b.reclaim->name, "lfu");
	cr_assert_str_eq(b.rule, "default");
	pf_rules_free(old);
}

Test(rules, first_match_wins_and_sizes_parse)
{
	char err[512];
	struct pf_rules *rs = parse("version: 1\n"
				    "rules:\n"
				    "  - {name: big, match: {min_size: 1G}, reclaim: lfu,"
				    " threshold: {budget: 512M}}\n"
				    "  - {name: all, match: {}, reclaim: hyperbolic}\n",
				    err, sizeof(err));
	struct pf_binding b;

	cr_assert_not_null(rs, "%s", err);
	b = match(rs, "", "", PFW_KIND_ANON, 2ull << 30, NULL);
	cr_assert_str_eq(b.rule, "big");
	cr_assert_eq(b.threshold.budget_pages, (512ull << 20) / 4096);
	b = match(rs, "", "", PFW_KIND_ANON, 4096, NULL);
	cr_assert_str_eq(b.rule, "all");
	pf_rules_free(rs);
}

Test(rules, keys_must_match_exactly)
{
	expect_error("version: 1\nrules:\n  - match: {}\n    \"reclaim, prefetch\": lru\n", "4:5",
		     "unknown key 'reclaim, prefetch' in a rule");
	expect_error("version: 1\nrules:\n  - match: {ta: x}\n", "3:13", "unknown key 'ta'");
}

Test(rules, one_document_and_not_empty)
{
	expect_error("", "1:1", "empty file");
	expect_error("# only a comment\n", "1:1", "empty file");
	expect_error("version: 1\n---\nversion: 1\n", "3:1", "a second YAML document");
	expect_error("version: 1\n...\n}\n", "3:1", "");
}

/* Issue 11: objectives in a rule, the defaults and a phase; conflicts refused. */
Test(rules, objectives_parse_and_conflicts_are_refused)
{
	char err[512];
	struct pf_rules *rs = parse("version: 1\n"
				    "defaults:\n"
				    "  objective: {kind: promotion, promotion_ppm: 1000}\n"
				    "rules:\n"
				    "  - name: idx\n"
				    "    match: {tag: idx}\n"
				    "    reclaim: lfu\n"
				    "    objective: {kind: budget, budget: 512M, max_out: 64M}\n"
				    "  - {name: plain, match: {tag: plain}, reclaim: lru}\n",
				    err, sizeof(err));
	struct pf_binding b;

	cr_assert_not_null(rs, "%s", err);
	b = match(rs, "idx", "", PFW_KIND_ANON, 1 << 20, NULL);
	cr_assert_eq(b.threshold.mode, PF_THRESH_OBJECTIVE);
	cr_assert_eq(b.objective.kind, PF_OBJ_BUDGET);
	cr_assert_eq(b.objective.budget_pages, (512ull << 20) / 4096);
	cr_assert_eq(b.objective.max_out_pages_per_s, (64ull << 20) / 4096);
	cr_assert_str_eq(b.reclaim->name, "lfu");
	/* The defaults' objective, without a policy of its own: cold-age. */
	b = match(rs, "other", "", PFW_KIND_ANON, 1 << 20, NULL);
	cr_assert_eq(b.threshold.mode, PF_THRESH_OBJECTIVE);
	cr_assert_eq(b.objective.kind, PF_OBJ_PROMOTION);
	cr_assert_eq(b.objective.promotion_ppm, 1000);
	cr_assert_str_eq(b.reclaim->name, "cold-age");
	pf_rules_free(rs);

	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    threshold: {mode: budget}\n"
		     "    objective: {kind: promotion}\n",
		     "4:16", "threshold and objective both set");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    reclaim: kernel\n"
		     "    objective: {kind: promotion}\n",
		     "3:5", "which never pages out");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    objective: {kind: fast}\n",
		     "4:23", "unknown objective 'fast'");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    objective: {promotion_ppm: 5}\n",
		     "4:16", "'kind' is missing");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n    objective: {kind: budget}\n",
		     "4:16", "give 'budget'");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n"
		     "    objective: {kind: promotion, min_age_ms: 100, max_age_ms: 10}\n",
		     "4:16", "max_age_ms is below min_age_ms");
	expect_error("version: 1\nrules:\n  - match: {tag: x}\n"
		     "    objective: {kind: promotion, speed: 3}\n",
		     "4:34", "unknown key 'speed'");
}
