// SPDX-License-Identifier: MIT
/*
 * The Prometheus text format as pageflexd writes it (agent/prom.c): label
 * values escaped the way the format wants (backslash, quote, newline),
 * bytes that are not printable ASCII replaced so a label is valid UTF-8
 * whatever a process names its regions, truncation that never splits an
 * escape, and the HELP/TYPE lines and samples.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static const char *esc(const char *s, size_t len)
{
	static char buf[256];

	pf_prom_escape(buf, len, s);
	return buf;
}

Test(prom, escapes_backslash_quote_and_newline)
{
	cr_assert_str_eq(esc("a\\b\"c\nd", 64), "a\\\\b\\\"c\\nd");
	cr_assert_str_eq(esc("plain-tag_1.x", 64), "plain-tag_1.x");
	cr_assert_str_eq(esc("", 64), "");
}

Test(prom, replaces_control_and_non_ascii_bytes)
{
	cr_assert_str_eq(esc("t\tab\x01\x7f\xc3\xa9", 64), "t?ab????");
}

Test(prom, truncates_without_splitting_an_escape)
{
	size_t n;
	char buf[5];

	/* a, a backslash, a quote: 5 bytes escaped, 4 fit; the quote's escape is left out whole. */
	n = pf_prom_escape(buf, sizeof(buf), "a\\\"");
	cr_assert_eq(n, 3);
	cr_assert_str_eq(buf, "a\\\\");
	n = pf_prom_escape(buf, 1, "abc");
	cr_assert_eq(n, 0);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(pf_prom_escape(buf, 0, "abc"), 0);
}

Test(prom, family_and_samples)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert(f);
	pf_prom_family(f, "pageflex_x_bytes", "gauge", "Some bytes.");
	pf_prom_sample_u64(f, "pageflex_x_bytes", "pid=\"1\"", 18446744073709551615ull);
	pf_prom_sample(f, "pageflex_x_bytes", "", 0.25);
	pf_prom_sample(f, "pageflex_x_bytes", "", 0.031635000000000003);
	fclose(f);
	cr_assert_str_eq(out, "# HELP pageflex_x_bytes Some bytes.\n"
			      "# TYPE pageflex_x_bytes gauge\n"
			      "pageflex_x_bytes{pid=\"1\"} 18446744073709551615\n"
			      "pageflex_x_bytes 0.25\n"
			      "pageflex_x_bytes 0.031635\n");
	free(out);
}
