/* SPDX-License-Identifier: MIT */
/*
 * Self-describing checksummed content for memory units (a page, or the
 * shorter tail of a buffer). Each unit's bytes are a pure function of
 * (seed, region, unit, version), so a checker needs no copy of the data:
 * it regenerates the expected words and, on a mismatch, says what it found
 * instead (a zeroed page, an older version, another unit's content, or
 * corrupted bytes). Used by pf-integrity and the fault-injection tests.
 */
#ifndef PF_PATTERN_H
#define PF_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define PAT_UNIT 4096u /* bytes of a full unit */
#define PAT_MIN_UNIT 64u /* a unit is at least this long and a multiple of 8 */

struct pat_id {
	uint64_t seed;
	uint32_t region, unit, version;
};

enum pat_verdict {
	PAT_OK = 0,
	PAT_ZEROED, /* every byte is 0: the page was lost (discarded) */
	PAT_STALE, /* intact content of an older version: an update was lost */
	PAT_NEWER, /* intact content of a newer version than expected */
	PAT_MISPLACED, /* intact content of another unit or region */
	PAT_CORRUPT, /* bytes differ */
};

struct pat_diff {
	enum pat_verdict verdict;
	uint32_t got_region, got_unit, got_version; /* from the header, if readable */
	size_t first_off; /* first differing byte */
	size_t nbytes; /* differing bytes */
};

/*
 * Fills len bytes (multiple of 8, >= PAT_MIN_UNIT). entropy_pct of the words
 * after the header are pseudo-random, the rest repeat one word, so zram
 * compresses the data about as well as real heap data.
 */
void pat_fill(void *dst, size_t len, const struct pat_id *id, unsigned entropy_pct);

/* Checks len bytes against id; fills *d on a mismatch (d may be NULL). */
enum pat_verdict pat_check(const void *src, size_t len, const struct pat_id *id,
			   unsigned entropy_pct, struct pat_diff *d);

const char *pat_verdict_name(enum pat_verdict v);

/* One line describing a mismatch, e.g. "stale (version 3, expected 5)". */
void pat_describe(const struct pat_diff *d, const struct pat_id *want, char *out, size_t n);

#endif
