// SPDX-License-Identifier: MIT
/*
 * `pageflexctl record PID FILE SECONDS`: writes one managed process's paging
 * as a pageflex-sim trace (trace/trace.h): its regions as they
 * come and go, phases, every fault (first touches are streamed from BPF
 * while recording; a refault is a swap-in when its major fault follows,
 * else a swap-cache hit) and the accessed bits of every scan. Pages are
 * relative to the region's start, times in ns since the recording started.
 * One recording at a time; it ends after SECONDS, on `record --stop`, or
 * when the process goes away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "log.h"
#include "trace.h"

static struct {
	struct pf_trace_writer *w;
	pid_t pid;
	uint64_t t0_ns, end_ms, last_t, events;
	uint8_t seen[PFA_MAX_REGIONS / 8]; /* region ids written to the trace */
	uint64_t pend_page, pend_t; /* a swap fault not yet known as a miss */
	uint32_t pend_region;
	char path[256];
} rec;

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
		rec.seen[ri->id / 8] |= (uint8_t)(1u << (ri->id % 8));
	rec.events++;
}

void pf_record_region_end(struct pf_rinfo *ri)
{
	if (!rec.w || !(rec.seen[ri->id / 8] & (1u << (ri->id % 8))))
		return;
	rec.seen[ri->id / 8] &= (uint8_t) ~(1u << (ri->id % 8));
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

	if (!pc || pc->ri->id != region || !(rec.seen[region / 8] & (1u << (region % 8))))
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

void pf_record_scan(struct pf_proc *p)
{
	uint64_t *bits = NULL, t;
	size_t i;

	if (!pf_record_active(p->pid))
		return;
	t = t_of(mono_ns());
	for (i = 0; i < p->rt.n; i++) {
		struct pf_piece *pc = &p->rt.p[i];
		struct pf_rinfo *ri = pc->ri;
		uint64_t n = (pc->end - pc->start) >> 12, k, slot;

		if (ri->slot_base == PF_NO_SLOT || !(rec.seen[ri->id / 8] & (1u << (ri->id % 8))))
			continue;
		if (n > PF_TRACE_SCAN_MAX_PAGES)
			n = PF_TRACE_SCAN_MAX_PAGES;
		free(bits);
		bits = calloc((n + 63) / 64, sizeof(*bits));
		if (!bits)
			return;
		slot = pf_rinfo_slot(ri, pc->start);
		for (k = 0; k < n; k++)
			if (pf_bpf_scan_nibble(slot + k) & PFA_PG_ACCESSED)
				bits[k / 64] |= 1ull << (k % 64);
		pf_trace_write_scan(rec.w, t, ri->id, (pc->start - ri->start0) >> 12, (uint32_t)n,
				    bits);
		rec.events++;
	}
	free(bits);
}

void pf_record_stop(const char *why)
{
	int rc;

	if (!rec.w)
		return;
	flush_pending();
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

int pf_record_start(struct pf_proc *p, const char *path, uint64_t seconds, char *err, size_t errlen)
{
	size_t i;

	if (rec.w) {
		snprintf(err, errlen, "already recording pid %d to %s", rec.pid, rec.path);
		return -EBUSY;
	}
	memset(&rec, 0, sizeof(rec));
	rec.t0_ns = mono_ns();
	rec.w = pf_trace_create(path, (uint32_t)p->pid, p->exe, rec.t0_ns, err, errlen);
	if (!rec.w)
		return -EIO;
	rec.pid = p->pid;
	rec.end_ms = pf_now_ms() + seconds * 1000;
	snprintf(rec.path, sizeof(rec.path), "%s", path);
	/* The regions it has now, then its phase. */
	for (i = 0; i < p->rt.n; i++) {
		struct pf_rinfo *ri = p->rt.p[i].ri;

		if (!(rec.seen[ri->id / 8] & (1u << (ri->id % 8))))
			pf_record_region(ri);
	}
	if (p->phase[0])
		pf_record_phase(p);
	pf_bpf_stream_first_touch(true);
	pf_info("recording pid %d to %s for %llu s", p->pid, path, (unsigned long long)seconds);
	return 0;
}
