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
 * leap_replay (syscall, run with bpf_prog_test_run): replays the trace in
 * `trace` through a fresh state and stores every decision in `decisions`,
 * so a test can prove that BPF and C decide the same.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "../policy-agent/policies/leap_core.h"

const volatile __u32 target_tgid = 0; /* 0: the processes in `watched` */

__u64 faults_seen = 0; /* faults in watched regions */
__u64 decisions_made = 0; /* events emitted */
__u64 events_dropped = 0; /* ring buffer full */
__u64 window_hits = 0; /* faults on pages of the last window */
__u32 trace_len = 0; /* leap_replay: entries of `trace` to replay */
__u32 replay_max_pw = 32; /* leap_replay: Leap's largest window */
__u64 faults_skipped = 0; /* faults in Leap regions on a none or present PTE */

/* Set by the agent from its direct-map calibration (dmap_ok = 0: no PTE
 * check, every fault of a region feeds Leap). */
__u64 dmap_base = 0;
__u32 pt_levels = 0; /* 4 or 5 (0: 4) */
__u32 dmap_ok = 0;
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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEAP_BPF_MAX_TRACE);
	__type(key, __u32);
	__type(value, struct leap_trace_ent);
} trace SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEAP_BPF_MAX_TRACE);
	__type(key, __u32);
	__type(value, struct leap_decision);
} decisions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct leap_state);
} replay_state SEC(".maps");

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

/* ---- is the faulting PTE a swap entry? (the agent's walk, bpf/pageflex_agent.bpf.c) ---- */

#define X86_PRESENT 0x1ULL
#define X86_PSE 0x80ULL
#define X86_PROTNONE 0x100ULL
#define X86_ADDR_MASK 0x000ffffffffff000ULL

extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym;

/* One page-table entry through the direct map, a PROBE_MEM load (0 if it faults). */
static __always_inline __u64 ld_ent(__u64 table_va, __u64 idx)
{
	struct timespec64 *t = bpf_rdonly_cast((void *)(table_va + (idx & 511) * 8),
					       bpf_core_type_id_kernel(struct timespec64));

	return (__u64)t->tv_sec;
}

static __always_inline __u64 next_table(__u64 e)
{
	return dmap_base + (e & X86_ADDR_MASK);
}

/* 1 if the PTE of va is a swap entry (not none, not present), else 0. */
static __always_inline int swap_pte(__u64 va)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 t = (__u64)task->mm->pgd, e;

	if (!t)
		return 0;
	if (pt_levels == 5) {
		e = ld_ent(t, va >> 48);
		if (!(e & X86_PRESENT))
			return 0;
		t = next_table(e);
	}
	e = ld_ent(t, va >> 39);
	if (!(e & X86_PRESENT))
		return 0;
	e = ld_ent(next_table(e), va >> 30);
	if (!(e & X86_PRESENT) || (e & X86_PSE))
		return 0;
	e = ld_ent(next_table(e), va >> 21);
	if (!(e & X86_PRESENT) || (e & X86_PSE))
		return 0; /* none, THP or a migration entry: no 4 KiB swap PTE */
	e = ld_ent(next_table(e), va >> 12);
	return e && !(e & (X86_PRESENT | X86_PROTNONE));
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(leap_on_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
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
	if (dmap_ok && !swap_pte(address)) {
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
	if (!leap_fault(s, page, hit, r->max_pw, &d))
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

struct replay_ctx {
	struct leap_state *s;
	__u32 max_pw;
};

static long replay_one(__u32 i, void *data)
{
	struct replay_ctx *c = data;
	struct leap_trace_ent *e;
	struct leap_decision d, *out;
	__u32 k = i;

	e = bpf_map_lookup_elem(&trace, &k);
	out = bpf_map_lookup_elem(&decisions, &k);
	if (!e || !out)
		return 1;
	leap_fault(c->s, e->page, e->hit, c->max_pw, &d);
	*out = d;
	return 0;
}

SEC("syscall")
int leap_replay(void *ctx)
{
	struct replay_ctx c = {.max_pw = replay_max_pw};
	__u32 zero = 0, n = trace_len;

	c.s = bpf_map_lookup_elem(&replay_state, &zero);
	if (!c.s)
		return -1;
	leap_init(c.s);
	if (n > LEAP_BPF_MAX_TRACE)
		n = LEAP_BPF_MAX_TRACE;
	return bpf_loop(n, replay_one, &c, 0);
}

char LICENSE[] SEC("license") = "GPL";
