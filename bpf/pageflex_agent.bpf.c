// SPDX-License-Identifier: GPL-2.0
/*
 * pageflex_agent: the eBPF half of pageflexd, loaded once for all managed
 * processes. PageFlex's OnPageFault and OnPageScanned events, rebuilt from
 * stock hooks (docs/design.md):
 *
 *  - region lookup: proc_tab, an array indexed by tgid (one inlined load
 *    rejects every other process's fault and says where the process's
 *    table is), then a bounded binary search of its sorted ranges in
 *    region_ents, one flat array: every lookup is inlined by the verifier. One entry
 *    per region (an LPM trie needs up to ~2x52 prefixes per unaligned range
 *    and costs a trie walk per fault); user space writes a new table into
 *    the process's idle bank and swaps it in with one 8-byte store.
 *  - pf_fault (tp_btf/page_fault_user): managed processes only. A fault on
 *    a present PTE says so in its error code; otherwise, in a region that
 *    may hold swapped pages (region_flags), the faulting PTE is read through
 *    the calibrated direct map (pt_walk.bpf.h; pf_fault_compat is the same
 *    with helper reads, for kernels without bpf_rdonly_cast, < 6.2; the
 *    agent loads one): none = first touch, swap entry = swap fault
 *    (a refault). In a region without swapped pages it is a first touch,
 *    without the walk (the cost of the walk, ~50 ns, is most of what this
 *    program adds to a ~2 us fault). Per-region per-CPU counters; swap
 *    faults go to a ring buffer with BPF_RB_NO_WAKEUP (user space polls).
 *  - pf_major (perf_event, PERF_COUNT_SW_PAGE_FAULTS_MAJ, period 1): exact
 *    major faults. A swap fault followed by a major fault on the same page
 *    in the same task is a swap-in; a swap fault without one is a
 *    swap-cache hit. A major fault in private anonymous memory that the
 *    entry counted as a first touch was a swap-in of a page the kernel
 *    swapped out: recounted, and the region marked.
 *  - pf_leap (tp_btf/page_fault_user; pf_leap_compat without
 *    bpf_rdonly_cast): Leap's prefetch decisions (policy/leap_core.h, the
 *    code pageflex-sim runs) on the swap faults of regions bound to Leap:
 *    the same region lookup, then leap_slot[region id] names the region's
 *    Leap state; decisions go to leap_events, waking the agent only when
 *    leap_wake is set (it then issues the WILLNEED before the program gets
 *    there). A fault on a page of the last window issued counts as a
 *    prefetch hit (WILLNEED leaves pages in the swap cache, so their first
 *    access is still a minor fault); a retry of the same fault is ignored.
 *    Threads of one process race on a region's state: a worse prediction,
 *    never an out-of-bounds access.
 *  - pf_exec (tp_btf/sched_process_exec): a managed process that execs is
 *    unmanaged at once and the agent is told (its regions are gone).
 *  - pf_scan (iter/task_vma): walks the page tables of the chunks listed in
 *    scan_req and writes 4 bits per page (accessed, present, swapped, huge),
 *    without a branch per PTE (see pte_bits()).
 *  - pf_calib (iter/task_vma on the agent itself): finds the direct-map base
 *    from a magic in a locked page, and translates addresses to validate it.
 *
 * Each program is a feature of its own (agent/bpf_features.c): one
 * that a kernel refuses costs that feature only. Verifier budget: each
 * program stays under 200,000 verified instructions on every kernel tested
 * (test_bpf_margins; docs/kernels.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "../policy/leap_core.h"
#include "leap_fault.bpf.h"
#include "pageflex_agent.h"
#include "pt_walk.bpf.h"
#include "region_lookup.bpf.h"
#include "region_maps.bpf.h"

#define X86_PF_PROT 0x1UL /* page-fault error code: the PTE was present */
#define GIB (1ULL << 30)

/*
 * Set by the agent when no NUMA balancing runs: a not-present fault in a
 * region without PFA_RF_OUT is then a first touch without a page-table walk
 * (with NUMA balancing, hinting faults on PROT_NONE PTEs look the same).
 */
