/* SPDX-License-Identifier: MIT */
/*
 * Phase memory (beyond PageFlex): remembers, per (tag, phase) of one
 * process, the pages that were hot at the end of the previous run of that
 * phase, so that entering the phase again can prefetch them in one batch
 * instead of faulting them back one by one.
 *
 * Memory is bounded at creation: at most max_entries (tag, phase) pairs of at
 * most max_pages pages each; the least recently recorded entry makes room.
 * Plain C, no I/O, time passed in.
 */
#ifndef PAGEFLEX_PHASE_MEMO_H
#define PAGEFLEX_PHASE_MEMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PF_MEMO_NAME_MAX 64

struct pf_phase_memo;

/* NULL on allocation failure or zero sizes. */
struct pf_phase_memo *pf_phase_memo_new(size_t max_entries, size_t max_pages);
void pf_phase_memo_free(struct pf_phase_memo *m);

/* Replaces the hot set of (tag, phase) with the first max_pages of pages. */
void pf_phase_memo_record(struct pf_phase_memo *m, const char *tag, const char *phase,
			  const uint64_t *pages, size_t n, uint64_t now);
/* The hot set of (tag, phase), or 0 pages if none is known. */
size_t pf_phase_memo_lookup(const struct pf_phase_memo *m, const char *tag, const char *phase,
			    const uint64_t **pages);
/* Bytes held (fixed at creation). */
size_t pf_phase_memo_bytes(const struct pf_phase_memo *m);
size_t pf_phase_memo_entries(const struct pf_phase_memo *m);

#ifdef __cplusplus
}
#endif
#endif
