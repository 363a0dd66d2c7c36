// SPDX-License-Identifier: GPL-2.0
/*
 * Test only: leap_replay (syscall, run with bpf_prog_test_run) replays the
 * trace in `trace` through a fresh Leap state and stores every decision in
 * `decisions`, so that test/root/bpf/test_leap_bpf.c can prove that
 * Leap in BPF (leap_fault.bpf.h, the code pf_leap runs on the fault
 * path) and Leap in C decide the same. Not part of the agent's objects.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "../../policy/leap_core.h"
#include "leap_fault.bpf.h"

__u32 trace_len = 0; /* entries of `trace` to replay */
__u32 replay_max_pw = 32; /* Leap's largest window */

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
	leap_fault_once(c->s, e->page, e->hit, c->max_pw, &d);
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
