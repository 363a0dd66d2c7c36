/* SPDX-License-Identifier: MIT */
/*
 * Synthetic workloads for the simulator, as replayable event streams:
 *   seq        pages 0..N-1, `loops` times
 *   loop       the same, meant larger than memory (LRU's worst case)
 *   stride     page (i * stride) mod N, N * loops accesses
 *   zipf       `accesses` draws from a Zipf(s) law over N pages, hot pages
 *              scattered by a seeded permutation
 *   phases     a "build" phase sweeping region "build", then a "query"
 *              phase drawing Zipf(s) from region "query", `loops` times,
 *              phase_len accesses each, with PHASE records
 *   mix        region "index" strided and region "cache" Zipf(s), interleaved
 * Spec: "NAME[:key=value,...]", keys pages, loops, stride, s, accesses,
 * seed, phase_len, access_ns. Deterministic for a given spec.
 */
#ifndef PAGEFLEX_SIM_GEN_H
#define PAGEFLEX_SIM_GEN_H

#include "sim.h"

struct gen;

/* NULL with the problem in err. */
struct gen *gen_new(const char *spec, char *err, size_t errlen);
void gen_free(struct gen *g);
/* The stream; valid while g lives. */
struct sim_source gen_source(struct gen *g);
/* Writes the whole stream to a trace file: 0 or -1 with err. */
int gen_write(struct gen *g, const char *path, char *err, size_t errlen);

/* A trace file as a stream. */
struct file_source;
struct file_source *file_source_open(const char *path, char *err, size_t errlen);
struct sim_source file_source(struct file_source *f);
/* Its header (version 1 fields beyond `comm` read as zero). */
const struct pf_trace_header *file_source_header(const struct file_source *f);
void file_source_close(struct file_source *f);

#endif
