/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the tests: privilege checks that skip with one
 * line, and locating the build and source trees.
 */
#ifndef PAGEFLEX_TESTUTIL_H
#define PAGEFLEX_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* NULL if the caller is root (euid 0), else a one-line reason to skip. */
const char *tu_need_root(void);
/* NULL if swap is active (set up by scripts/swap-setup.sh), else a reason. */
const char *tu_ensure_swap(void);
/* $PAGEFLEX_BUILD_DIR or $PAGEFLEX_SOURCE_DIR (set by CTest), or ".". */
const char *tu_build_dir(void);
const char *tu_source_dir(void);

/* Skips the current Criterion test when reason is non-NULL. */
#define TU_SKIP_UNLESS(reason_expr)                     \
	do {                                            \
		const char *tu_reason_ = (reason_expr); \
		if (tu_reason_)                         \
			cr_skip_test("%s", tu_reason_); \
	} while (0)

#endif
