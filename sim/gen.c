// SPDX-License-Identifier: MIT
/*
 * Synthetic workload generators (see gen.h) and the trace-file stream.
 * Deterministic: splitmix64 seeded from the spec.
 */
#include "gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "zipf.h"

enum gen_kind { G_SEQ, G_LOOP, G_STRIDE, G_ZIPF, G_PHASES, G_MIX };

static const char *const kind_names[] = {"seq", "loop", "stride", "zipf", "phases", "mix"};

struct gen {
	enum gen_kind kind;
	uint64_t pages, loops, stride, accesses, seed, phase_len, access_ns;
	double s;
	struct pf_zipf zipf;
	/* iteration */
	uint64_t rng, i, total, nreg, emitted_regions, phase_no, next_phase_at;
	bool phase_pending;
	char name[PF_TRACE_TAG_MAX];
};

static int set_key(struct gen *g, const char *k, const char *v, char *err, size_t errlen)
{
	uint64_t *u = NULL;

	if (!strcmp(k, "s")) {
		char *end;

		errno = 0;
		g->s = strtod(v, &end);
		if (errno || end == v || *end || g->s < 0 || g->s > 10) {
			snprintf(err, errlen, "generator key s: '%s' is not a number in 0..10", v);
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "pages"))
		u = &g->pages;
	else if (!strcmp(k, "loops"))
		u = &g->loops;
	else if (!strcmp(k, "stride"))
		u = &g->stride;
	else if (!strcmp(k, "accesses"))
		u = &g->accesses;
	else if (!strcmp(k, "seed"))
		u = &g->seed;
	else if (!strcmp(k, "phase_len"))
		u = &g->phase_len;
	else if (!strcmp(k, "access_ns"))
		u = &g->access_ns;
	if (!u) {
		snprintf(err, errlen,
			 "unknown generator key '%s' (valid: pages, loops, stride, s, accesses, "
			 "seed, phase_len, access_ns)",
			 k);
		return -1;
	}
	if (pf_parse_u64(v, u)) {
		snprintf(err, errlen, "generator key %s: '%s' is not a non-negative integer", k, v);
		return -1;
	}
	return 0;
}

struct gen *gen_new(const char *spec, char *err, size_t errlen)
{
	struct gen *g = calloc(1, sizeof(*g));
	char buf[512], *save = NULL, *kv, *colon;
	size_t k;

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	for (k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (!strcmp(buf, kind_names[k]))
			break;
	if (k == sizeof(kind_names) / sizeof(kind_names[0])) {
		snprintf(err, errlen,
			 "unknown generator '%s' (valid: seq, loop, stride, zipf, phases, mix)",
			 buf);
		goto fail;
	}
	g->kind = (enum gen_kind)k;
	g->pages = 16384;
	g->loops = 4;
	g->stride = 7;
	g->s = 0.9;
	g->accesses = 0;
	g->seed = 1;
	g->phase_len = 0;
	g->access_ns = 1000;
	for (kv = colon ? strtok_r(colon + 1, ",", &save) : NULL; kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq) {
			snprintf(err, errlen, "generator option '%s' is not key=value", kv);
			goto fail;
		}
		*eq = '\0';
		if (set_key(g, kv, eq + 1, err, errlen))
			goto fail;
	}
	if (!g->pages || g->pages > (1u << 30) || !g->loops || !g->access_ns) {
		snprintf(err, errlen,
			 "generator: pages (1..2^30), loops and access_ns must be > 0");
		goto fail;
	}
	if (!g->accesses)
		g->accesses = g->pages * g->loops;
	if (!g->phase_len)
		g->phase_len = g->pages * 2;
	if (pf_zipf_init(&g->zipf, g->pages, g->s, g->seed)) {
		snprintf(err, errlen, "generator: no Zipf law with s=%g over %llu pages", g->s,
			 (unsigned long long)g->pages);
		goto fail;
	}
	g->nreg = (g->kind == G_PHASES || g->kind == G_MIX) ? 2 : 1;
	switch (g->kind) {
	case G_SEQ:
	case G_LOOP:
	case G_STRIDE:
		g->total = g->pages * g->loops;
		break;
	case G_ZIPF:
	case G_MIX:
		g->total = g->accesses;
		break;
	case G_PHASES:
		g->total = g->phase_len * 2 * g->loops;
		break;
	}
	gen_source(g).rewind(g, err, errlen);
	return g;
fail:
	gen_free(g);
	return NULL;
}

void gen_free(struct gen *g)
{
	if (!g)
		return;
	free(g);
}

static const char *region_tag(const struct gen *g, uint64_t r)
{
	switch (g->kind) {
	case G_PHASES:
		return r ? "query" : "build";
	case G_MIX:
		return r ? "cache" : "index";
	default:
		return kind_names[g->kind];
	}
}

