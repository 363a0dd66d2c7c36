// SPDX-License-Identifier: MIT
/*
 * Smoke test of the BPF tool chain on this kernel: load fault_count (a
 * tp_btf/page_fault_user program filtered to this process), touch N fresh
 * pages, and check that at least N faults were counted. Needs root.
 */
#include <criterion/criterion.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault_count.skel.h"
#include "testutil.h"

Test(bpf_smoke, page_fault_user_counts_our_faults)
{
	const size_t npages = 4096, pg = 4096;
	struct fault_count_bpf *skel;
	volatile char *buf;
	__u64 before, after;
	size_t i;

	TU_SKIP_UNLESS(tu_need_root());
	skel = fault_count_bpf__open();
	cr_assert_not_null(skel, "failed to open fault_count");
	skel->rodata->target_tgid = getpid();
	cr_assert_eq(fault_count_bpf__load(skel), 0, "failed to load fault_count");
	cr_assert_eq(fault_count_bpf__attach(skel), 0, "failed to attach page_fault_user");

	buf = mmap(NULL, npages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	/* No THP: one fault per 4 KiB page. */
	madvise((void *)buf, npages * pg, MADV_NOHUGEPAGE);
	before = __atomic_load_n(&skel->bss->faults, __ATOMIC_RELAXED);
	for (i = 0; i < npages; i++)
		buf[i * pg] = 1;
	after = __atomic_load_n(&skel->bss->faults, __ATOMIC_RELAXED);
	cr_log_info("touched %zu pages, counted %llu faults", npages,
		    (unsigned long long)(after - before));
	cr_assert_geq(after - before, npages, "counted %llu faults for %zu touched pages",
		      (unsigned long long)(after - before), npages);
	/* And not wildly more: the filter keeps other processes out. */
	cr_assert_lt(after - before, npages * 2);
	munmap((void *)buf, npages * pg);
	fault_count_bpf__destroy(skel);
}
