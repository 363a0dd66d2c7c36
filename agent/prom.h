/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition format (version 0.0.4), the part pageflexd
 * writes: a family's HELP and TYPE lines, label values escaped, samples.
 * Kept apart from what the agent reports (metrics.c) so that the format's
 * rules are tested on their own (test/unit/agent/test_prom.c).
 */
#ifndef PAGEFLEX_PROM_H_
#define PAGEFLEX_PROM_H_

#include <stddef.h>
#include <stdio.h>

/* The content type of a scrape's reply. */
#define PF_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" and "# TYPE name type" (type: counter or gauge). */
void pf_prom_family(FILE *f, const char *name, const char *type, const char *help);
/*
 * src as a label value, without the quotes, into dst (len bytes, always
 * NUL-terminated): backslash, double quote and newline escaped, and every
 * other byte that is not printable ASCII replaced by '?' (names come from
 * any process; a label must be valid UTF-8). Returns the length written.
 */
size_t pf_prom_escape(char *dst, size_t len, const char *src);
/* "name{labels} value": labels is the inside of the braces, already
 * escaped ("" for none); value printed exactly for integers. */
void pf_prom_sample(FILE *f, const char *name, const char *labels, double value);
void pf_prom_sample_u64(FILE *f, const char *name, const char *labels, unsigned long long v);

#endif
