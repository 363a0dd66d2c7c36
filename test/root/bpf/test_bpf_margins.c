// SPDX-License-Identifier: MIT
/*
 * Verifier margins: loads every BPF program of every object the project
 * builds (the agent's pageflex_agent in bpf/, and the test and
 * bench objects in bpf/test/ and bpf/bench/) alone, prints each one's
 * verified-instruction count (bpf_prog_info.verified_insns) as a table, and
 * fails if any exceeds 200,000, a fifth of the verifier's limit, or does not
 * load at all (unless it is a program whose *_compat fallback loads: the
 * kernel lacks what the preferred variant needs). A kernel whose verifier
 * works harder than the one a program was written on must never cost a
 * feature. Needs root.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "bpf_features.h"
#include "fault_count.skel.h"
#include "fault_path_bench.skel.h"
#include "leap_replay.skel.h"
#include "pageflex_agent.skel.h"
#include "region_lookup_bench.skel.h"
#include "testutil.h"

#define BUDGET 200000
#define MAX 64

static struct pf_prog_probe r[MAX];
static size_t n;

static void probe(const char *object, const void *elf, size_t sz)
{
	int k = pf_bpf_probe_object(object, elf, sz, r + n, MAX - n);

	cr_assert_geq(k, 1, "%s: cannot open the object (%d)", object, k);
	n += (size_t)k;
}

/* Whether program i failed but its _compat sibling in the same object loaded. */
static bool fallback_loads(size_t i)
{
	char want[80];

	snprintf(want, sizeof(want), "%s_compat", r[i].prog);
	for (size_t j = 0; j < n; j++)
		if (!strcmp(r[j].object, r[i].object) && !strcmp(r[j].prog, want))
			return !r[j].err;
	return false;
}

Test(bpf, every_program_verifies_within_a_fifth_of_the_limit, .timeout = 300)
{
	const void *elf;
	size_t sz, bad = 0;

	TU_SKIP_UNLESS(tu_need_root());
	elf = pageflex_agent_bpf__elf_bytes(&sz);
	probe("pageflex_agent", elf, sz);
	elf = leap_replay_bpf__elf_bytes(&sz);
	probe("leap_replay", elf, sz);
	elf = fault_count_bpf__elf_bytes(&sz);
	probe("fault_count", elf, sz);
	elf = region_lookup_bench_bpf__elf_bytes(&sz);
	probe("region_lookup_bench", elf, sz);
	elf = fault_path_bench_bpf__elf_bytes(&sz);
	probe("fault_path_bench", elf, sz);

	printf("%-20s %-24s %14s  %s\n", "object", "program", "verified insns", "verdict");
	for (size_t i = 0; i < n; i++) {
		const char *verdict = "ok";

		if (r[i].err && fallback_loads(i))
			verdict = "not loaded, its _compat fallback loads";
		else if (r[i].err || r[i].verified_insns > BUDGET) {
			verdict = r[i].err ? "FAIL: not loaded" : "FAIL: over budget";
			bad++;
		}
		printf("%-20s %-24s %14u  %s%s%s\n", r[i].object, r[i].prog, r[i].verified_insns,
		       verdict, r[i].err ? ": " : "", r[i].err ? r[i].why : "");
	}
	printf("budget: %u verified instructions per program (the verifier's limit is 1,000,000)\n",
	       BUDGET);
	fflush(stdout);
	cr_assert_eq(bad, 0, "%zu programs over budget or not loaded (table above)", bad);
}
