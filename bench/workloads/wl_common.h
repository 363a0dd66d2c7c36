/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the bundled benchmark workloads: option parsing, one
 * anonymous mmap per data structure (so the shim and the pagers see each as a
 * region of its own), deterministic random numbers, a zipf sampler, a latency
 * histogram for p99, and the single RESULT line every workload prints.
 */
#ifndef PF_WL_COMMON_H
#define PF_WL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_PAGE 4096UL

/* Options every workload accepts; each adds its own through wl_opt_extra. */
struct wl_opts {
	uint64_t size_mib; /* main working set */
	unsigned passes; /* passes / iterations / rounds */
	uint64_t ops; /* operations (kv, phase) */
	uint64_t seed;
	double zipf_s;
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
};

/* Parses argv into o (defaults from d); prints --help and exits. */
void wl_parse(const struct wl_desc *d, int argc, char **argv, struct wl_opts *o);

/* A separate anonymous private mapping; exits with a message on failure. */
void *wl_map(size_t bytes, const char *what);

uint64_t wl_now_ns(void);

/* splitmix64: the deterministic generator and mixing function. */
static inline uint64_t wl_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct wl_rng {
	uint64_t s;
};
static inline uint64_t wl_rand(struct wl_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return wl_mix(r->s);
}
/* uniform double in [0, 1) */
static inline double wl_rand01(struct wl_rng *r)
{
	return (double)(wl_rand(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Zipf over [0, n) with exponent s in (0, 1) (Gray et al., as in YCSB);
 * rank 0 is the hottest. Keys are then scattered by a permutation. */
struct wl_zipf {
	uint64_t n;
	double s, alpha, zetan, eta, half_pow;
};
void wl_zipf_init(struct wl_zipf *z, uint64_t n, double s);
uint64_t wl_zipf_next(const struct wl_zipf *z, struct wl_rng *r);
/* A bijection on [0, n) that scatters hot ranks over the key space. */
uint64_t wl_scatter(uint64_t rank, uint64_t n);

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
