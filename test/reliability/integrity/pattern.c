// SPDX-License-Identifier: MIT
/* Checksummed unit content (see pattern.h). */
#include "pattern.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PAT_MAGIC 0x5046494e54454752ULL /* "PFINTEGR" */
#define HDR_WORDS 4

static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t key_of(const struct pat_id *id)
{
	return mix(id->seed ^ mix(((uint64_t)id->region << 32 | id->unit) ^
				  mix((uint64_t)id->version + 0x51ed27)));
}

static size_t random_words(size_t words, unsigned entropy_pct)
{
	size_t body = words > HDR_WORDS ? words - HDR_WORDS : 0;

	return HDR_WORDS + body * (entropy_pct > 100 ? 100 : entropy_pct) / 100;
}

/* The expected word i of a unit whose header is already known. */
static inline uint64_t word_at(size_t i, uint64_t key, size_t nrand)
{
	return i < nrand ? mix(key + i) : key ^ 0xa5a5a5a5a5a5a5a5ULL;
}

static void header(uint64_t h[HDR_WORDS], const struct pat_id *id, size_t len, uint64_t key)
{
	h[0] = PAT_MAGIC;
	h[1] = (uint64_t)id->region << 32 | id->unit;
	h[2] = (uint64_t)len << 32 | id->version;
	h[3] = key;
}

void pat_fill(void *dst, size_t len, const struct pat_id *id, unsigned entropy_pct)
{
	uint64_t *w = dst, key = key_of(id);
	size_t words = len / 8, nrand = random_words(words, entropy_pct);

	header(w, id, len, key);
	for (size_t i = HDR_WORDS; i < words; i++)
		w[i] = word_at(i, key, nrand);
}

static bool all_zero(const uint64_t *w, size_t words)
{
	for (size_t i = 0; i < words; i++)
		if (w[i])
			return false;
	return true;
}

/* Is the unit an intact unit of some (region, unit, version)? */
static bool self_consistent(const uint64_t *w, size_t len, const struct pat_id *want,
			    unsigned entropy_pct, struct pat_id *got)
{
	size_t words = len / 8;

	if (w[0] != PAT_MAGIC || (w[2] >> 32) != len)
		return false;
	*got = (struct pat_id){.seed = want->seed,
			       .region = (uint32_t)(w[1] >> 32),
			       .unit = (uint32_t)w[1],
			       .version = (uint32_t)w[2]};
	uint64_t key = key_of(got);
	size_t nrand = random_words(words, entropy_pct);

	if (w[3] != key)
		return false;
	for (size_t i = HDR_WORDS; i < words; i++)
		if (w[i] != word_at(i, key, nrand))
			return false;
	return true;
}

enum pat_verdict pat_check(const void *src, size_t len, const struct pat_id *id,
			   unsigned entropy_pct, struct pat_diff *d)
{
	const uint64_t *w = src;
	uint64_t key = key_of(id), h[HDR_WORDS];
	size_t words = len / 8, nrand = random_words(words, entropy_pct);
	bool ok;

	header(h, id, len, key);
	ok = memcmp(w, h, sizeof(h)) == 0;
	for (size_t i = HDR_WORDS; ok && i < words; i++)
		ok = w[i] == word_at(i, key, nrand);
	if (ok)
		return PAT_OK;

	/* Slow path: say what is there instead. */
	struct pat_diff tmp;
	struct pat_id got;

	if (!d)
		d = &tmp;
	memset(d, 0, sizeof(*d));
	d->first_off = (size_t)-1;
	for (size_t i = 0; i < words; i++) {
		uint64_t want = i < HDR_WORDS ? h[i] : word_at(i, key, nrand);

		for (unsigned b = 0; b < 8; b++) {
			if (((w[i] ^ want) >> (8 * b)) & 0xff) {
				if (d->first_off == (size_t)-1)
					d->first_off = i * 8 + b;
				d->nbytes++;
			}
		}
	}
	if (all_zero(w, words)) {
		d->verdict = PAT_ZEROED;
	} else if (self_consistent(w, len, id, entropy_pct, &got)) {
		d->got_region = got.region;
		d->got_unit = got.unit;
		d->got_version = got.version;
		if (got.region != id->region || got.unit != id->unit)
			d->verdict = PAT_MISPLACED;
		else
			d->verdict = got.version < id->version ? PAT_STALE : PAT_NEWER;
	} else {
		d->verdict = PAT_CORRUPT;
	}
	return d->verdict;
}

const char *pat_verdict_name(enum pat_verdict v)
{
	static const char *const names[] = {"ok",    "zeroed",	  "stale",
					    "newer", "misplaced", "corrupt"};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

void pat_describe(const struct pat_diff *d, const struct pat_id *want, char *out, size_t n)
{
	switch (d->verdict) {
	case PAT_ZEROED:
		snprintf(out, n, "zeroed (every byte is 0: page lost)");
		break;
	case PAT_STALE:
	case PAT_NEWER:
		snprintf(out, n, "%s (version %u, expected %u)", pat_verdict_name(d->verdict),
			 d->got_version, want->version);
		break;
	case PAT_MISPLACED:
		snprintf(out, n, "misplaced (holds region %u unit %u version %u)", d->got_region,
			 d->got_unit, d->got_version);
		break;
	default:
		snprintf(out, n, "corrupt (%zu bytes differ, first at offset %zu)", d->nbytes,
			 d->first_off);
		break;
	}
}
