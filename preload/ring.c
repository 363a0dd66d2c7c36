// SPDX-License-Identifier: MIT
/*
 * The event ring between hooks (many producers, in application threads,
 * possibly inside signal handlers or under jemalloc's locks) and the sender
 * thread (one consumer). Lock-free: a producer claims a slot with a CAS on
 * the head, fills it and publishes it with a release store; the consumer
 * reads slots in claim order. A full ring drops the event and counts it (the
 * sender then resynchronises the agent from its region table).
 *
 * A slot's state word is (position + 1) << 2 | {0 published, 1 taken by the
 * sender, 2 cancelled}. A thread that unmaps one of its own mappings may
 * cancel that MAP while it is still in the ring (one CAS, see withdraw.c),
 * and then neither event reaches the sender: short-lived mappings cost
 * almost nothing. To give them that chance, the sender leaves events alone
 * until they are one batch old (pf_ring_peek's limit), unless the ring fills
 * up or an urgent event (phase change, flush) asks for everything.
 *
 * Waking the sender costs a futex syscall, so producers only wake it when it
 * sleeps idle (first event after a quiet period), when the ring is half full,
 * or for urgent events.
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pf_internal.h"

#define RING_SLOTS 8192u /* 1 MiB */

static struct pf_event *ring;
static _Atomic uint64_t head; /* next position to claim */
static _Atomic uint64_t tail; /* next position to consume */
static _Atomic uint64_t dropped;
/* Slots of the event the consumer looks at (it alone uses this). */
static unsigned taken_slots;
/* Events before this position are wanted now (urgent events, flushes). */
static _Atomic uint64_t hurry_to;
/* Sender state, also its futex word: 0 awake, 1 batching, 2 idle. */
static _Atomic int sleeping;

