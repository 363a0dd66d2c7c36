/* SPDX-License-Identifier: MIT */
/*
 * pf-wl-kv: an in-memory key-value store under zipf-distributed gets and sets
 * (90% get, 10% set), the shape of a cache server. Three data structures, each
 * its own mapping (region): the hash index (key -> slot), the value slab
 * (1 KiB values, the bulk) and a version array. Every get checks the whole
 * value against its key and version, so a pager that loses a write or returns
 * a stale page fails the run. Reports throughput and p50/p99 op latency.
 * With --one-hit PCT, that share of the keys is written once when loading
 * (after the others, at the end of the value slab) and never used again:
 * the one-hit objects of real cache traces, memory that is idle for good.
 */
#include "wl_common.h"

#include <stdio.h>
#include <stdlib.h>

#define VAL_WORDS 128 /* 1 KiB values */

struct slot {
	uint64_t key1; /* key + 1; 0 = empty */
	uint64_t idx; /* value slot */
};

static inline uint64_t val_word(uint64_t key, uint32_t ver, unsigned j)
{
	return wl_mix((key << 20) ^ ((uint64_t)ver << 8) ^ j);
}

static struct slot *lookup(struct slot *tab, uint64_t mask, uint64_t key)
{
	for (uint64_t h = wl_mix(key) & mask;; h = (h + 1) & mask) {
		if (tab[h].key1 == key + 1 || tab[h].key1 == 0)
			return &tab[h];
	}
}

int main(int argc, char **argv)
{
	const struct wl_desc d = {
		.name = "kv",
		.summary = "Zipf key-value store: 1 KiB values, 90% get / 10% set, p99 latency.",
		.def_size_mib = 1024,
		.def_passes = 1,
		.def_ops = 2000000,
		.def_zipf_s = 0.99,
		.one_hit = true,
	};
	struct wl_opts o;
	wl_parse(&d, argc, argv, &o);

	uint64_t nkeys = o.size_mib * 1024;
	uint64_t cap = 1;
	while (cap < nkeys * 2)
		cap <<= 1;
	struct slot *index = wl_map(cap * sizeof(*index), "kv index");
	uint64_t *vals = wl_map(nkeys * VAL_WORDS * 8, "kv values");
	uint32_t *vers = wl_map(nkeys * sizeof(*vers), "kv versions");

	/*
	 * Key i is loaded into value slot i and is the i-th most popular; the
	 * one-hit keys (nused .. nkeys - 1) come last and are never drawn.
	 */
	uint64_t nused = nkeys - nkeys * o.one_hit_pct / 100;
	struct pf_zipf z;
	if (pf_zipf_init(&z, nused, o.zipf_s, o.seed))
		return 2;
	uint64_t t0 = wl_now_ns();
	for (uint64_t i = 0; i < nkeys; i++) {
		uint64_t key = i < nused ? pf_scatter(&z.scatter, i) : i;
		struct slot *s = lookup(index, cap - 1, key);
		s->key1 = key + 1;
		s->idx = i;
		vers[key] = 0;
		for (unsigned j = 0; j < VAL_WORDS; j++)
			vals[i * VAL_WORDS + j] = val_word(key, 0, j);
	}
	uint64_t t1 = wl_now_ns();
	wl_note(&o, "kv: loaded %llu keys in %.2f s", (unsigned long long)nkeys, (t1 - t0) / 1e9);

	uint64_t rng = o.seed;
	struct wl_hist *hist = calloc(1, sizeof(*hist));
	if (!hist)
		return 2;
	uint64_t sum = 0, bad = 0, gets = 0;
	uint64_t t2 = wl_now_ns();
	for (uint64_t op = 0; op < o.ops; op++) {
		uint64_t key = pf_zipf_next(&z, &rng);
		bool set = (pf_splitmix64(&rng) % 10) == 0;
		uint64_t a = wl_now_ns();
		struct slot *s = lookup(index, cap - 1, key);
		if (s->key1 != key + 1) {
			bad++;
			continue;
		}
		uint64_t *v = vals + s->idx * VAL_WORDS;
		if (set) {
			uint32_t ver = ++vers[key];
			for (unsigned j = 0; j < VAL_WORDS; j++)
				v[j] = val_word(key, ver, j);
			sum += ver;
		} else {
			uint32_t ver = vers[key];
			gets++;
			for (unsigned j = 0; j < VAL_WORDS; j++) {
				if (v[j] != val_word(key, ver, j))
					bad++;
				sum += v[j];
			}
		}
		wl_hist_add(hist, wl_now_ns() - a);
		if ((op + 1) % (o.ops / 4 ? o.ops / 4 : 1) == 0)
			wl_note(&o, "kv: %llu/%llu ops", (unsigned long long)op + 1,
				(unsigned long long)o.ops);
	}
	uint64_t t3 = wl_now_ns();
	double work_s = (t3 - t2) / 1e9;
	if (bad)
		fprintf(stderr, "pf-wl-kv: %llu corrupted or missing values\n",
			(unsigned long long)bad);
	int rc = wl_result("kv", bad == 0,
			   "size_mib=%llu ops=%llu zipf=%.2f one_hit_pct=%u runtime_s=%.3f "
			   "work_s=%.3f throughput=%.0f unit=ops/s p50_us=%.2f p99_us=%.2f "
			   "checksum=0x%016llx",
			   (unsigned long long)o.size_mib, (unsigned long long)o.ops, o.zipf_s,
			   o.one_hit_pct, (t3 - t0) / 1e9, work_s, o.ops / work_s,
			   wl_hist_quantile_us(hist, 0.50), wl_hist_quantile_us(hist, 0.99),
			   (unsigned long long)sum);
	free(hist);
	return rc;
}
