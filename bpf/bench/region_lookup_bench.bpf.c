// SPDX-License-Identifier: GPL-2.0
/*
 * region_lookup_bench: the cost of the two region-lookup structures pageflexd
 * could use on the fault path, measured in the kernel with
 * BPF_PROG_TEST_RUN of a raw_tp program (bench/agent: bench_agent lookup):
 *  - the sorted array with a bounded binary search (what pageflex_agent.bpf.c
 *    uses: one entry per region; the same code, region_lookup.bpf.h);
 *  - an LPM trie keyed by (tgid, address), where user space must split each
 *    unaligned range into aligned prefixes.
 * Each run does `iters` lookups of pseudo-random addresses. Bench only
 * (bpf/bench/): never loaded by pageflexd.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "pageflex_agent.h"
#include "region_lookup.bpf.h"

struct lpm_key {
	__u32 prefixlen;
	__u8 data[12]; /* tgid (big-endian), then the address (big-endian) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct lpm_key);
	__type(value, __u32);
} trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PFA_PROC_TABLE);
	__type(key, __u32);
	__type(value, struct pfa_region_ent);
} ents SEC(".maps");

__u32 nents = 0;
__u32 tgid = 0; /* set by user space */
__u64 lo_addr = 0, span = 0;
__u32 iters = 0;
__u32 mode = 0; /* 0: sorted array, 1: LPM trie */
__u64 found = 0, elapsed_ns = 0;

static __always_inline __u32 find_sorted(__u64 addr)
{
	return pfa_region_search(&ents, 0, nents, addr);
}

static __always_inline __u32 find_trie(__u64 addr)
{
	struct lpm_key k = {.prefixlen = 96};
	__u32 *v;
	int i;

	k.data[0] = tgid >> 24;
	k.data[1] = tgid >> 16;
	k.data[2] = tgid >> 8;
	k.data[3] = tgid;
	for (i = 0; i < 8; i++)
		k.data[4 + i] = addr >> (56 - 8 * i);
	v = bpf_map_lookup_elem(&trie, &k);
	return v ? *v : PFA_NO_REGION;
}

/*
 * One lookup, as a global function: verified once, on its own. Inlined into
 * the bpf_loop callback, the binary search's paths are never pruned on
 * kernels that compare callback states as loop states (203,161 verified
 * instructions on 6.18.44). Both structures pay the same call.
 */
__noinline __u32 lookup(__u64 addr)
{
	return mode ? find_trie(addr) : find_sorted(addr);
}

static long one(__u32 i, void *ctx)
{
	__u64 x = (__u64)i * 0x9e3779b97f4a7c15ull;
	__u64 addr = lo_addr + ((x >> 17) % span);
	__u32 id = lookup(addr);

	(void)ctx;
	if (id != PFA_NO_REGION)
		found++;
	return 0;
}

SEC("raw_tp/sys_enter") /* never attached: run with BPF_PROG_TEST_RUN */
int run(void *ctx)
{
	__u64 t0 = bpf_ktime_get_ns();

	(void)ctx;
	found = 0;
	bpf_loop(iters, one, NULL, 0);
	elapsed_ns = bpf_ktime_get_ns() - t0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
