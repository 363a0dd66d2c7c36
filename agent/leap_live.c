// SPDX-License-Identifier: MIT
/*
 * Leap on the fault path (see leap_live.h). The agent's side is slot
 * bookkeeping and the WILLNEED: per region bound to Leap, one Leap slot of
 * the fault-path program (pf_leap, leap_bpf.c) over the region's range at
 * creation; per decision (addr + k * stride, k < count), the pages that
 * still lie in one of that region's pieces, batched per process into one
 * process_madvise. Regions leave the program when they are rebound,
 * unbound or freed; the program is attached only while some region is on
 * it, so that no fault of any process pays for Leap otherwise.
 */
#include "leap_live.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "agent.h"
#include "leap_bpf.h"
#include "leap_core.h"
#include "log.h"

static struct pf_leap_bpf *lb;
static struct pf_watch watch;
/* Per region id: its tgid while it is on the fault path, else 0. */
static uint32_t on_path[PFA_MAX_REGIONS];
/* Regions on the fault path: pf_leap is attached only while there are any. */
static uint32_t n_on_path;

/* The batch being filled, and whose it is. */
static struct pf_batch batch;
static struct pf_proc *batch_proc;

static void on_free(struct pf_rinfo *ri)
{
	pf_leap_live_unbind(ri);
}

static const struct pf_region_events region_events = {.on_free = on_free};

static void ready(struct pf_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	pf_leap_live_poll();
}

int pf_leap_live_open(void)
{
	const char *mode = getenv("PAGEFLEXD_LEAP");
	struct pf_feature *f = pf_bpf_feature(PF_FEAT_LEAP);
	int err;

	if (mode && !strcmp(mode, "user") && pf_feature_on(f)) {
		f->state = PF_FEAT_OFF;
		snprintf(f->why, sizeof(f->why), "turned off by the user (PAGEFLEXD_LEAP=user)");
	}
	if (pf_feature_on(f) && !pf_bpf_dmap_ok())
		pf_feature_fail(f, -ENOTSUP, "page tables cannot be read: %s", pf_bpf_dmap_error());
	err = pf_feature_on(f) ? pf_leap_bpf_open(&lb, f) : -ENOTSUP;
	if (err) {
		lb = NULL;
		pf_features_log(f, 1);
		return err;
	}
	pf_leap_bpf_set_wake(lb, true);
	watch = (struct pf_watch){.fd = pf_leap_bpf_fd(lb), .ready = ready};
	err = watch.fd < 0 ? -EBADF : pf_loop_add(&watch);
	if (err) {
		pf_feature_fail(f, err, "cannot poll its decisions: %s", strerror(-err));
		pf_features_log(f, 1);
		pf_leap_bpf_close(lb);
		lb = NULL;
		return err;
	}
	pf_region_events_subscribe(&region_events);
	/* Attached once (the kernel accepts it), then off until a region needs it. */
	pf_leap_bpf_attach(lb, false);
	n_on_path = 0;
	pf_info("Leap runs on the fault path (pf_leap, %d regions at most)", LEAP_BPF_MAX_REGIONS);
	pf_features_log(f, 1); /* a fallback variant says so */
	return 0;
}

void pf_leap_live_close(void)
{
	struct pf_leap_bpf_stats st;

	if (!lb)
		return;
	pf_leap_live_poll();
	pf_leap_bpf_stats(lb, &st);
	pf_info("Leap on the fault path: %llu swap faults, %llu decisions, %llu window hits, "
		"%llu other faults skipped, %llu decisions dropped",
		(unsigned long long)st.faults, (unsigned long long)st.decisions,
		(unsigned long long)st.window_hits, (unsigned long long)st.skipped,
		(unsigned long long)st.dropped);
	pf_loop_del(&watch);
	pf_leap_bpf_close(lb);
	lb = NULL;
	pf_batch_free(&batch);
	pf_region_events_unsubscribe(&region_events);
}

