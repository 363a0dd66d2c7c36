// SPDX-License-Identifier: MIT
/*
 * The agent's engine path (reclaim_feed.h): a region's pieces and the BPF
 * maps' slots, seen as the engine's page runs.
 */
#include "reclaim_feed.h"

#include "pageflex_agent.h"

_Static_assert(PFA_PG_ACCESSED == PF_PAGE_ACCESSED && PFA_PG_PRESENT == PF_PAGE_PRESENT &&
		       PFA_PG_SWAPPED == PF_PAGE_SWAPPED,
	       "the scanner's page bits are the engine's");

struct feed {
	struct pf_rinfo *ri;
	struct pf_piece *const *pcs;
	size_t n;
	pf_page_state *states;
	const uint64_t *words;
	struct pf_batch *out, *cold;
};

static bool feed_run(void *ctx, size_t i, struct pf_page_run *r)
{
	struct feed *f = ctx;
	const struct pf_piece *pc;

	if (i >= f->n)
		return false;
	pc = f->pcs[i];
	r->first = (pc->start - f->ri->start0) >> 12; /* numbered as in traces */
	r->pages = NULL;
	r->n = (pc->end - pc->start) >> 12;
	r->where = pf_rinfo_slot(f->ri, pc->start);
	r->state = f->states + r->where;
	return true;
}

static unsigned feed_bits(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	const struct feed *f = ctx;
	uint64_t slot = r->where + k;

	return (f->words[slot / 16] >> ((slot % 16) * 4)) &
	       (PF_PAGE_ACCESSED | PF_PAGE_PRESENT | PF_PAGE_SWAPPED);
}

static void feed_clear(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	struct feed *f = ctx;

	pf_batch_add(f->cold, f->ri->start0 + ((r->first + k) << 12), 4096);
	f->ri->cooled++;
}

static void feed_victim(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	struct feed *f = ctx;

	pf_batch_add(f->out, f->ri->start0 + ((r->first + k) << 12), 4096);
	f->ri->paged_out++;
}

void pf_agent_reclaim_feed(struct pf_rinfo *ri, struct pf_piece *const *pcs, size_t n,
			   pf_page_state *states, const uint64_t *scan_words, uint64_t refaults,
			   uint64_t now, struct pf_engine_scratch *sc, struct pf_batch *out,
			   struct pf_batch *cold)
{
	struct feed f = {ri, pcs, n, states, scan_words, out, cold};
	const struct pf_engine_io io = {
		.ctx = &f,
		.run = feed_run,
		.bits = feed_bits,
		.clear = feed_clear,
		.victim = feed_victim,
	};

	pf_engine_tick(&ri->eng, &io, sc, refaults, now);
}