__u32 fast_first_touch = 0;
/* Stream first-touch events too (off: counters only, cheaper). */
__u32 stream_first_touch = 0;
/*
 * Whether pf_fault (or pf_fault_compat) is attached. The agent attaches it
 * only while a managed region may hold swapped pages (unless asked to count
 * first touches): off, every fault of a managed process costs nothing, and
 * pf_major alone counts the swap-ins of pages someone else swapped out.
 */
__u32 fault_attached = 0;
__u64 rb_dropped = 0;

/* Scanner input and statistics. */
__u32 scan_nreq = 0;
__u64 scan_chunks = 0;
__u64 scan_errors = 0;

/* Calibration: mode 0 finds the base, mode 1 translates xlate_va. */
__u32 calib_mode = 0;
__u64 calib_pa = 0;
__u64 calib_magic[2] = {};
__u32 calib_max = 0;
__u64 calib_found = 0;
__u64 calib_pgd = 0;
__u64 xlate_va = 0;
__u64 xlate_entry = 0;
__s32 xlate_level = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct pending {
	__u64 page; /* page number of the last swap fault, 0: none */
	__u32 region;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending);
} pending SEC(".maps");

/* Scanner: request list and results, both mmapped by user space. Sizes are
 * set by the agent before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pfa_scan_req);
} scan_req SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pfa_scan_chunk);
} scan_bits SEC(".maps");

/* Per-page policy state, updated by the agent in the scan pass. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pfa_state_chunk);
} page_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[PFA_CHUNK_PAGES]);
} pte_buf SEC(".maps");

/* ---- scanner bits of one PTE ---- */

/*
 * The 4 scanner bits of a PTE, without a branch: a branch per PTE in the
 * scanner's bpf_loop callback gives the verifier up to 4^16 paths per
 * packed word (kernels that compare callback states as loop states never
 * prune them). clang turns (e | -e) >> 63 back into e != 0, a branch in BPF:
 * the empty asm keeps the negation opaque.
 */
static __always_inline __u64 pte_bits(__u64 e)
{
	__u64 neg = -e, nz, pres;

	asm volatile("" : "+r"(neg));
	nz = (e | neg) >> 63; /* e != 0 */
	pres = (e | (e >> 8)) & 1; /* X86_PRESENT or X86_PROTNONE */
	return pres * PFA_PG_PRESENT + (pres & (e >> 5)) * PFA_PG_ACCESSED +
	       (nz & (pres ^ 1)) * PFA_PG_SWAPPED;
}

/* ---- fault path ---- */

enum { CLS_FIRST, CLS_SWAP, CLS_PRESENT, CLS_UNKNOWN };

/*
 * Per region id, PFA_RF_* (pageflex_agent.h). PFA_RF_OUT: the region may
 * hold swapped pages (the agent paged some out, a scan saw some, or a major
 * fault said so), so its faults need the page-table walk; the agent clears
 * it when a scan finds none. PFA_RF_ANON: private anonymous memory, where a
 * major fault can only be a swap-in.
 */
__u8 region_flags[PFA_MAX_REGIONS] = {};

static __always_inline int classify(__u32 id, __u64 addr, unsigned long error_code, const int fast)
{
	struct task_struct *task;
	__u64 pgd;

	/* The hardware says whether the PTE was present: no walk for those. */
	if (error_code & X86_PF_PROT)
		return CLS_PRESENT;
	if (!dmap_ok)
		return CLS_UNKNOWN;
	/*
	 * Not present, in a region without swapped pages: a first touch. (A
	 * page the kernel swaps out of such a region is caught by pf_major at
	 * its refault, and by the next scan.)
	 */
	if (fast_first_touch && !(region_flags[id & (PFA_MAX_REGIONS - 1)] & PFA_RF_OUT))
		return CLS_FIRST;
	task = bpf_get_current_task_btf();
	pgd = (__u64)task->mm->pgd;
	if (!pgd)
		return CLS_UNKNOWN;
	switch (pt_classify(pgd, addr, fast)) {
	case PT_NONE:
		return CLS_FIRST;
	case PT_PRESENT:
		return CLS_PRESENT;
	case PT_SWAP:
		return CLS_SWAP;
	default:
		return CLS_UNKNOWN;
	}
}

