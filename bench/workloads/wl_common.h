/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the bundled benchmark workloads: option parsing, one
 * anonymous mmap per data structure (so the shim and the pagers see each as a
 * region of its own), a mixing function for deterministic data, a latency
 * histogram for p99, and the single RESULT line every workload prints. Random
 * numbers and Zipf draws come from common/zipf.h.
 */
#ifndef PF_WL_COMMON_H
#define PF_WL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zipf.h"

#define WL_PAGE 4096UL

/* Options every workload accepts; each adds its own through wl_opt_extra. */
struct wl_opts {
	uint64_t size_mib; /* main working set */
	unsigned passes; /* passes / iterations / rounds */
	uint64_t ops; /* operations (kv, phase) */
	uint64_t seed;
	double zipf_s;
	unsigned one_hit_pct; /* kv: share of keys written once, never read (--one-hit) */
	uint64_t write_every; /* seq/stride: write one page in N per pass (0: none) */
	unsigned stride; /* seq/stride: pages between visits, or one of: */
#define WL_STRIDE_MIXED 0u /* each 4 MiB chunk at its own stride */
#define WL_STRIDE_RANDOM 0xffffffffu /* a random order, new each pass */
	bool quiet;
};

struct wl_desc {
	const char *name; /* "seq" */
	const char *summary; /* one line */
	const char *extra; /* extra --help text, may be NULL */
	uint64_t def_size_mib;
	unsigned def_passes;
	uint64_t def_ops;
	double def_zipf_s;
	bool one_hit; /* takes --one-hit PCT */
	bool scan; /* takes --write-every N and --stride K|mixed */
	unsigned def_stride;
};

/* Parses argv into o (defaults from d); prints --help and exits. */
void wl_parse(const struct wl_desc *d, int argc, char **argv, struct wl_opts *o);

/* A separate anonymous private mapping; exits with a message on failure. */
void *wl_map(size_t bytes, const char *what);

uint64_t wl_now_ns(void);

/* splitmix64 as a mixing function of one word (the generator itself and the
 * Zipf sampler are common/zipf.h's: pf_splitmix64, pf_zipf_next). */
static inline uint64_t wl_mix(uint64_t x)
{
	return pf_splitmix64(&x);
}

/* Latency histogram: 1/16-octave log buckets in ns, p-quantiles. */
struct wl_hist {
	uint64_t count;
	uint64_t b[64 * 16];
};
void wl_hist_add(struct wl_hist *h, uint64_t ns);
double wl_hist_quantile_us(const struct wl_hist *h, double q);

/* Prints "RESULT wl=NAME key=value ..." (fmt supplies the key=values) and
 * returns the exit code: 0 if ok, 1 if verify failed. */
int wl_result(const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Progress line on stderr unless quiet. */
void wl_note(const struct wl_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
