// SPDX-License-Identifier: MIT
/* Phase memory: bounded per-(tag, phase) hot sets (see phase_memo.h). */
#include "phase_memo.h"

#include <stdlib.h>
#include <string.h>

struct memo_entry {
	char tag[PF_MEMO_NAME_MAX];
	char phase[PF_MEMO_NAME_MAX];
	uint64_t stamp; /* last record time, for replacement */
	size_t n;
	uint64_t *pages; /* max_pages slots */
	int used;
};

struct pf_phase_memo {
	size_t max_entries, max_pages;
	struct memo_entry *e;
	uint64_t *slab;
};

struct pf_phase_memo *pf_phase_memo_new(size_t max_entries, size_t max_pages)
{
	struct pf_phase_memo *m;

	if (!max_entries || !max_pages || max_pages > SIZE_MAX / sizeof(uint64_t) / max_entries)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->max_entries = max_entries;
	m->max_pages = max_pages;
	m->e = calloc(max_entries, sizeof(*m->e));
	m->slab = calloc(max_entries * max_pages, sizeof(uint64_t));
	if (!m->e || !m->slab) {
		pf_phase_memo_free(m);
		return NULL;
	}
	for (size_t i = 0; i < max_entries; i++)
		m->e[i].pages = m->slab + i * max_pages;
	return m;
}

void pf_phase_memo_free(struct pf_phase_memo *m)
{
	if (!m)
		return;
	free(m->e);
	free(m->slab);
	free(m);
}

static int same(const struct memo_entry *e, const char *tag, const char *phase)
{
	return e->used && !strncmp(e->tag, tag, PF_MEMO_NAME_MAX - 1) &&
	       !strncmp(e->phase, phase, PF_MEMO_NAME_MAX - 1);
}

static struct memo_entry *find(const struct pf_phase_memo *m, const char *tag, const char *phase)
{
	for (size_t i = 0; i < m->max_entries; i++)
		if (same(&m->e[i], tag, phase))
			return &m->e[i];
	return NULL;
}

void pf_phase_memo_record(struct pf_phase_memo *m, const char *tag, const char *phase,
			  const uint64_t *pages, size_t n, uint64_t now)
{
	struct memo_entry *e = find(m, tag, phase);

	if (!e) {
		e = &m->e[0];
		for (size_t i = 0; i < m->max_entries; i++) {
			if (!m->e[i].used) {
				e = &m->e[i];
				break;
			}
			if (m->e[i].stamp < e->stamp)
				e = &m->e[i];
		}
		memset(e->tag, 0, sizeof(e->tag));
		memset(e->phase, 0, sizeof(e->phase));
		strncpy(e->tag, tag, PF_MEMO_NAME_MAX - 1);
		strncpy(e->phase, phase, PF_MEMO_NAME_MAX - 1);
		e->used = 1;
	}
	if (n > m->max_pages)
		n = m->max_pages;
	memcpy(e->pages, pages, n * sizeof(*pages));
	e->n = n;
	e->stamp = now;
}

size_t pf_phase_memo_lookup(const struct pf_phase_memo *m, const char *tag, const char *phase,
			    const uint64_t **pages)
{
	const struct memo_entry *e = find(m, tag, phase);

	*pages = e ? e->pages : NULL;
	return e ? e->n : 0;
}

size_t pf_phase_memo_bytes(const struct pf_phase_memo *m)
{
	return sizeof(*m) + m->max_entries * (sizeof(struct memo_entry) + m->max_pages * 8);
}

size_t pf_phase_memo_entries(const struct pf_phase_memo *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->max_entries; i++)
		n += m->e[i].used != 0;
	return n;
}
