// SPDX-License-Identifier: MIT
/* Per-process region tables, region ids and per-page slots, and the region
 * events sent to the agent's other parts (see regions.h). */
#include "regions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "log.h"
#include "pageflex_agent.h"

#define HUGE_SZ (2ull << 20)

static const struct pf_region_events *subs[PF_REGION_EVENTS_MAX];
static size_t nsubs;

static uint32_t *free_ids; /* stack of free region ids */
static uint32_t nfree_ids;
static uint8_t *chunk_used; /* one byte per slot chunk */
static uint64_t nchunks_total, nchunks_used;

void pf_region_events_subscribe(const struct pf_region_events *ev)
{
	size_t i;

	for (i = 0; i < nsubs; i++)
		if (subs[i] == ev)
			return;
	if (nsubs == PF_REGION_EVENTS_MAX) {
		pf_err("more than %d region event subscribers", PF_REGION_EVENTS_MAX);
		abort();
	}
	subs[nsubs++] = ev;
}

void pf_region_events_unsubscribe(const struct pf_region_events *ev)
{
	size_t i;

	for (i = 0; i < nsubs; i++)
		if (subs[i] == ev) {
			memmove(subs + i, subs + i + 1, (nsubs - i - 1) * sizeof(*subs));
			nsubs--;
			return;
		}
}

static void events_new(uint32_t id)
{
	for (size_t i = 0; i < nsubs; i++)
		if (subs[i]->on_new)
			subs[i]->on_new(id);
}

void pf_region_events_bound(struct pf_rinfo *ri)
{
	for (size_t i = 0; i < nsubs; i++)
		if (subs[i]->on_bind)
			subs[i]->on_bind(ri);
}

static void events_free(struct pf_rinfo *ri)
{
	for (size_t i = nsubs; i-- > 0;)
		if (subs[i]->on_free)
			subs[i]->on_free(ri);
}

int pf_regions_init(uint64_t capacity_pages)
{
	uint32_t i;

	free(free_ids);
	free(chunk_used);
	free_ids = malloc(PFA_MAX_REGIONS * sizeof(*free_ids));
	nchunks_total = capacity_pages / PFA_CHUNK_PAGES;
	chunk_used = calloc(nchunks_total ? nchunks_total : 1, 1);
	if (!free_ids || !chunk_used)
		return -ENOMEM;
	/* Hand out low ids first. */
	for (i = 0; i < PFA_MAX_REGIONS; i++)
		free_ids[i] = PFA_MAX_REGIONS - 1 - i;
	nfree_ids = PFA_MAX_REGIONS;
	nchunks_used = 0;
	return 0;
}

uint64_t pf_slots_capacity(void)
{
	return nchunks_total * PFA_CHUNK_PAGES;
}

uint64_t pf_slots_used(void)
{
	return nchunks_used * PFA_CHUNK_PAGES;
}

uint32_t pf_regions_live(void)
{
	return PFA_MAX_REGIONS - nfree_ids;
}

bool pf_rinfo_slots(struct pf_rinfo *ri)
{
	uint64_t need = ri->nchunks, run = 0, i;

	if (ri->slot_base != PF_NO_SLOT)
		return true;
	/* First fit over the chunk map (retried on every scan: slots come back). */
	for (i = 0; i < nchunks_total && need; i++) {
		run = chunk_used[i] ? 0 : run + 1;
		if (run == need) {
			uint64_t first = i + 1 - need;

			memset(chunk_used + first, 1, need);
			nchunks_used += need;
			ri->slot_base = first * PFA_CHUNK_PAGES;
			return true;
		}
	}
	if (!ri->slots_failed)
		pf_warn("no per-page slots left for region %u (%s, %llu MiB): not scanned until "
			"some are freed; raise --scan-capacity",
			ri->id, ri->tag, (unsigned long long)(ri->nchunks * 2));
	ri->slots_failed = true;
	return false;
}

static void rinfo_put(struct pf_rinfo *ri)
{
	if (--ri->refs)
		return;
	events_free(ri);
	if (ri->slot_base != PF_NO_SLOT) {
		memset(chunk_used + ri->slot_base / PFA_CHUNK_PAGES, 0, ri->nchunks);
		nchunks_used -= ri->nchunks;
	}
	free_ids[nfree_ids++] = ri->id;
	free(ri->eng.pstate);
	free(ri);
}

void pf_copy_name(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[len] = 0;
}