/*
 * Regions whose refaults wake the agent at once (a prefetch policy is bound
 * to them): their refault events pay for a wakeup so that the prefetch
 * comes before the program gets there. Every other event never wakes it.
 */
__u8 region_wake[PFA_MAX_REGIONS] = {};

static __always_inline void emit(__u32 tgid, __u32 region, __u64 addr, __u32 kind)
{
	struct pfa_event ev = {
		.ts_ns = bpf_ktime_get_ns(),
		.addr = addr,
		.tgid = tgid,
		.region = region,
		.kind = kind,
	};
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (kind != PFA_EV_FIRST_TOUCH && region_wake[region & (PFA_MAX_REGIONS - 1)])
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), flags))
		__sync_fetch_and_add(&rb_dropped, 1);
}

/* The fault classifier; fast: page-table loads through bpf_rdonly_cast. */
static __always_inline int on_fault(__u64 address, unsigned long error_code, const int fast)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pfa_region_stats *st;
	struct pending *p;
	__u64 word;
	__u32 id;
	int cls;

	word = managed(tgid);
	if (!word)
		return 0;
	id = region_find(word, address);
	if (id == PFA_NO_REGION)
		return 0;
	st = bpf_map_lookup_elem(&region_stats, &id);
	if (!st)
		return 0;
	cls = classify(id, address, error_code, fast);
	switch (cls) {
	case CLS_FIRST:
		st->first_touch++;
		if (stream_first_touch)
			emit(tgid, id, address, PFA_EV_FIRST_TOUCH);
		break;
	case CLS_SWAP:
		st->swap_faults++;
		p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (p) {
			p->page = address >> 12;
			p->region = id;
		}
		emit(tgid, id, address, PFA_EV_SWAP_FAULT);
		break;
	case CLS_PRESENT:
		st->present++;
		break;
	default:
		st->unknown++;
		break;
	}
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(pf_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(address, error_code, 1);
}

/* The same for kernels without bpf_rdonly_cast (< 6.2): helper reads. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(pf_fault_compat, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(address, error_code, 0);
}

/* ---- Leap on the fault path ---- */

/*
 * Per region id: 1 + the slot of leap_regions/leap_states that runs Leap
 * on the region's swap faults, 0 for none (the agent writes it through the
 * mmapped .bss, after the slot's region and state).
 */
__u8 leap_slot[PFA_MAX_REGIONS] = {};
__u32 leap_wake = 0; /* decisions wake the agent (else it polls) */
__u64 leap_faults = 0; /* swap faults in Leap regions */
__u64 leap_decisions = 0; /* events emitted */
__u64 leap_dropped = 0; /* ring buffer full */
__u64 leap_window_hits = 0; /* faults on pages of the last window */
__u64 leap_skipped = 0; /* faults in Leap regions on a none or present PTE */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEAP_BPF_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct leap_region);
} leap_regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEAP_BPF_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct leap_state);
} leap_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} leap_events SEC(".maps");

