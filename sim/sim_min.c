// SPDX-License-Identifier: MIT
/*
 * Belady MIN for the simulator (see sim.h): a first pass over the events
 * finds each access's next access to the same page, and a max-heap per
 * region on that next access gives the page used farthest in the future,
 * which the memory limit (sim_memory.c) evicts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "grow.h"
#include "sim_impl.h"

/* ---- MIN heap ---- */

int sim_heap_push(struct region *r, uint64_t next, uint64_t page)
{
	size_t i;

	if (PF_GROW(r->heap, r->capheap, r->nheap + 1, 1024))
		return -1;
	i = r->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (r->heap[p].next >= next)
			break;
		r->heap[i] = r->heap[p];
		i = p;
	}
	r->heap[i] = (struct heap_ent){next, page};
	return 0;
}

struct heap_ent sim_heap_pop(struct region *r)
{
	struct heap_ent top = r->heap[0], last = r->heap[--r->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= r->nheap)
			break;
		if (c + 1 < r->nheap && r->heap[c + 1].next > r->heap[c].next)
			c++;
		if (r->heap[c].next <= last.next)
			break;
		r->heap[i] = r->heap[c];
		i = c;
	}
	if (r->nheap)
		r->heap[i] = last;
	return top;
}

/* ---- MIN: first pass ---- */

struct key_last {
	uint32_t id;
	uint64_t npages;
	struct pagemap last; /* page -> index of its last access */
};

static int note_access(struct sim *s, struct key_last *k, size_t nk, uint32_t id, uint64_t page)
{
	uint64_t i = s->nacc++;

	if (PF_GROW(s->next, s->capnext, i + 1, 4096))
		return -1;
	s->next[i] = NO_NEXT;
	for (size_t j = nk; j-- > 0;)
		if (k[j].id == id) {
			if (page < k[j].npages) {
				uint64_t *v = pagemap_get(&k[j].last, page);

				if (v) {
					s->next[*v] = i;
					*v = i;
				} else if (pagemap_put(&k[j].last, page, i)) {
					return -1;
				}
			}
			break;
		}
	return 0;
}

int sim_min_pass(struct sim *s, const struct sim_source *src)
{
	struct key_last *k = NULL;
	size_t nk = 0, capk = 0;
	struct pf_trace_event ev;
	int rc, ret = -1;

	while ((rc = src->next(src->ctx, &ev, s->err, s->errlen)) == 1) {
		if (ev.type == PF_TR_REGION) {
			if (PF_GROW(k, capk, nk + 1, 8))
				goto out;
			k[nk] = (struct key_last){.id = ev.region, .npages = ev.npages};
			nk++;
		} else if (ev.type == PF_TR_ACCESS || ev.type == PF_TR_FAULT) {
			if (note_access(s, k, nk, ev.region, ev.page))
				goto out;
		} else if (ev.type == PF_TR_SCAN) {
			for (uint64_t i = 0; i < ev.npages; i++)
				if (ev.bitmap[i / 64] >> (i % 64) & 1)
					if (note_access(s, k, nk, ev.region, ev.first_page + i))
						goto out;
		}
	}
	if (rc == 0)
		ret = src->rewind(src->ctx, s->err, s->errlen);
out:
	if (ret && rc != -1)
		snprintf(s->err, s->errlen, "out of memory in MIN's first pass");
	for (size_t j = 0; j < nk; j++)
		pagemap_free(&k[j].last);
	free(k);
	return ret;
}
