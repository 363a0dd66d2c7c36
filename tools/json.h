/* SPDX-License-Identifier: MIT */
/*
 * A minimal JSON reader for pageflexctl (`top` reads the agent's `stats
 * --json`): parses a whole text into a tree and looks values up by key or
 * index. Its one job is reading; it ignores what nobody asks for, so new
 * fields in the agent's replies never break it. No writer, no streaming.
 */
#ifndef PAGEFLEX_TOOLS_JSON_H
#define PAGEFLEX_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum pj_type { PJ_NULL, PJ_BOOL, PJ_NUMBER, PJ_STRING, PJ_ARRAY, PJ_OBJECT };

struct pj_value {
	enum pj_type type;
	bool b; /* PJ_BOOL */
	double num; /* PJ_NUMBER */
	char *str; /* PJ_STRING: NUL-terminated (an embedded \u0000 ends it) */
	size_t n; /* PJ_ARRAY, PJ_OBJECT: items */
	struct pj_value *items; /* n values */
	char **keys; /* PJ_OBJECT: n keys, one per item */
};

/* Parses text (NUL-terminated); NULL with the problem and its byte offset in err. */
struct pj_value *pj_parse(const char *text, char *err, size_t errlen);
void pj_free(struct pj_value *v);

/* The member key of object v (the first, if repeated); NULL if v is not an
 * object or has no such member. NULL-safe: v may be NULL. */
const struct pj_value *pj_get(const struct pj_value *v, const char *key);
/* Item i of array v; NULL if out of range or v is not an array. */
const struct pj_value *pj_at(const struct pj_value *v, size_t i);
/* Items of an array (0 for anything else). */
size_t pj_len(const struct pj_value *v);
/* v's number, or dflt when v is absent, null or not a number. */
double pj_num(const struct pj_value *v, double dflt);
/* v's string, or dflt when v is absent or not a string. */
const char *pj_str(const struct pj_value *v, const char *dflt);

#endif
