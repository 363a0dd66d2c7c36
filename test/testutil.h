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

/*
 * Pages of [p, p + len) swapped out by this thread, for tests that need
 * every one of them out. MADV_PAGEOUT skips pages still in another CPU's LRU
 * batch (it drains only its own; an idle CPU may not drain for seconds) and
 * pages isolated for a moment (compaction, another reclaimer). So: call
 * tu_pin_cpu() before writing the pages, then tu_pageout_all(), which
 * repeats MADV_PAGEOUT every 20 ms for up to ms and unpins; it returns the
 * pages still not swapped (a test that needs all skips, saying so).
 */
void tu_pin_cpu(void);
size_t tu_pageout_all(void *p, size_t len, unsigned ms);

/* Skips the current Criterion test when reason is non-NULL. */
#define TU_SKIP_UNLESS(reason_expr)                     \
	do {                                            \
		const char *tu_reason_ = (reason_expr); \
		if (tu_reason_)                         \
			cr_skip_test("%s", tu_reason_); \
	} while (0)

#endif
