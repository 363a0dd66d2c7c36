// SPDX-License-Identifier: MIT
/*
 * The agent's handle on Leap in BPF (see leap_bpf.h): slot bookkeeping for
 * the program's region array, the watch map and the ring-buffer consumer.
 */
#include "leap_bpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_features.h"
#include "leap.skel.h"
#include "leap_core.h"

struct pf_leap_bpf {
	struct leap_bpf *skel;
	struct bpf_program *prog; /* the loaded fault-path variant */
	struct bpf_link *link;
	struct ring_buffer *rb;
	struct leap_region slot[LEAP_BPF_MAX_REGIONS]; /* mirror of the map */
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

/* Loads the variant of f the kernel accepts (see bpf_features.h). */
static int load(struct pf_leap_bpf *lb, struct pf_feature *f)
{
	struct pf_feature one = {.progs = {{"leap_on_fault"}, {"leap_on_fault_compat"}}};
	int rc, tries;

	if (!f)
		f = &one;
	for (tries = 0; tries <= PF_FEAT_VARIANTS; tries++) {
		if (!pf_feature_on(f))
			return f->err ? f->err : -ENOTSUP;
		lb->skel = leap_bpf__open();
		if (!lb->skel)
			return -errno;
		pf_features_apply(f, 1, lb->skel->obj);
		rc = leap_bpf__load(lb->skel);
		if (!rc) {
			pf_features_loaded(f, 1, lb->skel->obj);
			lb->prog = pf_bpf_prog(lb->skel->obj, f->progs[f->variant][0]);
			return lb->prog ? 0 : -ENOENT;
		}
		if (pf_features_blame(f, 1, lb->skel->obj, rc)) {
			pf_feature_fail(f, rc, "bpf/leap.bpf.c does not load: %s", strerror(-rc));
			return rc;
		}
		leap_bpf__destroy(lb->skel);
		lb->skel = NULL;
	}
	return -ELOOP;
}

int pf_leap_bpf_open(struct pf_leap_bpf **out, struct pf_feature *f)
{
	struct pf_leap_bpf *lb = calloc(1, sizeof(*lb));
	int err;

	if (!lb)
		return -ENOMEM;
	err = load(lb, f);
	if (err)
		goto fail;
	lb->rb = ring_buffer__new(bpf_map__fd(lb->skel->maps.events), on_event, lb, NULL);
	if (!lb->rb) {
		err = -errno;
		goto fail;
	}
	lb->link = bpf_program__attach(lb->prog);
	if (!lb->link) {
		err = -errno;
		if (f)
			pf_feature_fail(f, err, "cannot attach tp_btf/page_fault_user: %s",
					strerror(-err));
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
	ring_buffer__free(lb->rb);
	bpf_link__destroy(lb->link);
	leap_bpf__destroy(lb->skel);
	free(lb);
}

int pf_leap_bpf_watch(struct pf_leap_bpf *lb, uint32_t tgid, bool on)
{
	__u64 bit = 1ull << (tgid & 63), *w;

	if (tgid >= LEAP_TGID_LIMIT)
		return -EINVAL;
	w = &lb->skel->bss->watched[tgid >> 6];
	if (on)
		__atomic_fetch_or(w, bit, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(w, ~bit, __ATOMIC_RELEASE);
	return 0;
}

/* Writes slot i (region and a fresh or given state) to the maps. */
static int put_slot(struct pf_leap_bpf *lb, uint32_t i, const struct leap_state *st)
{
	struct leap_state fresh;

	if (!st) {
		leap_init(&fresh);
		st = &fresh;
	}
	/* State first: the region becomes visible to the fault path last. */
	if (bpf_map_update_elem(bpf_map__fd(lb->skel->maps.states), &i, st, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(lb->skel->maps.regions), &i, &lb->slot[i], BPF_ANY))
		return -errno;
	return 0;
}

static int find(const struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id)
{
	for (uint32_t i = 0; i < lb->n; i++)
		if (lb->slot[i].tgid == tgid && lb->slot[i].id == region_id)
			return (int)i;
	return -1;
}

int pf_leap_bpf_add(struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id, uint64_t start,
		    uint64_t end, uint32_t max_pw)
{
	uint32_t i = lb->n;
	int err;

	if (start >= end || (start | end) & 4095 || !max_pw)
		return -EINVAL;
	if (find(lb, tgid, region_id) >= 0)
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

int pf_leap_bpf_remove(struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id)
{
	int i = find(lb, tgid, region_id);
	uint32_t last;
	struct leap_state st;
	struct leap_region none = {0};
	int err = 0;

	if (i < 0)
		return -ENOENT;
	last = lb->n - 1;
	if ((uint32_t)i != last) {
		/* Move the last region, with its Leap state, into the hole. */
		if (bpf_map_lookup_elem(bpf_map__fd(lb->skel->maps.states), &last, &st))
			leap_init(&st);
		lb->slot[i] = lb->slot[last];
		err = put_slot(lb, (uint32_t)i, &st);
	}
	lb->slot[last] = none;
	if (bpf_map_update_elem(bpf_map__fd(lb->skel->maps.regions), &last, &none, BPF_ANY) && !err)
		err = -errno;
	lb->n--;
	return err;
}

void pf_leap_bpf_forget(struct pf_leap_bpf *lb, uint32_t tgid)
{
	for (uint32_t i = lb->n; i-- > 0;)
		if (lb->slot[i].tgid == tgid)
			pf_leap_bpf_remove(lb, tgid, lb->slot[i].id);
	pf_leap_bpf_watch(lb, tgid, false);
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
	st->faults = lb->skel->bss->faults_seen;
	st->decisions = lb->skel->bss->decisions_made;
	st->window_hits = lb->skel->bss->window_hits;
	st->dropped = lb->skel->bss->events_dropped;
	st->skipped = lb->skel->bss->faults_skipped;
	st->regions = lb->n;
}

void pf_leap_bpf_set_dmap(struct pf_leap_bpf *lb, uint64_t base, int pt_levels)
{
	lb->skel->bss->dmap_base = base;
	lb->skel->bss->pt_levels = (uint32_t)pt_levels;
	__atomic_store_n(&lb->skel->bss->dmap_ok, 1, __ATOMIC_RELEASE);
}

void pf_leap_bpf_set_wake(struct pf_leap_bpf *lb, bool wake)
{
	lb->skel->bss->wake_on_decision = wake;
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
