// SPDX-License-Identifier: MIT
/*
 * When a MAP may be withdrawn from the event ring, so that a region unmapped
 * before the sender took its MAP never costs the sender, the socket or the
 * agent anything (neither its MAP nor its UNMAP is sent).
 *
 * Each thread remembers its own recent non-fixed mappings (start, length, the
 * ring position of their MAP, or none for mappings below the region size).
 * A later munmap of exactly such a mapping may withdraw its MAP and send no
 * UNMAP, and an exact munmap of a small one sends nothing at all -- but only
 * if nothing else touched that range in between. What could have touched it
 * is recorded, before the system call, in a global log of "hazards": every
 * munmap that is not exactly one of the calling thread's intact mappings
 * (it may cut a hole that another mapping then fills), every mremap (old
 * and, with MREMAP_FIXED, new range), every MAP_FIXED and every
 * pageflex_tag(). Non-fixed mmaps need no entry: the kernel only gives them
 * free space, which no live mapping overlaps. A mapping counts as intact if
 * no hazard since its mmap overlaps it; if the log has wrapped, or an entry
 * is being written, it does not (never withdraw on doubt).
 *
 * Everything here is lock-free and async-signal-safe: the per-thread table
 * is only used with pf_in_hook set (a signal handler's nested calls do not
 * touch it), and log entries are written seqlock-style.
 */
#include "pf_internal.h"

#define OWN_SETS 16u /* power of two */
#define OWN_WAYS 8u /* replaced first in, first out */
#define HZ_SLOTS 128u /* power of two */

static PF_TLS struct pf_own own[OWN_SETS][OWN_WAYS];
static PF_TLS uint8_t own_next[OWN_SETS];

static struct {
	_Atomic uint64_t seq; /* the entry's sequence number; other values: in flux */
	_Atomic uint64_t start, end;
} hz_log[HZ_SLOTS];
static _Atomic uint64_t hz_seq; /* last sequence number handed out */

static uint64_t page_down(uint64_t a)
{
	return a & ~(PF_PAGE - 1);
}

static uint64_t page_up(uint64_t a)
{
	return (a + PF_PAGE - 1) & ~(PF_PAGE - 1);
}

static unsigned set_of(uint64_t start)
{
	return (unsigned)(((start >> 12) * 0x9E3779B97F4A7C15ull) >> 60) & (OWN_SETS - 1);
}

void pf_hazard(uint64_t start, uint64_t len)
{
	uint64_t s = atomic_fetch_add(&hz_seq, 1) + 1;
	typeof(&hz_log[0]) h = &hz_log[s & (HZ_SLOTS - 1)];

	atomic_store_explicit(&h->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&h->start, page_down(start), memory_order_relaxed);
	atomic_store_explicit(&h->end, page_up(start + len), memory_order_relaxed);
	atomic_store_explicit(&h->seq, s, memory_order_release);
}

uint64_t pf_hazard_now(void)
{
	return atomic_load(&hz_seq);
}

/* True if a hazard after sequence number `since` may overlap [start, end). */
static bool disturbed(uint64_t start, uint64_t end, uint64_t since)
{
	uint64_t now = atomic_load(&hz_seq);

	if (now - since > HZ_SLOTS)
		return true;
	for (uint64_t s = since + 1; s <= now; s++) {
		typeof(&hz_log[0]) h = &hz_log[s & (HZ_SLOTS - 1)];
		uint64_t a, b;

		if (atomic_load_explicit(&h->seq, memory_order_acquire) != s)
			return true;
		a = atomic_load_explicit(&h->start, memory_order_relaxed);
		b = atomic_load_explicit(&h->end, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&h->seq, memory_order_relaxed) != s)
			return true;
		if (a < end && start < b)
			return true;
	}
	return false;
}

void pf_own_add(uint64_t start, uint64_t len, uint64_t pos1, uint64_t hz)
{
	unsigned i = set_of(start), w;
	struct pf_own *set = own[i];

	/* A record for the same start is stale: replace it, else the oldest. */
	for (w = 0; w < OWN_WAYS && set[w].start != start; w++)
		;
	if (w == OWN_WAYS)
		w = own_next[i]++ % OWN_WAYS;
	set[w] = (struct pf_own){start, page_up(len), pos1, hz};
}

void pf_own_forget(uint64_t start)
{
	struct pf_own *set = own[set_of(start)];

	for (unsigned w = 0; w < OWN_WAYS; w++)
		if (set[w].start == start)
			set[w].start = 0;
}

bool pf_own_take(uint64_t start, uint64_t len, struct pf_own *rec)
{
	struct pf_own *set = own[set_of(start)];

	for (unsigned w = 0; w < OWN_WAYS; w++) {
		if (!start || set[w].start != start || set[w].len != page_up(len))
			continue;
		*rec = set[w];
		set[w].start = 0;
		return true;
	}
	return false;
}

bool pf_own_intact(const struct pf_own *rec)
{
	return !disturbed(rec->start, rec->start + rec->len, rec->hz);
}
