/* SPDX-License-Identifier: MIT */
/*
 * The agent's handle on Leap in BPF (bpf/leap.bpf.c): load and attach the
 * fault-path program, choose the processes and regions it runs on, and
 * collect its prefetch decisions. Not policy code (it does I/O through
 * libbpf): a separate library, pageflex_leap_bpf, for pageflexd.
 *
 * Regions occupy the program's LEAP_BPF_MAX_REGIONS slots without holes;
 * removing one moves the last into its place (with its Leap state).
 */
#ifndef PAGEFLEX_LEAP_BPF_H
#define PAGEFLEX_LEAP_BPF_H

#include <stdbool.h>
#include <stdint.h>

struct pf_leap_bpf;

struct pf_leap_bpf_stats {
	uint64_t faults; /* faults seen in Leap regions */
	uint64_t decisions; /* prefetch decisions emitted */
	uint64_t window_hits; /* faults on pages of the last window (prefetch hits) */
	uint64_t dropped; /* decisions lost to a full ring buffer */
	uint64_t skipped; /* faults in Leap regions that were not on a swap PTE */
	uint32_t regions; /* slots in use */
};

/* One decision: fetch addr + k * stride_bytes for 0 <= k < count. */
typedef void (*pf_leap_fn)(void *arg, uint32_t tgid, uint32_t region_id, uint64_t addr,
			   int64_t stride_bytes, uint32_t count);

struct pf_feature;
/* Loads and attaches the fault-path program: the variant of feature f that
 * the kernel accepts (bpf_features.h; f's state says which, or why none);
 * 0 or -errno. f may be NULL: the preferred variant or nothing. */
int pf_leap_bpf_open(struct pf_leap_bpf **out, struct pf_feature *f);
void pf_leap_bpf_close(struct pf_leap_bpf *lb);
/* Runs Leap on faults of tgid (on = true) or stops (false); 0 or -errno. */
int pf_leap_bpf_watch(struct pf_leap_bpf *lb, uint32_t tgid, bool on);
/* Runs Leap on [start, end) of tgid with a fresh state; 0, -ENOSPC when all
 * slots are used, -EEXIST if (tgid, region_id) is there already, -EINVAL. */
int pf_leap_bpf_add(struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id, uint64_t start,
		    uint64_t end, uint32_t max_pw);
/* Stops Leap on one region; 0 or -ENOENT. */
int pf_leap_bpf_remove(struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id);
/* Removes every region of tgid (the process went away). */
void pf_leap_bpf_forget(struct pf_leap_bpf *lb, uint32_t tgid);
/* Hands every pending decision to fn; returns how many, or -errno. Never blocks. */
int pf_leap_bpf_poll(struct pf_leap_bpf *lb, pf_leap_fn fn, void *arg);
void pf_leap_bpf_stats(const struct pf_leap_bpf *lb, struct pf_leap_bpf_stats *st);

/* Only faults on a swap PTE feed Leap, read through the direct map at base
 * (pt_levels 4 or 5: the agent's calibration); call before adding regions. */
void pf_leap_bpf_set_dmap(struct pf_leap_bpf *lb, uint64_t base, int pt_levels);
/* Decisions wake a poller of pf_leap_bpf_fd() at once (else it must poll). */
void pf_leap_bpf_set_wake(struct pf_leap_bpf *lb, bool wake);
/* An fd that is readable when decisions are pending (epoll), or -1. */
int pf_leap_bpf_fd(const struct pf_leap_bpf *lb);
/* Benchmarks: detach (false) or re-attach (true) the fault-path program. */
int pf_leap_bpf_attach(struct pf_leap_bpf *lb, bool on);
/* Run count and total run time of the fault-path program (the kernel counts
 * them while BPF_STATS_RUN_TIME is enabled); 0 or -errno. */
int pf_leap_bpf_prog_stats(const struct pf_leap_bpf *lb, uint64_t *runs, uint64_t *ns);

#endif