int pf_ring_init(void)
{
	void *p = (void *)syscall(SYS_mmap, NULL, RING_SLOTS * sizeof(struct pf_event),
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	ring = p;
	return 0;
}

#define TEXT0 sizeof(((struct pf_event *)0)->text) /* text bytes in the first slot */

/* Where byte `at` of the text of the event at pos lives, and how many follow. */
static char *text_at(uint64_t pos, size_t at, size_t *room)
{
	if (at < TEXT0) {
		*room = TEXT0 - at;
		return ring[pos & (RING_SLOTS - 1)].text + at;
	}
	at -= TEXT0;
	*room = PF_SLOT - at % PF_SLOT;
	return (char *)&ring[(pos + 1 + at / PF_SLOT) & (RING_SLOTS - 1)] + at % PF_SLOT;
}

/* Copies n bytes between buf and the text of the event at pos, from text byte at. */
static size_t copy_text(uint64_t pos, size_t at, char *buf, size_t n, bool to_ring)
{
	while (n) {
		size_t room, c;
		char *t = text_at(pos, at, &room);

		c = n < room ? n : room;
		memcpy(to_ring ? t : buf, to_ring ? buf : t, c);
		buf += c;
		at += c;
		n -= c;
	}
	return at;
}

/* The caller's strings are only read (to_ring). */
static size_t put_text(uint64_t pos, size_t at, const char *s, size_t n)
{
	return copy_text(pos, at, (char *)(uintptr_t)s, n, true);
}

static size_t get_text(uint64_t pos, size_t at, char *d, size_t n)
{
	at = copy_text(pos, at, d, n, false);
	d[n] = '\0';
	return at;
}

struct pf_event *pf_ring_claim(const char *tag, const char *module, const char *path)
{
	uint64_t pos = atomic_load_explicit(&head, memory_order_relaxed);
	size_t tl = tag ? strnlen(tag, PF_TAG_MAX - 1) : 0;
	size_t ml = module ? strnlen(module, PF_MOD_MAX - 1) : 0;
	size_t pl = path ? strnlen(path, PF_PATH_MAX - 1) : 0, text = tl + ml + pl;
	unsigned n = 1 + (unsigned)(text > TEXT0 ? (text - TEXT0 + PF_SLOT - 1) / PF_SLOT : 0);
	struct pf_event *ev;

	if (unlikely(!ring))
		return NULL;
	do {
		if (pos + n - atomic_load_explicit(&tail, memory_order_acquire) > RING_SLOTS) {
			atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
			pf_ring_kick();
			return NULL;
		}
	} while (!atomic_compare_exchange_weak_explicit(&head, &pos, pos + n, memory_order_acq_rel,
							memory_order_relaxed));
	ev = &ring[pos & (RING_SLOTS - 1)];
	/* Header fields only (the state word is the consumer's to read). */
	memset((char *)ev + offsetof(struct pf_event, type), 0,
	       offsetof(struct pf_event, text) - offsetof(struct pf_event, type));
	ev->arena = PF_NO_ARENA;
	ev->pos = pos;
	ev->nslots = (uint8_t)n;
	ev->tag_len = (uint16_t)tl;
	ev->module_len = (uint16_t)ml;
	ev->path_len = (uint16_t)pl;
	put_text(pos, put_text(pos, put_text(pos, 0, tag, tl), module, ml), path, pl);
	return ev;
}

void pf_ring_read(const struct pf_event *ev, struct pf_msg *m)
{
	m->ev = *ev;
	get_text(ev->pos,
		 get_text(ev->pos, get_text(ev->pos, 0, m->tag, ev->tag_len), m->module,
			  ev->module_len),
		 m->path, ev->path_len);
}

static void wake(void)
{
	int saved = errno;

	syscall(SYS_futex, &sleeping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved;
}

void pf_ring_publish(struct pf_event *ev, bool urgent)
{
	uint64_t pos = ev->pos;
	int s;

	atomic_store_explicit(&ev->ready, (pos + 1) << 2, memory_order_seq_cst);
	if (unlikely(urgent)) {
		pf_ring_hurry(pos + 1);
		return;
	}
	s = atomic_load_explicit(&sleeping, memory_order_seq_cst);
	if (likely(!s))
		return;
	if (s == 2 || pos - atomic_load_explicit(&tail, memory_order_relaxed) >= RING_SLOTS / 2) {
		if (atomic_compare_exchange_strong(&sleeping, &s, 0))
			wake();
	}
}

void pf_ring_kick(void)
{
	int s = atomic_load_explicit(&sleeping, memory_order_seq_cst);

	if (s && atomic_compare_exchange_strong(&sleeping, &s, 0))
		wake();
}

void pf_ring_hurry(uint64_t upto)
{
	uint64_t h = atomic_load(&hurry_to);

	while (h < upto && !atomic_compare_exchange_weak(&hurry_to, &h, upto))
		;
	pf_ring_kick();
}

uint64_t pf_ring_hurried(void)
{
	return atomic_load(&hurry_to);
}

bool pf_ring_cancel(uint64_t pos)
{
	struct pf_event *ev = &ring[pos & (RING_SLOTS - 1)];
	uint64_t want = (pos + 1) << 2;

	/* What came before a phase change or a flush is wanted as it was. */
	if (pos < atomic_load(&hurry_to))
		return false;
	return atomic_compare_exchange_strong(&ev->ready, &want, want | 2);
}

/*
 * Takes the slot at the tail if it is published (0) and before limit,
 * skipping cancelled ones; with wait, waits for a producer that is still
 * copying.
 */
static struct pf_event *take(bool wait, uint64_t limit)
{
	for (;;) {
		uint64_t t = atomic_load_explicit(&tail, memory_order_relaxed), want;
		struct pf_event *ev;
		int spins = 0;

		if (t == atomic_load_explicit(&head, memory_order_acquire) || t >= limit)
			return NULL;
		ev = &ring[t & (RING_SLOTS - 1)];
		for (;;) {
			uint64_t r = atomic_load_explicit(&ev->ready, memory_order_acquire);

			if (r >> 2 == t + 1)
				break;
			/* Claimed but not yet published: the producer is mid-copy. */
			if (!wait)
				return NULL;
			if (++spins > 64) {
				struct timespec ts = {0, 50000};

				syscall(SYS_nanosleep, &ts, NULL);
			}
		}
		want = (t + 1) << 2;
		taken_slots = ev->nslots;
		if (atomic_compare_exchange_strong(&ev->ready, &want, want | 1))
			return ev;
		/* Cancelled by its producer: skip it. */
		atomic_fetch_add_explicit(&tail, taken_slots, memory_order_release);
	}
}

struct pf_event *pf_ring_peek_nowait(void)
{
	return take(false, UINT64_MAX);
}

struct pf_event *pf_ring_peek(uint64_t limit)
{
	uint64_t h = atomic_load_explicit(&head, memory_order_relaxed);

	/*
	 * Never keep more than a quarter of the ring waiting: producers wake us
	 * at half full, and after that we leave room for as many again.
	 */
	if (h > RING_SLOTS / 4 && limit < h - RING_SLOTS / 4)
		limit = h - RING_SLOTS / 4;
	if (limit < atomic_load_explicit(&hurry_to, memory_order_acquire))
		limit = atomic_load_explicit(&hurry_to, memory_order_acquire);
	return take(true, limit);
}

void pf_ring_release(void)
{
	atomic_fetch_add_explicit(&tail, taken_slots, memory_order_release);
}

bool pf_ring_empty(void)
{
	return atomic_load(&tail) == atomic_load(&head);
}

uint64_t pf_ring_head(void)
{
	return atomic_load(&head);
}

uint64_t pf_ring_tail(void)
{
	return atomic_load(&tail);
}

uint64_t pf_ring_take_dropped(void)
{
	return atomic_exchange(&dropped, 0);
}

void pf_ring_wait(int mode, long timeout_ms)
{
	struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};

	atomic_store(&sleeping, mode);
	/* Re-check after announcing sleep: a producer may have published just before. */
	if ((mode == 2 && !pf_ring_empty()) || atomic_load(&hurry_to) > atomic_load(&tail)) {
		atomic_store(&sleeping, 0);
		return;
	}
	syscall(SYS_futex, &sleeping, FUTEX_WAIT_PRIVATE, mode, &ts, NULL, 0);
	atomic_store(&sleeping, 0);
}

void pf_ring_reset_child(void)
{
	/*
	 * Called after the child consumed what was published. Threads other
	 * than the forking one are gone: slots they had claimed will never be
	 * published. Drop them; the child replays its table to the agent.
	 */
	uint64_t h = atomic_load(&head), t = atomic_load(&tail);

	if (h != t)
		atomic_fetch_add(&dropped, h - t);
	atomic_store(&tail, h);
	atomic_store(&hurry_to, 0);
	atomic_store(&sleeping, 0);
}
