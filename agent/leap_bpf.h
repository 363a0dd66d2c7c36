/* SPDX-License-Identifier: MIT */
/*
 * The agent's handle on Leap in BPF (pf_leap in bpf/pageflex_agent.bpf.c,
 * loaded with the agent's other programs by pf_bpf_open() as the feature
 * "leap"): attach it, choose the regions it runs on, collect its prefetch
 * decisions. The program finds a fault's region with the agent's own region
 * tables, so a region runs Leap only while its process is managed and the
 * region is in the process's table (pf_bpf_proc_sync()).
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
	uint64_t faults; /* swap faults seen in Leap regions */
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
/* Attaches the variant of Leap's program that pf_bpf_open() loaded (feature
 * f, or the "leap" feature if f is NULL); at most one handle at a time.
 * 0, -ENOTSUP when the feature is not loaded (f says why), or -errno. */
int pf_leap_bpf_open(struct pf_leap_bpf **out, struct pf_feature *f);
void pf_leap_bpf_close(struct pf_leap_bpf *lb);
/* Runs Leap on [start, end) of region region_id of tgid with a fresh state;
 * 0, -ENOSPC when all slots are used, -EEXIST if region_id is there
 * already, -EINVAL. */
int pf_leap_bpf_add(struct pf_leap_bpf *lb, uint32_t tgid, uint32_t region_id, uint64_t start,
		    uint64_t end, uint32_t max_pw);
/* Stops Leap on one region; 0 or -ENOENT. */
int pf_leap_bpf_remove(struct pf_leap_bpf *lb, uint32_t region_id);
/* Removes every region of tgid (the process went away). */
void pf_leap_bpf_forget(struct pf_leap_bpf *lb, uint32_t tgid);
/* Hands every pending decision to fn; returns how many, or -errno. Never blocks. */
int pf_leap_bpf_poll(struct pf_leap_bpf *lb, pf_leap_fn fn, void *arg);
void pf_leap_bpf_stats(const struct pf_leap_bpf *lb, struct pf_leap_bpf_stats *st);

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
