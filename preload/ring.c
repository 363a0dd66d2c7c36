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

#define RING_SLOTS 4096u

static struct pf_event *ring;
static _Atomic uint64_t head; /* next position to claim */
static _Atomic uint64_t tail; /* next position to consume */
static _Atomic uint64_t dropped;
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

struct pf_event *pf_ring_claim(void)
{
	uint64_t pos = atomic_load_explicit(&head, memory_order_relaxed);
	struct pf_event *ev;

	if (unlikely(!ring))
		return NULL;
	do {
		if (pos - atomic_load_explicit(&tail, memory_order_acquire) >= RING_SLOTS) {
			atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
			pf_ring_kick();
			return NULL;
		}
	} while (!atomic_compare_exchange_weak_explicit(&head, &pos, pos + 1, memory_order_acq_rel,
							memory_order_relaxed));
	ev = &ring[pos & (RING_SLOTS - 1)];
	/* Header fields only: strings are written together with their lengths. */
	memset((char *)ev + offsetof(struct pf_event, type), 0,
	       offsetof(struct pf_event, tag) - offsetof(struct pf_event, type));
	ev->tag[0] = ev->module[0] = ev->path[0] = '\0';
	ev->arena = PF_NO_ARENA;
	ev->pos = pos;
	return ev;
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
		if (atomic_compare_exchange_strong(&ev->ready, &want, want | 1))
			return ev;
		/* Cancelled by its producer: skip it. */
		atomic_fetch_add_explicit(&tail, 1, memory_order_release);
	}
}

struct pf_event *pf_ring_peek_nowait(void)
{
	return take(false, UINT64_MAX);
}

struct pf_event *pf_ring_peek(uint64_t limit)
{
	uint64_t h = atomic_load_explicit(&head, memory_order_relaxed);

	/* Never keep more than half the ring waiting: a full ring drops events. */
	if (h > RING_SLOTS / 2 && limit < h - RING_SLOTS / 2)
		limit = h - RING_SLOTS / 2;
	if (limit < atomic_load_explicit(&hurry_to, memory_order_acquire))
		limit = atomic_load_explicit(&hurry_to, memory_order_acquire);
	return take(true, limit);
}

void pf_ring_release(void)
{
	atomic_fetch_add_explicit(&tail, 1, memory_order_release);
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