/* The process whose region table holds ri, or NULL. */
static struct pf_proc *owner(const struct pf_rinfo *ri)
{
	for (size_t i = 0; i < pf_proc_count(); i++) {
		struct pf_proc *p = pf_proc_at(i);

		for (size_t j = 0; j < p->rt.n; j++)
			if (p->rt.p[j].ri == ri)
				return p;
	}
	return NULL;
}

bool pf_leap_live_bind(struct pf_rinfo *ri)
{
	static long long last;
	struct pf_proc *p;
	uint32_t max_pw = ri->eng.b.params.leap_max_pages;
	int err;

	if (!lb || !ri->eng.bound || !ri->eng.b.prefetch ||
	    strcmp(ri->eng.b.prefetch->name, "leap"))
		return false;
	pf_leap_live_unbind(ri);
	p = owner(ri);
	if (!p)
		return false;
	err = pf_leap_bpf_add(lb, (uint32_t)p->pid, ri->id, ri->start0, ri->start0 + ri->hull_len,
			      max_pw ? max_pw : 1);
	if (!err && !n_on_path && (err = pf_leap_bpf_attach(lb, true)))
		pf_leap_bpf_remove(lb, ri->id);
	if (err) {
		pf_log_limited(&last, PF_LOG_WARN,
			       "pid %d: region %u: Leap in user space: fault path %s", p->pid,
			       ri->id, err == -ENOSPC ? "full" : strerror(-err));
		return false;
	}
	on_path[ri->id] = (uint32_t)p->pid;
	n_on_path++;
	pf_dbg("pid %d: region %u (%s): Leap on the fault path", p->pid, ri->id, ri->tag);
	return true;
}

void pf_leap_live_unbind(struct pf_rinfo *ri)
{
	if (!lb || !on_path[ri->id])
		return;
	on_path[ri->id] = 0;
	pf_leap_bpf_remove(lb, ri->id);
	if (n_on_path && !--n_on_path)
		pf_leap_bpf_attach(lb, false); /* no Leap region left: off the fault path */
}

static void flush(void)
{
	uint64_t bytes;

	if (batch_proc && batch.n) {
		bytes = pf_act(batch_proc->pidfd, batch_proc->pid, PF_ADV_WILLNEED, &batch);
		pf_agent_prefetch_calls++;
		pf_agent_prefetch_pages += bytes >> 12;
	}
	pf_batch_reset(&batch);
	batch_proc = NULL;
}

static void on_decision(void *arg, uint32_t tgid, uint32_t region_id, uint64_t addr,
			int64_t stride_bytes, uint32_t count)
{
	struct pf_proc *p;

	(void)arg;
	if (region_id >= PFA_MAX_REGIONS || on_path[region_id] != tgid)
		return; /* the region left the fault path since */
	if (!batch_proc || batch_proc->pid != (pid_t)tgid) {
		flush();
		p = pf_proc_find((pid_t)tgid);
		if (!p)
			return;
		batch_proc = p;
	}
	for (uint32_t k = 0; k < count; k++) {
		uint64_t a = addr + (uint64_t)((int64_t)k * stride_bytes);
		struct pf_piece *pc = pf_rt_find(&batch_proc->rt, a);

		/* Only pages of that region: never advise memory outside it. */
		if (!pc || pc->ri->id != region_id)
			continue;
		pf_batch_add(&batch, a & ~4095ull, 4096);
		pc->ri->prefetched++;
	}
}

void pf_leap_live_poll(void)
{
	if (!lb)
		return;
	pf_leap_bpf_poll(lb, on_decision, NULL);
	flush();
}

void pf_leap_live_json(FILE *f)
{
	struct pf_leap_bpf_stats st;

	if (!lb)
		return;
	pf_leap_bpf_stats(lb, &st);
	fprintf(f,
		",\"leap_bpf\":{\"swap_faults\":%llu,\"decisions\":%llu,\"window_hits\":%llu,"
		"\"skipped\":%llu,\"dropped\":%llu,\"regions\":%u,\"attached\":%s}",
		(unsigned long long)st.faults, (unsigned long long)st.decisions,
		(unsigned long long)st.window_hits, (unsigned long long)st.skipped,
		(unsigned long long)st.dropped, st.regions, n_on_path ? "true" : "false");
}
