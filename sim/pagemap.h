/* SPDX-License-Identifier: MIT */
/*
 * A small open-addressing hash map from page numbers to 64-bit values, for
 * the simulator: recorded regions can span terabytes of address space of
 * which only the touched pages cost memory.
 */
#ifndef PAGEFLEX_SIM_PAGEMAP_H
#define PAGEFLEX_SIM_PAGEMAP_H

#include <stdint.h>
#include <stdlib.h>

struct pagemap {
	uint64_t *keys; /* page + 1; 0: empty slot */
	uint64_t *vals;
	size_t cap, n; /* cap: power of two */
};

static inline size_t pagemap_slot(const struct pagemap *m, uint64_t page)
{
	uint64_t h = (page + 1) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 17) & (m->cap - 1);
}

/* The value of page, or NULL. */
static inline uint64_t *pagemap_get(const struct pagemap *m, uint64_t page)
{
	if (!m->cap)
		return NULL;
	for (size_t i = pagemap_slot(m, page);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == page + 1)
			return &m->vals[i];
		if (!m->keys[i])
			return NULL;
	}
}

static inline int pagemap_grow(struct pagemap *m)
{
	struct pagemap nm = {.cap = m->cap ? m->cap * 2 : 1024};

	nm.keys = calloc(nm.cap, sizeof(*nm.keys));
	nm.vals = malloc(nm.cap * sizeof(*nm.vals));
	if (!nm.keys || !nm.vals) {
		free(nm.keys);
		free(nm.vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = pagemap_slot(&nm, m->keys[i] - 1);

		while (nm.keys[j])
			j = (j + 1) & (nm.cap - 1);
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
	}
	nm.n = m->n;
	free(m->keys);
	free(m->vals);
	*m = nm;
	return 0;
}

/* Inserts page with value v (page must be absent); 0 or -1 out of memory. */
static inline int pagemap_put(struct pagemap *m, uint64_t page, uint64_t v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && pagemap_grow(m))
		return -1;
	i = pagemap_slot(m, page);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = page + 1;
	m->vals[i] = v;
	m->n++;
	return 0;
}

static inline void pagemap_free(struct pagemap *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct pagemap){0};
}

#endif
