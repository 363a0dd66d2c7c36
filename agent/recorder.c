// SPDX-License-Identifier: MIT
/*
 * `pageflexctl record PID FILE SECONDS [--first-touch]`: writes one managed
 * process's paging as a pageflex-sim trace (trace/trace.h, version 3, flag
 * LIVE), enough for a replay to start where the live run stood and to be
 * compared with it:
 *
 *  - REGION / REGION_END as its regions come and go, PHASE as it enters one;
 *  - each scan: a PAGES record per region piece (every page's state as the
 *    policies saw it: swapped, present and accessed, present, or neither;
 *    the pages of a huge page share its accessed bit), then one TICK: the
 *    agent ran its policies on that scan. The recording starts with a scan
 *    (its first PAGES is the residency at the start) and a region's first
 *    scan in it also writes, per piece, a STATE record: its reclaim
 *    policy's per-page states and threshold before that tick (no states
 *    when they had not begun);
 *  - ACTION: what the agent advised (pageout, prefetch, cold) as page
 *    ranges per region, as the kernel accepted them (actuator.h);
 *  - FAULT: every swap-in and swap-cache hit (a refault is a swap-in when
 *    its major fault follows, else a swap-cache hit); first touches only
 *    with --first-touch (flag FIRST_TOUCH), streamed from BPF meanwhile.
 *
 * Pages are relative to the region's start, times in ns since the recording
 * started; the header's clock_ms is the policies' clock (pf_now_ms) then,
 * and a scan's records carry the time the policies were given. One
 * recording at a time; it ends after SECONDS, on `record --stop`, or when
 * the process goes away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actuator.h"
#include "agent.h"
#include "grow.h"
#include "log.h"
#include "trace.h"

_Static_assert(PF_TRACE_CLEAR_SEGS == PF_CLEAR_MAX, "a STATE holds every clear segment");

static struct {
	struct pf_trace_writer *w;
	pid_t pid;
	bool first_touch;
	uint64_t t0_ns, clock_ms, end_ms, last_t, events;
	uint8_t seen[PFA_MAX_REGIONS / 8]; /* region ids written to the trace */
	uint8_t stated[PFA_MAX_REGIONS / 8]; /* ... and scanned (STATE written) */
	uint64_t pend_page, pend_t; /* a swap fault not yet known as a miss */
	uint32_t pend_region;
	char path[256];
} rec;

static bool has(const uint8_t *set, uint32_t id)
{
	return set[id / 8] & (1u << (id % 8));
}

