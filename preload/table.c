// SPDX-License-Identifier: MIT
/*
 * The table of live regions of this process, kept by the sender thread so it
 * can replay them to an agent that (re)connects. Only the sender thread (and
 * the fork handlers, while it is held at a safe point) touches it, so it
 * needs no lock of its own. Bounded: a sorted array of non-overlapping
 * ranges and a pool of interned strings, both in lazily touched anonymous
 * memory. When full, new regions are not kept (and counted as lost).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pf_internal.h"

#define TABLE_MAX 32768u
#define POOL_BYTES (512u << 10)
#define INTERN_SLOTS 8192u /* power of two */

static struct pf_region *tab;
static size_t ntab;
static uint64_t lost;

static char *pool;
static size_t pool_len;
static uint32_t *intern; /* slot -> offset in pool (0 = empty) */

static void *map_anon(size_t len)
{
	void *p = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int pf_table_init(void)
{
	tab = map_anon(TABLE_MAX * sizeof(*tab));
	pool = map_anon(POOL_BYTES);
	intern = map_anon(INTERN_SLOTS * sizeof(*intern));
	if (!tab || !pool || !intern)
		return -ENOMEM;
	pool_len = 1; /* offset 0 means "no string" */
	return 0;
}

static uint32_t hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Strings in the pool: a 2-byte length, then the bytes, then NUL. */
uint32_t pf_table_intern(const char *s, size_t len)
{
	uint32_t h;

	if (!len)
		return 0;
	if (len > PFW_MAX_PATH)
		len = PFW_MAX_PATH;
	h = hash(s, len);
	for (uint32_t i = 0; i < INTERN_SLOTS; i++) {
		uint32_t slot = (h + i) & (INTERN_SLOTS - 1), off = intern[slot];
		uint16_t l;

		if (!off) {
			if (pool_len + 3 + len > POOL_BYTES || i > INTERN_SLOTS / 2)
				return 0;
			off = (uint32_t)pool_len;
			l = (uint16_t)len;
			memcpy(pool + off, &l, 2);
			memcpy(pool + off + 2, s, len);
			pool[off + 2 + len] = '\0';
			pool_len += 3 + len;
			intern[slot] = off;
			return off;
		}
		memcpy(&l, pool + off, 2);
		if (l == len && !memcmp(pool + off + 2, s, len))
			return off;
	}
	return 0;
}

const char *pf_table_str(uint32_t id, size_t *len)
{
	uint16_t l;

	if (!id) {
		*len = 0;
		return "";
	}
	memcpy(&l, pool + id, 2);
	*len = l;
	return pool + id + 2;
}

/* Index of the first region whose end is above addr. */
static size_t first_above(uint64_t addr)
{
	size_t lo = 0, hi = ntab;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (tab[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool insert_at(size_t i, const struct pf_region *r)
{
	if (ntab == TABLE_MAX) {
		lost++;
		return false;
	}
	memmove(&tab[i + 1], &tab[i], (ntab - i) * sizeof(*tab));
	tab[i] = *r;
	ntab++;
	return true;
}

void pf_table_unmap(uint64_t start, uint64_t end)
{
	size_t i = first_above(start);

	while (i < ntab && tab[i].start < end) {
		struct pf_region *r = &tab[i];

		if (r->start < start && r->end > end) {
			/* Hole in the middle: split in two. */
			struct pf_region right = *r;

			right.start = end;
			r->end = start;
			insert_at(i + 1, &right);
			return;
		}
		if (r->start < start) {
			r->end = start;
			i++;
		} else if (r->end > end) {
			r->start = end;
			return;
		} else {
			memmove(&tab[i], &tab[i + 1], (ntab - i - 1) * sizeof(*tab));
			ntab--;
		}
	}
}

void pf_table_map(const struct pf_msg *m)
{
	const struct pf_event *ev = &m->ev;
	struct pf_region r = {
		.start = ev->start,
		.end = ev->start + ev->len,
		.off = ev->off,
		.tag = pf_table_intern(m->tag, ev->tag_len),
		.module = pf_table_intern(m->module, ev->module_len),
		.path = pf_table_intern(m->path, ev->path_len),
		.arena = ev->arena,
		.kind = ev->kind,
		.prot = ev->prot,
	};

	pf_table_unmap(r.start, r.end);
	insert_at(first_above(r.start), &r);
}

unsigned pf_table_overlaps(uint64_t start, uint64_t end,
			   void (*fn)(uint64_t s, uint64_t e, void *arg), void *arg)
{
	unsigned n = 0;

	for (size_t i = first_above(start); i < ntab && tab[i].start < end; i++, n++)
		if (fn)
			fn(tab[i].start > start ? tab[i].start : start,
			   tab[i].end < end ? tab[i].end : end, arg);
	return n;
}

const struct pf_region *pf_table_find(uint64_t addr)
{
	size_t i = first_above(addr);

	return i < ntab && tab[i].start <= addr ? &tab[i] : NULL;
}

size_t pf_table_count(void)
{
	return ntab;
}

const struct pf_region *pf_table_at(size_t i)
{
	return i < ntab ? &tab[i] : NULL;
}

void pf_table_retag(unsigned arena, const struct pf_msg *m,
		    void (*fn)(const struct pf_region *r, void *arg), void *arg)
{
	const struct pf_event *ev = &m->ev;
	uint32_t tag = pf_table_intern(m->tag, ev->tag_len);
	uint32_t mod = pf_table_intern(m->module, ev->module_len);

	for (size_t i = 0; i < ntab; i++) {
		if (tab[i].arena != arena)
			continue;
		tab[i].tag = tag;
		tab[i].module = mod;
		tab[i].off = ev->off;
		if (fn)
			fn(&tab[i], arg);
	}
}

uint64_t pf_table_take_lost(void)
{
	uint64_t n = lost;

	lost = 0;
	return n;
}
