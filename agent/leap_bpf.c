// SPDX-License-Identifier: MIT
/*
 * The agent's handle on Leap in BPF (see leap_bpf.h): slot bookkeeping for
 * the program's leap_regions/leap_states arrays and the per-region-id
 * leap_slot index, and the consumer of its leap_events ring buffer.
 */
#include "leap_bpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_features.h"
#include "bpfview.h"
#include "leap_core.h"
#include "pageflex_agent.skel.h"

struct pf_leap_bpf {
	struct pageflex_agent_bpf *skel; /* the agent's object (bpf_load.c owns it) */
	struct bpf_program *prog; /* the loaded fault-path variant */
	struct bpf_link *link;
	struct ring_buffer *rb;
	struct leap_region slot[LEAP_BPF_MAX_REGIONS]; /* mirror of leap_regions */
	uint32_t n;
	pf_leap_fn fn;
	void *arg;
	int polled;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct pf_leap_bpf *lb = ctx;
	const struct leap_event *e = data;

	if (len < sizeof(*e) || !lb->fn)
		return 0;
	lb->fn(lb->arg, e->tgid, e->region_id, e->addr, e->stride_bytes, e->count);
	lb->polled++;
	return 0;
}

int pf_leap_bpf_open(struct pf_leap_bpf **out, struct pf_feature *f)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();
	struct pf_leap_bpf *lb;
	int err;

	if (!f)
		f = pf_bpf_feature(PF_FEAT_LEAP);
	if (!skel || !pf_feature_on(f))
		return -ENOTSUP;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->skel = skel;
	lb->prog = pf_bpf_prog(skel->obj, f->progs[f->variant][0]);
	if (!lb->prog) {
		err = -ENOENT;
		goto fail;
	}
	memset(skel->bss->leap_slot, 0, sizeof(skel->bss->leap_slot));
	lb->rb = ring_buffer__new(bpf_map__fd(skel->maps.leap_events), on_event, lb, NULL);
	if (!lb->rb) {
		err = -errno;
		goto fail;
	}
	lb->link = bpf_program__attach(lb->prog);
	if (!lb->link) {
		err = -errno;
		pf_feature_fail(f, err, "cannot attach tp_btf/page_fault_user: %s", strerror(-err));
		goto fail;
	}
	*out = lb;
	return 0;
fail:
	pf_leap_bpf_close(lb);
	return err ? err : -EINVAL;
}

void pf_leap_bpf_close(struct pf_leap_bpf *lb)
{
	if (!lb)
		return;
	bpf_link__destroy(lb->link);
	ring_buffer__free(lb->rb);
	memset(lb->skel->bss->leap_slot, 0, sizeof(lb->skel->bss->leap_slot));
	free(lb);
}

/* Writes slot i (region and a fresh or given state) to the maps, then points
 * its region id at it: the fault path sees the slot only once it is whole. */
static int put_slot(struct pf_leap_bpf *lb, uint32_t i, const struct leap_state *st)
{
	struct leap_state fresh;

	if (!st) {
		leap_init(&fresh);
		st = &fresh;
	}
	if (bpf_map_update_elem(bpf_map__fd(lb->skel->maps.leap_states), &i, st, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(lb->skel->maps.leap_regions), &i, &lb->slot[i],
				BPF_ANY))
		return -errno;
	__atomic_store_n(&lb->skel->bss->leap_slot[lb->slot[i].id], (uint8_t)(i + 1),
			 __ATOMIC_RELEASE);
	return 0;
}

static int find(const struct pf_leap_bpf *lb, uint32_t region_id)
{
	for (uint32_t i = 0; i < lb->n; i++)
		if (lb->slot[i].id == region_id)
			return (int)i;
	return -1;
}

int pf_leap_bpf_add(struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id, uint64_t start,
		    uint64_t end, uint32_t max_pw)
{
	uint32_t i = lb->n;
	int err;

	if (start >= end || (start | end) & 4095 || !max_pw || region_id >= PFA_MAX_REGIONS)
		return -EINVAL;
	if (find(lb, region_id) >= 0)
		return -EEXIST;
	if (lb->n == LEAP_BPF_MAX_REGIONS)
		return -ENOSPC;
	lb->slot[i] = (struct leap_region){
		.start = start, .end = end, .max_pw = max_pw, .id = region_id, .tgid = tgid};
	err = put_slot(lb, i, NULL);
	if (!err)
		lb->n++;
	return err;
}

int pf_leap_bpf_remove(struct pf_leap_bpf *lb, uint32_t region_id)
{
	int i = find(lb, region_id);
	uint32_t last;
	struct leap_state st;
	int err = 0;

	if (i < 0)
		return -ENOENT;
	/* Off the fault path first; its slot is reused below. */
	__atomic_store_n(&lb->skel->bss->leap_slot[region_id], 0, __ATOMIC_RELEASE);
	last = lb->n - 1;
	if ((uint32_t)i != last) {
		/* Move the last region, with its Leap state, into the hole. */
		if (bpf_map_lookup_elem(bpf_map__fd(lb->skel->maps.leap_states), &last, &st))
			leap_init(&st);
		lb->slot[i] = lb->slot[last];
		err = put_slot(lb, (uint32_t)i, &st);
	}
	lb->slot[last] = (struct leap_region){0};
	lb->n--;
	return err;
}

void pf_leap_bpf_forget(struct pf_leap_bpf *lb, uint32_t tgid)
{
	for (uint32_t i = lb->n; i-- > 0;)
		if (lb->slot[i].tgid == tgid)
			pf_leap_bpf_remove(lb, lb->slot[i].id);
}

int pf_leap_bpf_poll(struct pf_leap_bpf *lb, pf_leap_fn fn, void *arg)
{
	int rc;

	lb->fn = fn;
	lb->arg = arg;
	lb->polled = 0;
	rc = ring_buffer__consume(lb->rb);
	return rc < 0 ? rc : lb->polled;
}

void pf_leap_bpf_stats(const struct pf_leap_bpf *lb, struct pf_leap_bpf_stats *st)
{
	st->faults = lb->skel->bss->leap_faults;
	st->decisions = lb->skel->bss->leap_decisions;
	st->window_hits = lb->skel->bss->leap_window_hits;
	st->dropped = lb->skel->bss->leap_dropped;
	st->skipped = lb->skel->bss->leap_skipped;
	st->regions = lb->n;
}

void pf_leap_bpf_set_wake(struct pf_leap_bpf *lb, bool wake)
{
	lb->skel->bss->leap_wake = wake;
}

int pf_leap_bpf_fd(const struct pf_leap_bpf *lb)
{
	return ring_buffer__epoll_fd(lb->rb);
}

int pf_leap_bpf_attach(struct pf_leap_bpf *lb, bool on)
{
	if (!on) {
		bpf_link__destroy(lb->link);
		lb->link = NULL;
		return 0;
	}
	if (lb->link)
		return 0;
	lb->link = bpf_program__attach(lb->prog);
	return lb->link ? 0 : -errno;
}

int pf_leap_bpf_prog_stats(const struct pf_leap_bpf *lb, uint64_t *runs, uint64_t *ns)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(lb->prog), &info, &len))
		return -errno;
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}