static void put(uint8_t *set, uint32_t id, bool on)
{
	if (on)
		set[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		set[id / 8] &= (uint8_t) ~(1u << (id % 8));
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Trace time of an event at monotonic time ns, never going backwards. */
static uint64_t t_of(uint64_t ns)
{
	uint64_t t = ns > rec.t0_ns ? ns - rec.t0_ns : 0;

	if (t < rec.last_t)
		t = rec.last_t;
	rec.last_t = t;
	return t;
}

bool pf_record_active(pid_t pid)
{
	return rec.w && rec.pid == pid;
}

void pf_record_region(struct pf_rinfo *ri)
{
	char sym[300];

	if (!rec.w)
		return;
	snprintf(sym, sizeof(sym), "%s+0x%llx", ri->module, (unsigned long long)ri->callsite);
	if (!pf_trace_write_region(rec.w, t_of(mono_ns()), ri->id, ri->kind, ri->start0,
				   ri->hull_len >> 12, ri->tag, ri->module[0] ? sym : ""))
		put(rec.seen, ri->id, true);
	put(rec.stated, ri->id, false);
	rec.events++;
}

void pf_record_region_end(struct pf_rinfo *ri)
{
	if (!rec.w || !has(rec.seen, ri->id))
		return;
	put(rec.seen, ri->id, false);
	put(rec.stated, ri->id, false);
	pf_trace_write_region_end(rec.w, t_of(mono_ns()), ri->id);
	rec.events++;
}

void pf_record_phase(struct pf_proc *p)
{
	if (pf_record_active(p->pid)) {
		pf_trace_write_phase(rec.w, t_of(mono_ns()), p->phase);
		rec.events++;
	}
}

static void fault(uint64_t t, uint32_t region, uint64_t page, uint8_t kind)
{
	struct pf_proc *p = pf_proc_find(rec.pid);
	struct pf_piece *pc = p ? pf_rt_find(&p->rt, page << 12) : NULL;

	if (!pc || pc->ri->id != region || !has(rec.seen, region))
		return;
	pf_trace_write_fault(rec.w, t_of(t), region, page - (pc->ri->start0 >> 12), kind);
	rec.events++;
}

static void flush_pending(void)
{
	if (rec.pend_page)
		fault(rec.pend_t, rec.pend_region, rec.pend_page, PF_FAULT_SWAPCACHE);
	rec.pend_page = 0;
}

void pf_record_event(const struct pfa_event *ev)
{
	if (!rec.w || (pid_t)ev->tgid != rec.pid)
		return;
	switch (ev->kind) {
	case PFA_EV_FIRST_TOUCH:
		/* Also streamed for --stream-first-touch: recorded only if asked. */
		if (rec.first_touch)
			fault(ev->ts_ns, ev->region, ev->addr >> 12, PF_FAULT_FIRST_TOUCH);
		break;
	case PFA_EV_SWAP_FAULT:
		flush_pending(); /* no major fault came: it was a swap-cache hit */
		rec.pend_page = ev->addr >> 12;
		rec.pend_t = ev->ts_ns;
		rec.pend_region = ev->region;
		break;
	case PFA_EV_SWAPIN_MAJOR:
		if (rec.pend_page == ev->addr >> 12) {
			fault(rec.pend_t, rec.pend_region, rec.pend_page, PF_FAULT_SWAPIN);
			rec.pend_page = 0;
		}
		break;
	default:
		break;
	}
}

/*
 * A page's scan nibble (PFA_PG_*) as a trace page state. The scanner sets
 * SWAPPED for any non-present PTE that is not empty (a swap entry; also a
 * migration entry or a marker, rare), PRESENT for a present or PROT_NONE
 * PTE and for every page of a huge PMD (HUGE too, the PMD's accessed bit
 * for all of them), nothing for an empty PTE or a chunk it could not read.
 */
static unsigned page_state(unsigned nib)
{
	if (nib & PFA_PG_SWAPPED)
		return PF_PG_SWAPPED;
	if (!(nib & PFA_PG_PRESENT))
		return PF_PG_NONE;
	return nib & PFA_PG_ACCESSED ? PF_PG_ACCESSED : PF_PG_IDLE;
}

/* PAGES of n pages from slot on, page first of region id. */
static void write_pages(uint64_t t, uint32_t id, uint64_t first, uint64_t slot, uint32_t n)
{
	static uint64_t *words;
	static size_t cap;
	size_t nw = ((size_t)n + 31) / 32;
	uint64_t k;

	if (PF_GROW(words, cap, nw, 1024))
		return;
	memset(words, 0, nw * sizeof(*words));
	for (k = 0; k < n; k++)
		words[k / 32] |= (uint64_t)page_state(pf_bpf_scan_nibble(slot + k))
				 << (2 * (k % 32));
	pf_trace_write_pages(rec.w, t, id, first, n, words);
	rec.events++;
}

/*
 * STATE of n pages from slot on: the reclaim policy (none when the agent
 * runs none on it: unbound, or left to the kernel), its parameters, the
 * engine's bookkeeping and clear segmentation, the threshold, and the
 * per-page states the engine keeps in page_state (reclaim_feed.c), if they
 * have begun.
 */
static void write_state(uint64_t t, const struct pf_rinfo *ri, uint64_t first, uint64_t slot,
			uint32_t n)
{
	const struct pf_engine_region *e = &ri->eng;
	struct pf_trace_state x = {
		.region = ri->id,
		.npages = e->ready ? n : 0,
		.first_page = first,
		.blank = e->blank,
		.ready = e->ready,
		.mode = (uint8_t)e->b.threshold.mode,
		.thr_started = e->thr.started,
		.cut_bucket = e->thr.cut_bucket,
		.period_start_ms = e->thr.period_start_ms,
		.thr_refaults = e->thr.refaults,
	};

	struct pf_engine_clears c;

	if (e->bound) {
		x.cold_age_ms = e->b.params.cold_age_ms;
		x.tick_ms = e->b.params.tick_ms;
		x.lfu_decay = e->b.params.lfu_decay;
		x.clock_bits = e->b.params.clock_bits;
		x.clear_every = e->b.params.clear_every;
	}
	pf_engine_clears_get(e, &c);
	x.clear_n = c.clear_n;
	x.ticks = c.ticks;
	x.last_tick_ms = c.last_tick_ms;
	x.seg_known = c.seg_known;
	x.fresh_ok = c.fresh_ok;
	x.all_fresh = c.all_fresh;
	memcpy(x.seg_ws, c.seg_ws, sizeof(x.seg_ws));
	if (pf_engine_active(e))
		snprintf(x.reclaim, sizeof(x.reclaim), "%s", e->b.reclaim->name);
	pf_trace_write_state(rec.w, t, &x, pf_bpf_page_state() + slot);
	rec.events++;
}

void pf_record_scan(struct pf_proc *p, uint64_t now)
{
	uint64_t t;
	bool any = false;
	size_t i;

	if (!pf_record_active(p->pid))
		return;
	/* The time the policies are given (a whole ms: t0 is one too). */
	t = t_of(rec.t0_ns + (now > rec.clock_ms ? now - rec.clock_ms : 0) * 1000000);
	for (i = 0; i < p->rt.n; i++) {
		struct pf_piece *pc = &p->rt.p[i];
		struct pf_rinfo *ri = pc->ri;
		uint64_t n = (pc->end - pc->start) >> 12, first, slot, k, c;

		if (ri->slot_base == PF_NO_SLOT || !has(rec.seen, ri->id))
			continue; /* not scanned, or not in the trace */
		first = (pc->start - ri->start0) >> 12;
		slot = pf_rinfo_slot(ri, pc->start);
		for (k = 0; k < n; k += c) {
			c = n - k < PF_TRACE_SCAN_MAX_PAGES ? n - k : PF_TRACE_SCAN_MAX_PAGES;
			write_pages(t, ri->id, first + k, slot + k, (uint32_t)c);
		}
		any = true;
		if (has(rec.stated, ri->id))
			continue;
		for (k = 0; k < n; k += c) {
			c = n - k < PF_TRACE_SCAN_MAX_PAGES ? n - k : PF_TRACE_SCAN_MAX_PAGES;
			write_state(t, ri, first + k, slot + k, (uint32_t)c);
		}
	}
	/* Each piece of a region scanned for the first time had its STATE. */
	for (i = 0; i < p->rt.n; i++)
		if (p->rt.p[i].ri->slot_base != PF_NO_SLOT && has(rec.seen, p->rt.p[i].ri->id))
			put(rec.stated, p->rt.p[i].ri->id, true);
	if (any) {
		pf_trace_write_tick(rec.w, t);
		rec.events++;
	}
}

struct act_piece {
	uint32_t region;
	uint64_t first, n; /* pages, from the region's start */
};

static int cmp_act_piece(const void *a, const void *b)
{
	const struct act_piece *x = a, *y = b;

	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * The actuator's observer: the ranges advised to the recorded process,
 * cut at its pieces, as one ACTION per region in the trace (pages outside
 * them are left out).
 */
static void on_act(int pid, enum pf_advice a, const struct pf_batch *done)
{
	static struct act_piece *ap;
	static uint64_t *pairs;
	static size_t cap, cap_pairs;
	struct pf_proc *p = pf_proc_find(pid);
	size_t i = 0, j = 0, n = 0, k, m;
	uint8_t kind;
	uint64_t t;

	switch (a) {
	case PF_ADV_PAGEOUT:
		kind = PF_ACT_PAGEOUT;
		break;
	case PF_ADV_WILLNEED:
		kind = PF_ACT_PREFETCH;
		break;
	case PF_ADV_COLD:
		kind = PF_ACT_COLD;
		break;
	default:
		return;
	}
	if (!pf_record_active(pid) || !p || !done->n)
		return;
	t = t_of(mono_ns());
	/* Both sorted by address: pieces never overlap, done is merged. */
	while (i < p->rt.n && j < done->n) {
		const struct pf_piece *pc = &p->rt.p[i];
		const struct pf_range *r = &done->r[j];
		uint64_t lo = pc->start > r->start ? pc->start : r->start;
		uint64_t hi = pc->end < r->start + r->len ? pc->end : r->start + r->len;

		if (lo < hi && has(rec.seen, pc->ri->id)) {
			if (PF_GROW(ap, cap, n + 1, 64))
				return;
			ap[n++] = (struct act_piece){pc->ri->id, (lo - pc->ri->start0) >> 12,
						     (hi - lo) >> 12};
		}
		if (pc->end <= r->start + r->len)
			i++;
		else
			j++;
	}
	qsort(ap, n, sizeof(*ap), cmp_act_piece);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && ap[j].region == ap[i].region; j++)
			;
		if (PF_GROW(pairs, cap_pairs, 2 * (j - i), 128))
			return;
		for (k = i, m = 0; k < j; k++) {
			if (m && pairs[2 * m - 2] + pairs[2 * m - 1] == ap[k].first) {
				pairs[2 * m - 1] += ap[k].n; /* two pieces, one run of pages */
				continue;
			}
			pairs[2 * m] = ap[k].first;
			pairs[2 * m + 1] = ap[k].n;
			m++;
		}
		pf_trace_write_action(rec.w, t, ap[i].region, kind, pairs, m);
		rec.events++;
	}
}

void pf_record_stop(const char *why)
{
	int rc;

	if (!rec.w)
		return;
	flush_pending();
	pf_act_observe(0, NULL);
	if (rec.first_touch)
		pf_bpf_stream_first_touch(false);
	rc = pf_trace_finish(rec.w);
	rec.w = NULL;
	if (rc)
		pf_warn("recording of pid %d to %s failed: %s", rec.pid, rec.path, strerror(-rc));
	else
		pf_info("recording of pid %d to %s done (%s): %llu records", rec.pid, rec.path, why,
			(unsigned long long)rec.events);
}

void pf_record_tick(void)
{
	if (rec.w && (pf_now_ms() >= rec.end_ms || !pf_proc_find(rec.pid)))
		pf_record_stop(pf_proc_find(rec.pid) ? "time is up" : "the process is gone");
}

int pf_record_start(struct pf_proc *p, const char *path, uint64_t seconds, bool first_touch,
		    char *err, size_t errlen)
{
	uint64_t iv = pf_agent_reclaim_interval_ms();
	size_t i;
	int rc;

	if (rec.w) {
		snprintf(err, errlen, "already recording pid %d to %s", rec.pid, rec.path);
		return -EBUSY;
	}
	memset(&rec, 0, sizeof(rec));
	/* Time 0 on a whole ms of the policies' clock: clock_ms + t / 1e6 is their now. */
	rec.t0_ns = mono_ns() / 1000000 * 1000000;
	rec.clock_ms = pf_ms_of_mono_ns(rec.t0_ns);
	rec.w = pf_trace_create(path, (uint32_t)p->pid, p->exe, rec.t0_ns, err, errlen);
	if (!rec.w)
		return -EIO;
	rc = pf_trace_set_info(rec.w, rec.clock_ms, iv > UINT32_MAX ? UINT32_MAX : (uint32_t)iv,
			       PF_TRACE_F_LIVE | (first_touch ? PF_TRACE_F_FIRST_TOUCH : 0));
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		pf_trace_finish(rec.w);
		rec.w = NULL;
		return rc;
	}
	rec.pid = p->pid;
	rec.first_touch = first_touch;
	rec.end_ms = pf_now_ms() + seconds * 1000;
	snprintf(rec.path, sizeof(rec.path), "%s", path);
	/* The regions it has now, then its phase. */
	for (i = 0; i < p->rt.n; i++) {
		struct pf_rinfo *ri = p->rt.p[i].ri;

		if (!has(rec.seen, ri->id))
			pf_record_region(ri);
	}
	if (p->phase[0])
		pf_record_phase(p);
	/* Scan at the next tick: the recording starts with its residency. */
	p->next_scan_ms = 0;
	if (first_touch)
		pf_bpf_stream_first_touch(true);
	pf_act_observe(p->pid, on_act);
	pf_info("recording pid %d to %s for %llu s%s", p->pid, path, (unsigned long long)seconds,
		first_touch ? ", first touches too" : "");
	return 0;
}