static int gen_next(void *ctx, struct pf_trace_event *ev, char *err, size_t errlen)
{
	struct gen *g = ctx;
	uint64_t i = g->i;

	(void)err;
	(void)errlen;
	memset(ev, 0, sizeof(*ev));
	ev->time_ns = i * g->access_ns;
	if (g->emitted_regions < g->nreg) {
		uint64_t r = g->emitted_regions++;

		ev->type = PF_TR_REGION;
		ev->region = (uint32_t)r;
		ev->kind = PFW_KIND_ANON;
		ev->start = 0x100000000ull * (r + 1);
		ev->npages = g->pages;
		ev->tag = region_tag(g, r);
		ev->symbol = "";
		return 1;
	}
	if (i >= g->total)
		return 0;
	if (g->kind == G_PHASES && i % g->phase_len == 0 && !g->phase_pending) {
		g->phase_pending = true;
		ev->type = PF_TR_PHASE;
		snprintf(g->name, sizeof(g->name), "%s",
			 (i / g->phase_len) % 2 ? "query" : "build");
		ev->name = g->name;
		return 1;
	}
	g->phase_pending = false;
	ev->type = PF_TR_ACCESS;
	switch (g->kind) {
	case G_SEQ:
	case G_LOOP:
		ev->page = i % g->pages;
		break;
	case G_STRIDE:
		ev->page = (i * g->stride) % g->pages;
		break;
	case G_ZIPF:
		ev->page = pf_zipf_next(&g->zipf, &g->rng);
		break;
	case G_PHASES:
		if ((i / g->phase_len) % 2 == 0) {
			ev->region = 0;
			ev->page = i % g->phase_len % g->pages;
		} else {
			ev->region = 1;
			ev->page = pf_zipf_next(&g->zipf, &g->rng);
		}
		break;
	case G_MIX:
		if (i % 2 == 0) {
			ev->region = 0;
			ev->page = (i / 2 * g->stride) % g->pages;
		} else {
			ev->region = 1;
			ev->page = pf_zipf_next(&g->zipf, &g->rng);
		}
		break;
	}
	g->i++;
	return 1;
}

static int gen_rewind(void *ctx, char *err, size_t errlen)
{
	struct gen *g = ctx;

	(void)err;
	(void)errlen;
	g->i = 0;
	g->emitted_regions = 0;
	g->phase_pending = false;
	g->rng = g->seed;
	return 0;
}

struct sim_source gen_source(struct gen *g)
{
	return (struct sim_source){.ctx = g, .next = gen_next, .rewind = gen_rewind};
}

int gen_write(struct gen *g, const char *path, char *err, size_t errlen)
{
	struct pf_trace_writer *w = pf_trace_create(path, 0, "pageflex-sim", 0, err, errlen);
	struct pf_trace_event ev;
	int rc = 0;

	if (!w)
		return -1;
	gen_rewind(g, err, errlen);
	while (!rc && gen_next(g, &ev, err, errlen) == 1) {
		switch (ev.type) {
		case PF_TR_REGION:
			rc = pf_trace_write_region(w, ev.time_ns, ev.region, ev.kind, ev.start,
						   ev.npages, ev.tag, ev.symbol);
			break;
		case PF_TR_PHASE:
			rc = pf_trace_write_phase(w, ev.time_ns, ev.name);
			break;
		default:
			rc = pf_trace_write_access(w, ev.time_ns, ev.region, ev.page);
			break;
		}
	}
	if (pf_trace_finish(w) || rc) {
		snprintf(err, errlen, "%s: write failed: %s", path, strerror(-rc ? -rc : EIO));
		return -1;
	}
	gen_rewind(g, err, errlen);
	return 0;
}

struct file_source {
	char *path;
	struct pf_trace_reader *r;
};

struct file_source *file_source_open(const char *path, char *err, size_t errlen)
{
	struct file_source *f = calloc(1, sizeof(*f));

	if (!f || !(f->path = strdup(path))) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->r = pf_trace_open(path, err, errlen);
	if (!f->r) {
		file_source_close(f);
		return NULL;
	}
	return f;
}

static int file_next(void *ctx, struct pf_trace_event *ev, char *err, size_t errlen)
{
	struct file_source *f = ctx;

	return pf_trace_next(f->r, ev, err, errlen);
}

static int file_rewind(void *ctx, char *err, size_t errlen)
{
	struct file_source *f = ctx;

	pf_trace_close(f->r);
	f->r = pf_trace_open(f->path, err, errlen);
	return f->r ? 0 : -1;
}

struct sim_source file_source(struct file_source *f)
{
	return (struct sim_source){.ctx = f, .next = file_next, .rewind = file_rewind};
}

const struct pf_trace_header *file_source_header(const struct file_source *f)
{
	return pf_trace_header(f->r);
}

void file_source_close(struct file_source *f)
{
	if (!f)
		return;
	pf_trace_close(f->r);
	free(f->path);
	free(f);
}
