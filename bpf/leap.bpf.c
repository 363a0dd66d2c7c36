// SPDX-License-Identifier: GPL-2.0
/*
 * Leap prefetch on the fault path. The algorithm is policy-agent/policies/
 * leap_core.h, the very code pageflex-sim runs; this file only feeds it.
 *
 * leap_on_fault (tp_btf/page_fault_user): for faults of a process in
 * `watched` (or of target_tgid, if set) inside one of the regions the agent
 * put in `regions` (same tgid), runs Leap with the region's
 * state and, when it decides to prefetch, emits a leap_event to `events`.
 * Once the agent has set the direct-map base (dmap_ok, from its own
 * calibration), only faults on a swap PTE feed Leap, i.e. swap-ins and
 * swap-cache hits, as in the simulator; first touches and faults on present
 * pages are counted in faults_skipped. Without it (tests), every fault of a
 * region feeds Leap. Events are written with BPF_RB_NO_WAKEUP (the agent
 * polls; a wakeup costs ~15 µs) unless wake_on_decision is set: then only
 * the faults that decide to prefetch, a few per window, wake the agent, so
 * that its WILLNEED comes before the program reaches the pages.
 * A fault on a page of the last window issued counts as a prefetch hit
 * (MADV_WILLNEED leaves pages in the swap cache, so their first access is
 * still a minor fault). A repeated fault on the same page (a retry) is
 * ignored. Faults of concurrent threads race on a region's state; the cost
 * is a worse prediction, never an out-of-bounds access (indexes are masked).
 *
 * leap_on_fault_compat: the same for kernels without bpf_rdonly_cast (< 6.2).
 * The agent loads one of the two (policy-agent/policies/leap_bpf.c). The
 * test program that replays traces through the same code is
 * leap_replay.bpf.c, kept out of this object so that it can never cost the
 * fault path.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "../policy-agent/policies/leap_core.h"
#include "leap_fault.bpf.h"
#include "pt_walk.bpf.h"

const volatile __u32 target_tgid = 0; /* 0: the processes in `watched` */

__u64 faults_seen = 0; /* faults in watched regions */
__u64 decisions_made = 0; /* events emitted */
__u64 events_dropped = 0; /* ring buffer full */
__u64 window_hits = 0; /* faults on pages of the last window */
__u64 faults_skipped = 0; /* faults in Leap regions on a none or present PTE */

/* dmap_base, pt_levels, dmap_ok (pt_walk.bpf.h): set by the agent from its
 * direct-map calibration (dmap_ok = 0: no PTE check, every fault of a region
 * feeds Leap). */
__u32 wake_on_decision = 0;

/* Processes whose faults Leap looks at: one bit per tgid (the agent sets
 * them through the mmapped .bss). A bitmap, not a hash: this is read on
 * every fault of every process on the machine. */
__u64 watched[LEAP_TGID_LIMIT / 64] = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEAP_BPF_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct leap_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEAP_BPF_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct leap_state);
} states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct find_ctx {
	__u64 address;
	__u32 tgid;
	__u32 idx;
	__u32 found;
};

/* bpf_loop callback: is the address in region i? (A callback keeps the
 * verifier from checking Leap once per possible region index.) */
static long find_region(__u32 i, void *data)
{
	struct find_ctx *f = data;
	struct leap_region *c;
	__u32 k = i;

	c = bpf_map_lookup_elem(&regions, &k);
	if (!c || !c->end)
		return 1; /* slots are filled from 0: an empty one ends the list */
	if (c->max_pw && c->tgid == f->tgid && f->address >= c->start && f->address < c->end) {
		f->idx = i;
		f->found = 1;
		return 1;
	}
	return 0;
}

/* 1 if the PTE of va is a swap entry (not none, not present), else 0. */
static __always_inline int swap_pte(__u64 va, const int fast)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pgd = (__u64)task->mm->pgd;

	return pgd && pt_classify(pgd, va, fast) == PT_SWAP;
}

static __always_inline int on_fault(__u64 address, const int fast)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	struct find_ctx f = {.address = address, .tgid = tgid};
	struct leap_decision d;
	struct leap_region *r;
	struct leap_state *s;
	struct leap_event *ev;
	__u64 page;
	int hit;

	if (target_tgid ? tgid != target_tgid :
			  !((watched[(tgid >> 6) & (LEAP_TGID_LIMIT / 64 - 1)] >> (tgid & 63)) & 1))
		return 0;
	bpf_loop(LEAP_BPF_MAX_REGIONS, find_region, &f, 0);
	if (!f.found)
		return 0;
	r = bpf_map_lookup_elem(&regions, &f.idx);
	s = bpf_map_lookup_elem(&states, &f.idx);
	if (!r || !s)
		return 0;
	if (dmap_ok && !swap_pte(address, fast)) {
		__sync_fetch_and_add(&faults_skipped, 1);
		return 0;
	}
	page = (address - r->start) >> 12;
	if (s->nfaults && page == s->last_page)
		return 0;
	__sync_fetch_and_add(&faults_seen, 1);
	hit = leap_in_window(s, page);
	if (hit)
		__sync_fetch_and_add(&window_hits, 1);
	if (leap_fault_once(s, page, hit, r->max_pw, &d) <= 0)
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&events_dropped, 1);
		return 0;
	}
	ev->addr = r->start + ((d.start + d.stride) << 12);
	ev->stride_bytes = d.stride * 4096;
	ev->count = d.count;
	ev->region_id = r->id;
	ev->tgid = tgid;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, wake_on_decision ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	__sync_fetch_and_add(&decisions_made, 1);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(leap_on_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(address, 1);
}

/* The same for kernels without bpf_rdonly_cast (< 6.2): helper reads. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(leap_on_fault_compat, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return on_fault(address, 0);
}

char LICENSE[] SEC("license") = "GPL";
