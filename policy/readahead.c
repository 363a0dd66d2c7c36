// SPDX-License-Identifier: MIT
/*
 * Kernel-like swap readahead (mm/swap_state.c, swap_vma_readahead): the
 * window is 1 page after a non-adjacent fault with no readahead hits, else
 * the power of two above hits + 2, capped at ra_max_pages (1 << page-cluster),
 * and never less than half the previous window. After a fault at prev + 1
 * (prev: the previous fault, prefetch hits included)
 * the window extends forward, after prev - 1 backward, otherwise it is
 * centred on the fault. The "none" prefetch policy lives here too.
 */
#include "policy_impl.h"

struct ra_state {
	uint64_t prev; /* previous faulting page */
	uint32_t win; /* previous window */
	uint32_t hits; /* readahead hits since the previous miss */
	bool seen;
};

static void ra_init(void *state, const struct pf_policy_params *p)
{
	struct ra_state *s = state;

	(void)p;
	*s = (struct ra_state){0};
}

static uint32_t ra_window(const struct ra_state *s, uint64_t page, uint32_t max)
{
	uint32_t pages = s->hits + 2, last = s->win / 2;

	if (pages == 2) {
		if (!s->seen || (page != s->prev + 1 && page != s->prev - 1))
			pages = 1;
	} else {
		uint32_t r = 4;

		while (r < pages)
			r <<= 1;
		pages = r;
	}
	if (pages > max)
		pages = max;
	if (pages < last)
		pages = last;
	return pages;
}

static size_t ra_fault(void *state, const struct pf_policy_params *p, uint64_t page, bool hit,
		       uint64_t *out, size_t max)
{
	struct ra_state *s = state;
	uint32_t win, left;
	uint64_t lo;
	size_t n = 0;

	if (hit) {
		/* Like swap_cache_get_folio(): a hit moves the reference point. */
		s->hits++;
		s->prev = page;
		s->seen = true;
		return 0;
	}
	win = ra_window(s, page, p->ra_max_pages ? p->ra_max_pages : 8);
	if (s->seen && page == s->prev + 1)
		lo = page;
	else if (s->seen && page == s->prev - 1)
		lo = page - win + 1;
	else {
		left = (win - 1) / 2;
		lo = page >= left ? page - left : 0;
	}
	for (uint64_t q = lo; q < lo + win && n < max; q++)
		if (q != page)
			out[n++] = q;
	s->prev = page;
	s->seen = true;
	s->win = win;
	s->hits = 0;
	return n;
}

const struct pf_prefetch_ops pf_prefetch_readahead = {
	.name = "readahead",
	.state_size = sizeof(struct ra_state),
	.init = ra_init,
	.fault = ra_fault,
	.help = "kernel-like swap readahead: a window around the fault, grown by hits",
};

static void none_init(void *state, const struct pf_policy_params *p)
{
	(void)state;
	(void)p;
}

static size_t none_fault(void *state, const struct pf_policy_params *p, uint64_t page, bool hit,
			 uint64_t *out, size_t max)
{
	(void)state;
	(void)p;
	(void)page;
	(void)hit;
	(void)out;
	(void)max;
	return 0;
}

const struct pf_prefetch_ops pf_prefetch_none = {
	.name = "none",
	.state_size = 0,
	.init = none_init,
	.fault = none_fault,
	.help = "no prefetch: every swapped page faults on its own",
};