/* Leap (policy/leap_core.h) on a swap fault of a Leap region. */
static __always_inline int leap_on_fault(__u64 address, unsigned long error_code, const int fast)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct leap_decision d;
	struct leap_region *r;
	struct leap_state *s;
	struct leap_event *ev;
	__u64 word, page, pgd;
	__u32 id, slot;
	int hit;

	word = managed(tgid);
	if (!word)
		return 0;
	id = region_find(word, address);
	if (id == PFA_NO_REGION)
		return 0;
	slot = leap_slot[id & (PFA_MAX_REGIONS - 1)];
	if (!slot--)
		return 0;
	r = bpf_map_lookup_elem(&leap_regions, &slot);
	s = bpf_map_lookup_elem(&leap_states, &slot);
	if (!r || !s || r->id != id || address < r->start || address >= r->end)
		return 0;
	/* Only swap faults (swap-ins and swap-cache hits) feed Leap. */
	if (error_code & X86_PF_PROT || !dmap_ok) {
		__sync_fetch_and_add(&leap_skipped, 1);
		return 0;
	}
	task = bpf_get_current_task_btf();
	pgd = (__u64)task->mm->pgd;
	if (!pgd || pt_classify(pgd, address, fast) != PT_SWAP) {
		__sync_fetch_and_add(&leap_skipped, 1);
		return 0;
	}
	page = (address - r->start) >> 12;
	if (s->nfaults && page == s->last_page)
		return 0; /* a retry of the same fault */
	__sync_fetch_and_add(&leap_faults, 1);
	hit = leap_in_window(s, page);
	if (hit)
		__sync_fetch_and_add(&leap_window_hits, 1);
	if (leap_fault_once(s, page, hit, r->max_pw, &d) <= 0)
		return 0;
	ev = bpf_ringbuf_reserve(&leap_events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&leap_dropped, 1);
		return 0;
	}
	ev->addr = r->start + ((d.start + d.stride) << 12);
	ev->stride_bytes = d.stride * 4096;
	ev->count = d.count;
	ev->region_id = id;
	ev->tgid = tgid;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, leap_wake ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	__sync_fetch_and_add(&leap_decisions, 1);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(pf_leap, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return leap_on_fault(address, error_code, 1);
}

/* The same for kernels without bpf_rdonly_cast (< 6.2): helper reads. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(pf_leap_compat, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return leap_on_fault(address, error_code, 0);
}

/*
 * A managed process exec'd (a client can keep its shim socket across exec by
 * clearing FD_CLOEXEC): its faults stop counting at once, and the agent is
 * woken to drop the process; a new image that runs the shim registers anew.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(pf_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	__u64 *w = bpf_map_lookup_elem(&proc_tab, &tgid);
	struct pfa_event ev = {};

	if (!w || !*w)
		return 0;
	*w = 0;
	ev.ts_ns = bpf_ktime_get_ns();
	ev.tgid = tgid;
	ev.region = PFA_NO_REGION;
	ev.kind = PFA_EV_EXEC;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), BPF_RB_FORCE_WAKEUP))
		__sync_fetch_and_add(&rb_dropped, 1);
	return 0;
}

SEC("perf_event")
int pf_major(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pfa_region_stats *st;
	struct task_struct *task;
	struct pending *p;
	__u64 addr = ctx->addr, word;
	__u8 *flags;
	__u32 id;

	word = managed(tgid);
	if (!word)
		return 0;
	id = region_find(word, addr);
	if (id == PFA_NO_REGION)
		return 0;
	st = bpf_map_lookup_elem(&region_stats, &id);
	if (!st)
		return 0;
	task = bpf_get_current_task_btf();
	p = bpf_task_storage_get(&pending, task, 0, 0);
	if (p && p->page == addr >> 12) {
		p->page = 0;
		st->swapin_major++;
		emit(tgid, id, addr, PFA_EV_SWAPIN_MAJOR);
		return 0;
	}
	flags = &region_flags[id & (PFA_MAX_REGIONS - 1)];
	if (*flags & PFA_RF_ANON) {
		/*
		 * A major fault in private anonymous memory is a swap-in that
		 * the fault program did not see as one: it was not attached at
		 * the fault's entry (on demand, or being attached right then),
		 * or it took the fault for a first touch in a region without
		 * swapped pages (the kernel swapped this page behind the
		 * agent's back): then that count is taken back. Either way the
		 * region is marked, which attaches the fault program.
		 */
		if (fault_attached && fast_first_touch && dmap_ok && !(*flags & PFA_RF_OUT))
			st->first_touch--;
		*flags |= PFA_RF_OUT;
		st->swap_faults++;
		st->swapin_major++;
		emit(tgid, id, addr, PFA_EV_SWAP_FAULT);
		emit(tgid, id, addr, PFA_EV_SWAPIN_MAJOR);
		return 0;
	}
	st->other_major++;
	return 0;
}

/* ---- scanner ---- */