/* Index of the first piece whose end is > addr. */
static size_t lower(const struct pf_rtable *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->p[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int reserve(struct pf_rtable *t, size_t extra)
{
	if (t->n + extra > PFA_PROC_TABLE)
		return -ENOSPC;
	return PF_GROW(t->p, t->cap, t->n + extra, 16);
}

/* Cuts [start, end) out of the table. Needs room for one extra piece. */
static void cut(struct pf_rtable *t, uint64_t start, uint64_t end)
{
	size_t i = lower(t, start);

	while (i < t->n && t->p[i].start < end) {
		struct pf_piece *pc = &t->p[i];

		if (pc->start < start && pc->end > end) {
			/* Split in two around the hole. */
			memmove(pc + 1, pc, (t->n - i) * sizeof(*pc));
			t->n++;
			pc[0].end = start;
			pc[1].start = end;
			pc->ri->refs++;
			t->dirty = true;
			return;
		}
		if (pc->start < start) {
			pc->end = start;
			i++;
		} else if (pc->end > end) {
			pc->start = end;
			i++;
		} else {
			rinfo_put(pc->ri);
			memmove(pc, pc + 1, (t->n - i - 1) * sizeof(*pc));
			t->n--;
		}
		t->dirty = true;
	}
}

struct pf_rinfo *pf_rt_map(struct pf_rtable *t, uint64_t start, uint64_t len, uint8_t kind,
			   uint8_t prot, const char *tag, size_t tag_len, const char *module,
			   size_t module_len, uint64_t callsite, int *err)
{
	uint64_t end = start + len;
	struct pf_rinfo *ri;
	size_t i;
	int rc;

	rc = reserve(t, 2);
	if (rc || !nfree_ids) {
		*err = rc ? rc : -ENOSPC;
		return NULL;
	}
	ri = calloc(1, sizeof(*ri));
	if (!ri) {
		*err = -ENOMEM;
		return NULL;
	}
	cut(t, start, end);
	ri->id = free_ids[--nfree_ids];
	ri->refs = 1;
	ri->kind = kind;
	ri->prot = prot;
	if (tag_len > PFW_MAX_TAG)
		tag_len = PFW_MAX_TAG;
	pf_copy_name(ri->tag, tag, tag_len);
	if (module_len >= sizeof(ri->module))
		module_len = sizeof(ri->module) - 1;
	pf_copy_name(ri->module, module, module_len);
	ri->callsite = callsite;
	ri->hull = start & ~(HUGE_SZ - 1);
	ri->nchunks = (((end + HUGE_SZ - 1) & ~(HUGE_SZ - 1)) - ri->hull) / HUGE_SZ;
	ri->slot_base = PF_NO_SLOT;
	ri->hull_len = len;
	ri->start0 = start;
	events_new(ri->id);

	i = lower(t, start);
	memmove(&t->p[i + 1], &t->p[i], (t->n - i) * sizeof(*t->p));
	t->p[i] = (struct pf_piece){.start = start, .end = end, .ri = ri};
	t->n++;
	t->dirty = true;
	return ri;
}

void pf_rt_unmap(struct pf_rtable *t, uint64_t start, uint64_t len)
{
	if (reserve(t, 1)) {
		/* Table full: a split could not be stored; drop whole overlapping regions. */
		size_t i = lower(t, start);

		while (i < t->n && t->p[i].start < start + len) {
			rinfo_put(t->p[i].ri);
			memmove(&t->p[i], &t->p[i + 1], (t->n - i - 1) * sizeof(*t->p));
			t->n--;
			t->dirty = true;
		}
		return;
	}
	cut(t, start, start + len);
}

void pf_rt_clear(struct pf_rtable *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		rinfo_put(t->p[i].ri);
	free(t->p);
	memset(t, 0, sizeof(*t));
}

bool pf_rt_any(const struct pf_rtable *t, uint64_t start, uint64_t len,
	       bool (*pred)(const struct pf_rinfo *ri))
{
	size_t i;

	for (i = lower(t, start); i < t->n && t->p[i].start < start + len; i++)
		if (pred(t->p[i].ri))
			return true;
	return false;
}

struct pf_piece *pf_rt_find(struct pf_rtable *t, uint64_t addr)
{
	size_t i = lower(t, addr);

	return i < t->n && t->p[i].start <= addr ? &t->p[i] : NULL;
}
