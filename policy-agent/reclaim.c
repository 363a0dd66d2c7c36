// SPDX-License-Identifier: MIT
/*
 * The reclaim loop: every scan interval, each managed process is scanned;
 * for regions bound to a policy the per-page state (a BPF array, 4 bytes a
 * page) is updated from the accessed bit through the policy's scan(), and
 * resident pages that the policy calls victims are paged out in one batch.
 * Pages seen accessed get MADV_COLD, which clears their accessed bits for
 * the next scan. The policy is one call per page (pf_reclaim_ops), the same
 * code the simulator runs.
 */
#include <errno.h>
#include <string.h>

#include "actuator.h"
#include "agent.h"
#include "binding.h"
#include "log.h"
#include "scanner.h"

uint64_t pf_reclaim_pages_out, pf_reclaim_pages_cooled;

static struct pf_batch out_b, cold_b;

uint64_t pf_reclaim_interval_ms(void)
{
	uint64_t t;

	if (pf_opts.scan_interval_ms)
		return pf_opts.scan_interval_ms;
	t = pf_binding_min_cold_age_ms();
	if (!t)
		return 2000; /* observe only: keep the status fresh */
	t /= 4;
	return t < 50 ? 50 : t > 10000 ? 10000 : t;
}

static bool active(const struct pf_rinfo *ri)
{
	return ri->bind && !(ri->bind->ops->flags & PF_RECLAIM_PASSIVE) &&
	       ri->slot_base != PF_NO_SLOT;
}

static void init_state(struct pf_rinfo *ri, uint64_t now)
{
	const struct pf_binding *b = ri->bind;
	uint32_t *st = pf_bpf_page_state() + ri->slot_base, s = b->ops->init(&b->params, now);
	uint64_t i, n = ri->nchunks * PFA_CHUNK_PAGES;

	for (i = 0; i < n; i++)
		st[i] = s;
	ri->state_ready = true;
}

static void policy_piece(struct pf_piece *pc, uint64_t now)
{
	struct pf_rinfo *ri = pc->ri;
	const struct pf_binding *b = ri->bind;
	const struct pf_reclaim_ops *ops = b->ops;
	uint32_t *st = pf_bpf_page_state();
	uint64_t a, slot = pf_rinfo_slot(ri, pc->start);

	if (!ri->state_ready)
		init_state(ri, now);
	for (a = pc->start; a < pc->end; a += 4096, slot++) {
		unsigned nib = pf_bpf_scan_nibble(slot);
		struct pf_scan_page pg = {
			.accessed = nib & PFA_PG_ACCESSED,
			.present = nib & PFA_PG_PRESENT,
			.swapped = nib & PFA_PG_SWAPPED,
		};

		st[slot] = ops->scan(&b->params, st[slot], &pg, now);
		if (pg.accessed) {
			pf_batch_add(&cold_b, a, 4096);
			ri->cooled++;
		} else if (pg.present && ops->victim && ops->victim(&b->params, st[slot], now)) {
			pf_batch_add(&out_b, a, 4096);
			ri->paged_out++;
		}
	}
}

static void reclaim_proc(struct pf_proc *p, uint64_t now)
{
	static long long last;
	uint64_t bytes;
	size_t i;
	int rc;

	rc = pf_scan_proc(p->pid, &p->rt);
	if (rc) {
		pf_log_limited(&last, PF_LOG_WARN, "scan of pid %d failed: %s", p->pid,
			       rc == -EOPNOTSUPP ? pf_bpf_dmap_error() : strerror(-rc));
		return;
	}
	pf_batch_reset(&out_b);
	pf_batch_reset(&cold_b);
	for (i = 0; i < p->rt.n; i++)
		if (active(p->rt.p[i].ri))
			policy_piece(&p->rt.p[i], now);
	if (out_b.n) {
		bytes = pf_act(p->pidfd, p->pid, PF_ADV_PAGEOUT, &out_b);
		pf_reclaim_pages_out += bytes >> 12;
		pf_dbg("pid %d: paged out %llu KiB", p->pid, (unsigned long long)bytes >> 10);
	}
	if (cold_b.n)
		pf_reclaim_pages_cooled += pf_act(p->pidfd, p->pid, PF_ADV_COLD, &cold_b) >> 12;
}

void pf_reclaim_tick(void)
{
	uint64_t now = pf_now_ms(), iv = pf_reclaim_interval_ms();
	size_t i;

	for (i = 0; i < pf_proc_count(); i++) {
		struct pf_proc *p = pf_proc_at(i);

		if (now < p->next_scan_ms)
			continue;
		p->next_scan_ms = now + iv;
		reclaim_proc(p, now);
	}
}

void pf_reclaim_discard(struct pf_rtable *t, uint64_t start, uint64_t len)
{
	uint64_t end = start + len, now = pf_now_ms();
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct pf_piece *pc = &t->p[i];
		struct pf_rinfo *ri = pc->ri;
		uint64_t a, lo = pc->start > start ? pc->start : start;
		uint64_t hi = pc->end < end ? pc->end : end;
		uint32_t s;

		if (lo >= hi || !ri->state_ready || !ri->bind)
			continue;
		s = ri->bind->ops->init(&ri->bind->params, now);
		for (a = lo; a < hi; a += 4096)
			pf_bpf_page_state()[pf_rinfo_slot(ri, a)] = s;
	}
}
