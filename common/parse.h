/* SPDX-License-Identifier: MIT */
/*
 * Numbers from text, one parser per form, for the shim's environment, the
 * rules file and the tools' options. No allocation, no locale, no errno
 * writes in pf_parse_size (the shim calls it).
 */
#ifndef PAGEFLEX_PARSE_H
#define PAGEFLEX_PARSE_H

#include <stdint.h>

/* strtoull base 0 (decimal, 0x hex, leading-0 octal), no sign, no suffix:
 * 0 or -EINVAL. */
int pf_parse_u64(const char *s, uint64_t *out);

/* Bytes: decimal digits with an optional K, M, G or T suffix (powers of
 * 1024, either case), then optionally "B" ("iB" after a suffix):
 * "4096", "64K", "512MiB", "2GB". 0, -EINVAL if malformed or -ERANGE. */
int pf_parse_size(const char *s, uint64_t *out);

#endif
