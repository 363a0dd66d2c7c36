/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps that say where a fault is, defined once: pageflex_agent.bpf.c
 * owns them, and bpf/bench/fault_path_bench.bpf.c declares the same ones so
 * that bench_agent can make them the loaded agent's (bpf_map__reuse_fd).
 * Also the two steps of the lookup over them (region_lookup.bpf.h).
 * Include once per object, after region_lookup.bpf.h.
 */
#ifndef PAGEFLEX_REGION_MAPS_BPF_H
#define PAGEFLEX_REGION_MAPS_BPF_H

/*
 * Managed processes, indexed by tgid (max_entries = the kernel's pid_max,
 * set by the agent): (base of its region table << 32) | (entries + 1), or
 * 0 when the process is not managed. One inlined array load decides, for
 * every fault on the machine; the agent stores the word atomically through
 * mmap, so a table swap is a single 8-byte store.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} proc_tab SEC(".maps");

/* All region tables: 2 banks of PFA_PROC_TABLE entries per process slot
 * (max_entries set by the agent from its --max-procs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pfa_region_ent);
} region_ents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PFA_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct pfa_region_stats);
} region_stats SEC(".maps");

/* The process's table word (see proc_tab), or 0 if it is not managed. */
static __always_inline __u64 managed(__u32 tgid)
{
	return pfa_managed(&proc_tab, tgid);
}

/* The region of addr in the table of word, or PFA_NO_REGION. */
static __always_inline __u32 region_find(__u64 word, __u64 addr)
{
	return pfa_region_find(&region_ents, word, addr);
}

#endif
