/* SPDX-License-Identifier: MIT */
/*
 * A tiny in-memory event stream for tests: one region of npages, then one
 * access per millisecond to each page of a reference string.
 */
#ifndef PAGEFLEX_TEST_SEQSRC_H
#define PAGEFLEX_TEST_SEQSRC_H

#include <string.h>

#include "sim.h"

struct seqsrc {
	const uint64_t *refs;
	size_t n, i;
	uint64_t npages;
	bool region_done;
};

static int seqsrc_next(void *ctx, struct pf_trace_event *ev, char *err, size_t errlen)
{
	struct seqsrc *q = ctx;

	(void)err;
	(void)errlen;
	memset(ev, 0, sizeof(*ev));
	if (!q->region_done) {
		q->region_done = true;
		ev->type = PF_TR_REGION;
		ev->npages = q->npages;
		ev->kind = PFW_KIND_ANON;
		ev->tag = "t";
		ev->symbol = "";
		return 1;
	}
	if (q->i >= q->n)
		return 0;
	ev->type = PF_TR_ACCESS;
	ev->time_ns = (q->i + 1) * 1000000ull;
	ev->page = q->refs[q->i++];
	return 1;
}

static int seqsrc_rewind(void *ctx, char *err, size_t errlen)
{
	struct seqsrc *q = ctx;

	(void)err;
	(void)errlen;
	q->i = 0;
	q->region_done = false;
	return 0;
}

/* Faults (first touch + refaults) of refs under a budget of frames pages,
 * evicting one page at a time, scanning every millisecond. */
static inline uint64_t seq_faults(const char *reclaim, bool min, const uint64_t *refs, size_t n,
				  uint64_t frames)
{
	struct seqsrc q = {.refs = refs, .n = n, .npages = 64};
	struct sim_source src = {.ctx = &q, .next = seqsrc_next, .rewind = seqsrc_rewind};
	struct sim_cfg cfg = {.scan_ms = 1, .batch = 1, .min = min};
	struct sim_result res;
	char err[256];
	uint64_t f;

	pf_policy_params_default(&cfg.def.params);
	cfg.def.params.tick_ms = 1;
	pf_threshold_cfg_default(&cfg.def.threshold);
	cfg.def.threshold.budget_pages = frames;
	cfg.def.reclaim = pf_reclaim_find(reclaim);
	cfg.def.prefetch = pf_prefetch_find("none");
	if (sim_run(&cfg, &src, &res, err, sizeof(err)))
		return UINT64_MAX;
	f = res.total.first_touch + res.total.swapins;
	sim_result_free(&res);
	return f;
}

#endif
