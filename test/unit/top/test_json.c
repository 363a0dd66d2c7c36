// SPDX-License-Identifier: MIT
/*
 * pageflexctl's JSON reader (tools/json.c): the agent's `stats --json`
 * shapes read back by key and index; escapes decoded; fields it does not
 * know and nulls where counts are unknown are harmless; malformed text is
 * refused with the byte offset of the problem, and deep nesting is bounded.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

Test(json, stats_shape)
{
	const char *text =
		"{\"agent\":{\"pid\":12,\"uptime_ms\":1500,\"cpu_user_ms\":3.5,\"scanning\":true,"
		"\"direct_map\":\"0xffff888000000000\",\"new_thing\":{\"x\":[1,2,{\"y\":null}]}},"
		"\"processes\":[{\"pid\":4242,\"exe\":\"/usr/bin/x\",\"regions\":["
		"{\"id\":3,\"tag\":\"we\\\"ird\\u00e9\\n\",\"refaults\":17,\"resident\":-1.5e3},"
		"{\"id\":4,\"tag\":\"\",\"refaults\":null,\"swapped\":0}]}]}\n";
	char err[128];
	struct pj_value *j = pj_parse(text, err, sizeof(err));
	const struct pj_value *a, *r0, *r1, *procs;

	cr_assert(j, "%s", err);
	a = pj_get(j, "agent");
	cr_expect_eq(pj_num(pj_get(a, "pid"), 0), 12);
	cr_expect_float_eq(pj_num(pj_get(a, "cpu_user_ms"), 0), 3.5, 1e-12);
	cr_expect(pj_get(a, "scanning")->type == PJ_BOOL && pj_get(a, "scanning")->b);
	cr_expect_str_eq(pj_str(pj_get(a, "direct_map"), ""), "0xffff888000000000");
	cr_expect_eq(pj_get(a, "missing"), NULL);
	cr_expect_eq(pj_num(pj_get(a, "missing"), -7), -7);
	procs = pj_get(j, "processes");
	cr_assert_eq(pj_len(procs), 1);
	cr_expect_eq(pj_num(pj_get(pj_at(procs, 0), "pid"), 0), 4242);
	r0 = pj_at(pj_get(pj_at(procs, 0), "regions"), 0);
	r1 = pj_at(pj_get(pj_at(procs, 0), "regions"), 1);
	cr_expect_str_eq(pj_str(pj_get(r0, "tag"), ""), "we\"ird\xc3\xa9\n");
	cr_expect_eq(pj_num(pj_get(r0, "refaults"), -1), 17);
	cr_expect_float_eq(pj_num(pj_get(r0, "resident"), 0), -1500, 1e-9);
	cr_expect_eq(pj_get(r1, "refaults")->type, PJ_NULL);
	cr_expect_eq(pj_num(pj_get(r1, "refaults"), -1), -1); /* null is not a number */
	cr_expect_eq(pj_at(pj_get(pj_at(procs, 0), "regions"), 2), NULL);
	cr_expect_eq(pj_len(pj_get(j, "agent")), 0); /* an object is not an array */
	pj_free(j);
}

Test(json, surrogates_and_empty)
{
	char err[128];
	struct pj_value *j =
		pj_parse(" [ \"\\ud83d\\ude00\", \"\\ud800x\", [], {} ] ", err, sizeof(err));

	cr_assert(j, "%s", err);
	cr_expect_str_eq(pj_str(pj_at(j, 0), ""), "\xf0\x9f\x98\x80");
	cr_expect_str_eq(pj_str(pj_at(j, 1), ""), "?x");
	cr_expect_eq(pj_len(pj_at(j, 2)), 0);
	cr_expect_eq(pj_at(j, 3)->type, PJ_OBJECT);
	pj_free(j);
}

Test(json, malformed)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"", "unexpected end of text at byte 0"},
		{"{\"a\":1,}", "expected a member name at byte 7"},
		{"{\"a\" 1}", "expected ':' at byte 5"},
		{"[1 2]", "expected ',' or ']' at byte 3"},
		{"[01]", "bad number at byte 1"},
		{"[1.]", "bad number at byte 1"},
		{"[-]", "bad number at byte 1"},
		{"\"abc", "unterminated string at byte 0"},
		{"\"a\\x\"", "bad escape '\\x' at byte 3"},
		{"\"\\u12g4\"", "bad \\u escape at byte 2"},
		{"\"a\tb\"", "control character in a string at byte 2"},
		{"tru", "unexpected character 't' at byte 0"},
		{"{} x", "text after the value at byte 3"},
	};
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_expect_null(pj_parse(bad[i].text, err, sizeof(err)), "accepted '%s'",
			       bad[i].text);
		cr_expect_str_eq(err, bad[i].msg, "'%s'", bad[i].text);
	}
}

Test(json, depth_bounded)
{
	char text[400], err[128];
	struct pj_value *j;

	memset(text, '[', 200);
	memset(text + 200, ']', 200);
	text[399] = 0;
	text[199] = '1'; /* 199 '[' then "1" then 199 ']' */
	text[200 + 199] = 0;
	cr_expect_null(pj_parse(text, err, sizeof(err)));
	cr_expect(strstr(err, "nested deeper than 64"), "%s", err);
	memset(text, 0, sizeof(text));
	memset(text, '[', 60);
	text[60] = '1';
	memset(text + 61, ']', 60);
	j = pj_parse(text, err, sizeof(err));
	cr_expect(j, "%s", err);
	pj_free(j);
}
