// SPDX-License-Identifier: MIT
/*
 * Folds a fault record and the next scan's accessed bit of the same page
 * into one access (see fold.h). Per region, a map page -> scan epoch of its
 * last fault; a SCAN record clears the bits of pages whose last fault is in
 * the current epoch, then starts the next one.
 */
#include "fold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "pagemap.h"

struct fold_region {
	uint32_t id;
	uint64_t epoch;
	struct pagemap faulted; /* page -> epoch of its last fault */
};

struct sim_fold {
	const struct sim_source *in;
	struct fold_region *r;
	size_t nr, capr;
	uint64_t *bits;
	size_t capbits; /* words */
	uint64_t cleared;
};

static struct fold_region *region(struct sim_fold *f, uint32_t id, bool create)
{
	for (size_t i = 0; i < f->nr; i++)
		if (f->r[i].id == id)
			return &f->r[i];
	if (!create)
		return NULL;
	if (PF_GROW(f->r, f->capr, f->nr + 1, 8))
		return NULL;
	f->r[f->nr] = (struct fold_region){.id = id, .epoch = 1};
	return &f->r[f->nr++];
}

static void reset(struct sim_fold *f)
{
	for (size_t i = 0; i < f->nr; i++)
		pagemap_free(&f->r[i].faulted);
	f->nr = 0;
	f->cleared = 0;
}

static int fold_next(void *ctx, struct pf_trace_event *ev, char *err, size_t errlen)
{
	struct sim_fold *f = ctx;
	struct fold_region *r;
	int rc = f->in->next(f->in->ctx, ev, err, errlen);
	uint64_t *v;

	if (rc != 1)
		return rc;
	switch (ev->type) {
	case PF_TR_REGION:
		/* A region id may be reused after REGION_END: start afresh. */
		r = region(f, ev->region, false);
		if (r) {
			pagemap_free(&r->faulted);
			r->epoch = 1;
		}
		return 1;
	case PF_TR_FAULT:
		r = region(f, ev->region, true);
		if (!r)
			goto oom;
		v = pagemap_get(&r->faulted, ev->page);
		if (v)
			*v = r->epoch;
		else if (pagemap_put(&r->faulted, ev->page, r->epoch))
			goto oom;
		return 1;
	case PF_TR_SCAN:
	case PF_TR_PAGES: {
		size_t words = (ev->npages + 63) / 64;

		r = region(f, ev->region, false);
		if (!r || !r->faulted.n)
			return 1;
		if (PF_GROW(f->bits, f->capbits, words, 64))
			goto oom;
		memcpy(f->bits, ev->bitmap, words * sizeof(*f->bits));
		for (uint64_t i = 0; i < ev->npages; i++) {
			if (!(f->bits[i / 64] >> (i % 64) & 1))
				continue;
			v = pagemap_get(&r->faulted, ev->first_page + i);
			if (v && *v == r->epoch) {
				f->bits[i / 64] &= ~(1ull << (i % 64));
				f->cleared++;
			}
		}
		r->epoch++;
		ev->bitmap = f->bits;
		return 1;
	}
	default:
		return 1;
	}
oom:
	snprintf(err, errlen, "out of memory folding faults into scans");
	return -1;
}

static int fold_rewind(void *ctx, char *err, size_t errlen)
{
	struct sim_fold *f = ctx;

	reset(f);
	return f->in->rewind(f->in->ctx, err, errlen);
}

struct sim_fold *sim_fold_new(const struct sim_source *in)
{
	struct sim_fold *f = calloc(1, sizeof(*f));

	if (f)
		f->in = in;
	return f;
}

struct sim_source sim_fold_source(struct sim_fold *f)
{
	return (struct sim_source){.ctx = f, .next = fold_next, .rewind = fold_rewind};
}

void sim_fold_free(struct sim_fold *f)
{
	if (!f)
		return;
	reset(f);
	free(f->r);
	free(f->bits);
	free(f);
}

uint64_t sim_fold_cleared(const struct sim_fold *f)
{
	return f->cleared;
}
