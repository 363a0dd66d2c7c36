// SPDX-License-Identifier: MIT
/*
 * A minimal JSON reader (json.h): recursive descent over a NUL-terminated
 * text into a tree, for pageflexctl's commands that read the agent's JSON
 * replies. Strict about syntax (RFC 8259), bounded in depth, and tolerant of
 * content: every member is kept, and callers look up only what they know.
 */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PJ_MAX_DEPTH 64

struct pj_parser {
	const char *s, *p;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct pj_parser *ps, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s at byte %zu", msg, (size_t)(ps->p - ps->s));
}

static void skip_ws(struct pj_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Appends code point cp as UTF-8 (at most 4 bytes). */
static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (on its opening quote): malloc'd and decoded, or NULL. */
static char *parse_string(struct pj_parser *ps)
{
	const char *q = ps->p + 1;
	size_t len = 0;
	char *out;

	/* The decoded string is never longer than the raw one. */
	while (*q && *q != '"') {
		if (*q == '\\' && q[1])
			q++;
		q++;
	}
	if (*q != '"') {
		fail(ps, "unterminated string");
		return NULL;
	}
	out = malloc((size_t)(q - ps->p) + 1);
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	ps->p++;
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20) {
			fail(ps, "control character in a string");
			free(out);
			return NULL;
		}
		if (c != '\\') {
			out[len++] = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		switch (*ps->p) {
		case '"':
		case '\\':
		case '/':
			out[len++] = *ps->p;
			break;
		case 'b':
			out[len++] = '\b';
			break;
		case 'f':
			out[len++] = '\f';
			break;
		case 'n':
			out[len++] = '\n';
			break;
		case 'r':
			out[len++] = '\r';
			break;
		case 't':
			out[len++] = '\t';
			break;
		case 'u': {
			unsigned cp, lo;

			if (hex4(ps->p + 1, &cp)) {
				fail(ps, "bad \\u escape");
				free(out);
				return NULL;
			}
			ps->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && ps->p[1] == '\\' && ps->p[2] == 'u' &&
			    !hex4(ps->p + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				ps->p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = '?'; /* a lone surrogate */
			}
			/* 6 or 12 raw bytes become at most 4: it fits. */
			len += put_utf8(out + len, cp);
			break;
		}
		default:
			fail(ps, "bad escape '\\%c'", *ps->p ? *ps->p : '0');
			free(out);
			return NULL;
		}
		ps->p++;
	}
	ps->p++;
	out[len] = 0;
	return out;
}

static int parse_value(struct pj_parser *ps, struct pj_value *v, int depth);

/* Grows an array/object by one item; its slot, or NULL. */
static struct pj_value *add_item(struct pj_parser *ps, struct pj_value *v, size_t *cap)
{
	if (v->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct pj_value *ni = realloc(v->items, nc * sizeof(*ni));

		if (!ni) {
			fail(ps, "out of memory");
			return NULL;
		}
		v->items = ni;
		if (v->type == PJ_OBJECT) {
			char **nk = realloc(v->keys, nc * sizeof(*nk));

			if (!nk) {
				fail(ps, "out of memory");
				return NULL;
			}
			v->keys = nk;
		}
		*cap = nc;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	return &v->items[v->n];
}

static int parse_container(struct pj_parser *ps, struct pj_value *v, int depth)
{
	bool obj = *ps->p == '{';
	char close = obj ? '}' : ']';
	size_t cap = 0;

	v->type = obj ? PJ_OBJECT : PJ_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct pj_value *it;
		char *key = NULL;

		skip_ws(ps);
		if (obj) {
			if (*ps->p != '"') {
				fail(ps, "expected a member name");
				return -1;
			}
			key = parse_string(ps);
			if (!key)
				return -1;
			skip_ws(ps);
			if (*ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				return -1;
			}
			ps->p++;
		}
		it = add_item(ps, v, &cap);
		if (!it) {
			free(key);
			return -1;
		}
		if (obj)
			v->keys[v->n] = key;
		v->n++; /* counted at once, so that pj_free frees a half-parsed item */
		if (parse_value(ps, it, depth + 1))
			return -1;
		skip_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return 0;
		}
		fail(ps, "expected ',' or '%c'", close);
		return -1;
	}
}

