// SPDX-License-Identifier: GPL-2.0
/*
 * fault_path_bench: pageflex_agent's fault entry (pf_fault) cut short, for
 * `bench_agent faults` (bench/agent), which attaches one of these to
 * tp_btf/page_fault_user instead of the agent's pf_fault to price each
 * step of the fault path. Never loaded by pageflexd: the production
 * pf_fault has no benchmark branch.
 *
 *  - fault_empty: an empty program, the floor that any program on that
 *    hook costs;
 *  - fault_tgid: stops after the tgid check (managed());
 *  - fault_region: stops after the region lookup (region_find(), the same
 *    search as the agent's, region_lookup.bpf.h);
 *  - fault_counters: also bumps the region's per-CPU counter, without the
 *    classification (counted as unknown).
 *
 * managed(), region_find() and the maps are the agent's (region_maps.bpf.h);
 * bench_agent makes the maps the loaded agent's own maps (bpf_map__reuse_fd) before it loads this object, so these
 * programs read the very tables pageflexd's code writes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pageflex_agent.h"
#include "region_lookup.bpf.h"
#include "region_maps.bpf.h" /* the agent's maps: bench_agent reuses their fds */

/* Keeps a result that nothing else uses from being optimised away. */
#define KEEP(x) asm volatile("" ::"r"(x))

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_empty, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_tgid, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u64 word = managed(bpf_get_current_pid_tgid() >> 32);

	KEEP(word);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_region, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u64 word = managed(bpf_get_current_pid_tgid() >> 32);
	__u32 id;

	if (!word)
		return 0;
	id = region_find(word, address);
	KEEP(id);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_counters, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u64 word = managed(bpf_get_current_pid_tgid() >> 32);
	struct pfa_region_stats *st;
	__u32 id;

	if (!word)
		return 0;
	id = region_find(word, address);
	if (id == PFA_NO_REGION)
		return 0;
	st = bpf_map_lookup_elem(&region_stats, &id);
	if (!st)
		return 0;
	st->unknown++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
