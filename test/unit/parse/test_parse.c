// SPDX-License-Identifier: MIT
/*
 * Unit tests of the number parsers of common/parse.c: the sizes the rules
 * file and the shim's environment accept, and what both refuse.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "parse.h"

static uint64_t size_ok(const char *s)
{
	uint64_t v = 12345;

	cr_assert_eq(pf_parse_size(s, &v), 0, "'%s' refused", s);
	return v;
}

static void size_bad(const char *s, int want)
{
	uint64_t v = 12345;

	cr_assert_eq(pf_parse_size(s, &v), want, "'%s'", s);
	cr_assert_eq(v, 12345, "'%s' wrote the output", s);
}

Test(parse, sizes)
{
	cr_assert_eq(size_ok("0"), 0);
	cr_assert_eq(size_ok("4096"), 4096);
	cr_assert_eq(size_ok("4096B"), 4096);
	cr_assert_eq(size_ok("64K"), 64 << 10);
	cr_assert_eq(size_ok("64k"), 64 << 10);
	cr_assert_eq(size_ok("64KiB"), 64 << 10);
	cr_assert_eq(size_ok("1M"), 1 << 20);
	cr_assert_eq(size_ok("512MB"), 512ull << 20);
	cr_assert_eq(size_ok("2G"), 2ull << 30);
	cr_assert_eq(size_ok("3t"), 3ull << 40);
	cr_assert_eq(size_ok("18446744073709551615"), UINT64_MAX);
	cr_assert_eq(size_ok("16777215T"), 16777215ull << 40);
}

Test(parse, sizes_refused)
{
	const char *bad[] = {"",     "K",      "-1",	"+5",  " 5",   "5 ", "1.5M",
			     "64iB", "64KiBx", "64KBB", "64X", "0x10", "1P"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		size_bad(bad[i], -EINVAL);
	size_bad(NULL, -EINVAL);
	size_bad("18446744073709551616", -ERANGE);
	size_bad("16777216T", -ERANGE);
}

Test(parse, u64)
{
	uint64_t v = 0;

	cr_assert_eq(pf_parse_u64("42", &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(pf_parse_u64("0x10", &v), 0);
	cr_assert_eq(v, 16);
	cr_assert_eq(pf_parse_u64("18446744073709551615", &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(pf_parse_u64("", &v), -EINVAL);
	cr_assert_eq(pf_parse_u64("-1", &v), -EINVAL);
	cr_assert_eq(pf_parse_u64("12a", &v), -EINVAL);
	cr_assert_eq(pf_parse_u64("64K", &v), -EINVAL);
	cr_assert_eq(pf_parse_u64("18446744073709551616", &v), -EINVAL);
	cr_assert_eq(pf_parse_u64(NULL, &v), -EINVAL);
}