static int parse_number(struct pj_parser *ps, struct pj_value *v)
{
	const char *q = ps->p;
	char *end;

	/* RFC 8259's grammar, checked before strtod (which accepts more). */
	if (*q == '-')
		q++;
	if (*q == '0')
		q++;
	else if (*q >= '1' && *q <= '9')
		while (*q >= '0' && *q <= '9')
			q++;
	else
		goto bad;
	if (*q == '.') {
		q++;
		if (!(*q >= '0' && *q <= '9'))
			goto bad;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (*q == 'e' || *q == 'E') {
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (!(*q >= '0' && *q <= '9'))
			goto bad;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	errno = 0;
	v->type = PJ_NUMBER;
	v->num = strtod(ps->p, &end);
	if (end != q)
		goto bad;
	ps->p = q;
	return 0;
bad:
	fail(ps, "bad number");
	return -1;
}

static int parse_value(struct pj_parser *ps, struct pj_value *v, int depth)
{
	if (depth > PJ_MAX_DEPTH) {
		fail(ps, "nested deeper than %d", PJ_MAX_DEPTH);
		return -1;
	}
	skip_ws(ps);
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, v, depth);
	case '"':
		v->type = PJ_STRING;
		v->str = parse_string(ps);
		return v->str ? 0 : -1;
	case 't':
		if (!strncmp(ps->p, "true", 4)) {
			v->type = PJ_BOOL;
			v->b = true;
			ps->p += 4;
			return 0;
		}
		break;
	case 'f':
		if (!strncmp(ps->p, "false", 5)) {
			v->type = PJ_BOOL;
			ps->p += 5;
			return 0;
		}
		break;
	case 'n':
		if (!strncmp(ps->p, "null", 4)) {
			v->type = PJ_NULL;
			ps->p += 4;
			return 0;
		}
		break;
	case 0:
		fail(ps, "unexpected end of text");
		return -1;
	default:
		return parse_number(ps, v);
	}
	fail(ps, "unexpected character '%c'", *ps->p);
	return -1;
}

static void free_inner(struct pj_value *v)
{
	size_t i;

	if (!v)
		return;
	free(v->str);
	for (i = 0; i < v->n; i++) {
		free_inner(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
}

void pj_free(struct pj_value *v)
{
	free_inner(v);
	free(v);
}

struct pj_value *pj_parse(const char *text, char *err, size_t errlen)
{
	struct pj_parser ps = {.s = text, .p = text, .err = err, .errlen = errlen};
	struct pj_value *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!parse_value(&ps, v, 0)) {
		skip_ws(&ps);
		if (*ps.p)
			fail(&ps, "text after the value");
	}
	if (ps.failed) {
		pj_free(v);
		return NULL;
	}
	return v;
}

const struct pj_value *pj_get(const struct pj_value *v, const char *key)
{
	size_t i;

	if (!v || v->type != PJ_OBJECT)
		return NULL;
	for (i = 0; i < v->n; i++)
		if (!strcmp(v->keys[i], key))
			return &v->items[i];
	return NULL;
}

const struct pj_value *pj_at(const struct pj_value *v, size_t i)
{
	return v && v->type == PJ_ARRAY && i < v->n ? &v->items[i] : NULL;
}

size_t pj_len(const struct pj_value *v)
{
	return v && v->type == PJ_ARRAY ? v->n : 0;
}

double pj_num(const struct pj_value *v, double dflt)
{
	return v && v->type == PJ_NUMBER ? v->num : dflt;
}

const char *pj_str(const struct pj_value *v, const char *dflt)
{
	return v && v->type == PJ_STRING ? v->str : dflt;
}
