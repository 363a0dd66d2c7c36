// SPDX-License-Identifier: GPL-2.0
/*
 * fault_count: counts user page faults of one process (tgid), on
 * tp_btf/page_fault_user. The smallest useful BPF program of the project:
 * test_bpf_fault_count loads it to prove that the build, the skeleton and
 * the tracepoint work on this kernel. Test only (bpf/test/).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;

__u64 faults = 0;

SEC("tp_btf/page_fault_user")
int BPF_PROG(count_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	__sync_fetch_and_add(&faults, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