struct scan_ctx {
	__u64 pgd;
};

static __always_inline void fill_chunk(struct pfa_scan_chunk *out, __u64 word)
{
	int i;

	for (i = 0; i < PFA_CHUNK_PAGES / 16; i++)
		out->w[i] = word;
}

static long scan_one(__u32 i, void *arg)
{
	struct scan_ctx *c = arg;
	struct pfa_scan_chunk *out;
	struct pfa_scan_req *r;
	__u32 k = i, zero = 0, idx;
	__u64 e, word, *buf;
	int w, b, j;

	r = bpf_map_lookup_elem(&scan_req, &k);
	if (!r)
		return 1;
	idx = (__u32)(r->slot / PFA_CHUNK_PAGES);
	out = bpf_map_lookup_elem(&scan_bits, &idx);
	if (!out)
		return 1;
	w = pt_walk_pmd(c->pgd, r->va, &e, 0);
	if (w == WALK_ERR) {
		scan_errors++;
		fill_chunk(out, 0);
		return 0;
	}
	if (w == WALK_NONE) {
		fill_chunk(out, 0);
		return 0;
	}
	if (w == WALK_LEAF) {
		word = PFA_PG_PRESENT | PFA_PG_HUGE | ((e & X86_ACCESSED) ? PFA_PG_ACCESSED : 0);
		word |= word << 4;
		word |= word << 8;
		word |= word << 16;
		word |= word << 32;
		fill_chunk(out, word);
		return 0;
	}
	buf = bpf_map_lookup_elem(&pte_buf, &zero);
	if (!buf)
		return 1;
	if (bpf_probe_read_kernel(buf, PFA_CHUNK_PAGES * 8, (void *)pt_next_table(e))) {
		scan_errors++;
		fill_chunk(out, 0);
		return 0;
	}
	for (j = 0; j < PFA_CHUNK_PAGES / 16; j++) {
		word = 0;
		for (b = 0; b < 16; b++)
			word |= (__u64)pte_bits(buf[(j * 16 + b) & (PFA_CHUNK_PAGES - 1)])
				<< (b * 4);
		out->w[j] = word;
	}
	scan_chunks++;
	return 0;
}

SEC("iter/task_vma")
int pf_scan(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct scan_ctx c;

	/* All the work happens once per iteration, at the first VMA. */
	if (!vma || ctx->meta->seq_num != 0 || !dmap_ok)
		return 0;
	c.pgd = (__u64)BPF_CORE_READ(vma, vm_mm, pgd);
	if (!c.pgd)
		return 0;
	bpf_loop(scan_nreq, scan_one, &c, 0);
	return 0;
}

/* ---- direct-map calibration ---- */

struct calib_ctx {
	__u64 top;
};

static long calib_one(__u32 i, void *arg)
{
	struct calib_ctx *c = arg;
	__u64 base = c->top - (__u64)i * GIB, v[2];

	if (bpf_probe_read_kernel(v, sizeof(v), (void *)(base + calib_pa)))
		return 0;
	if (v[0] == calib_magic[0] && v[1] == calib_magic[1]) {
		calib_found = base;
		return 1;
	}
	return 0;
}

SEC("iter/task_vma")
int pf_calib(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct calib_ctx c;
	__u64 pgd, e;

	if (!vma || ctx->meta->seq_num != 0)
		return 0;
	pgd = (__u64)BPF_CORE_READ(vma, vm_mm, pgd);
	calib_pgd = pgd;
	if (calib_mode == 0) {
		calib_found = 0;
		c.top = pgd & ~(GIB - 1);
		bpf_loop(calib_max, calib_one, &c, 0);
		return 0;
	}
	/* mode 1: translate xlate_va with the current dmap_base/pt_levels */
	xlate_level = pt_walk_pmd(pgd, xlate_va, &e, 0);
	xlate_entry = e;
	if (xlate_level == WALK_TABLE) {
		if (pt_load(pt_next_table(e), xlate_va >> 12, &e, 0))
			xlate_level = WALK_ERR;
		xlate_entry = e;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
