/* SPDX-License-Identifier: MIT */
/*
 * The agent's handle on its eBPF programs (bpf/pageflex_agent.bpf.c), one
 * header over three files: loading and attaching, the feature table and
 * the fault event ring buffer (polled, never woken) in bpf_load.c; the
 * direct-map calibration that the page-table walkers need in
 * calibration.c; per-process region tables in BPF, per-region fault
 * counters and flags, and the iter/task_vma page-table scanner's arrays in
 * bpf_tables.c.
 */
#ifndef PAGEFLEX_BPFVIEW_H
#define PAGEFLEX_BPFVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf_features.h"
#include "pageflex_agent.h"
#include "regions.h"

/*
 * The agent's features, each one or more BPF programs that load, or fail,
 * alone (bpf_features.h). Leap's program loads here with the others but is
 * attached by its own handle (leap_bpf.c), when the agent runs Leap.
 */
enum pf_feat_id {
	PF_FEAT_CALIBRATION,
	PF_FEAT_SCANNER,
	PF_FEAT_FAULTS,
	PF_FEAT_MAJOR,
	PF_FEAT_EXEC,
	PF_FEAT_LEAP, /* last */
	PF_FEAT_COUNT
};
struct pf_feature *pf_bpf_feature(enum pf_feat_id id);
/* Turns off the features of a comma-separated list before pf_bpf_open().
 * 0, or -EINVAL with the reason in err. */
int pf_bpf_disable(const char *list, char *err, size_t errlen);

struct pf_bpf_opts {
	uint64_t capacity_pages; /* per-page slots (scanner results and policy state) */
	uint32_t max_procs; /* managed processes (0: 64) */
	bool stream_first_touch;
	/*
	 * Attach the fault program only while a managed region may hold
	 * swapped pages (pf_bpf_fault_need) and a first-touch recording runs
	 * (pf_bpf_fault_hold); needs the major-fault program and no NUMA
	 * balancing, else it stays attached. Off: always attached.
	 */
	bool fault_on_demand;
	bool corrupt_calibration; /* tests: shift the found base to exercise validation */
	/* Called for each fault event consumed from the ring buffer. */
	void (*on_event)(const struct pfa_event *ev, void *arg);
	void *arg;
};

/* Loads and attaches every feature the kernel accepts (one log line per one
 * it refuses), then calibrates. 0, or -errno (logged) when nothing loads. */
int pf_bpf_open(const struct pf_bpf_opts *o);
void pf_bpf_close(void);
/* The loaded object (for leap_bpf.c), or NULL. */
struct pageflex_agent_bpf *pf_bpf_skel(void);
/* Detaches or re-attaches the page_fault_user program (benchmarks). */
int pf_bpf_fault_attach(bool on);
/* On demand (fault_on_demand): attached while need or a hold; else no-op. */
void pf_bpf_fault_need(bool need);
/* A first-touch recording wants every fault: holds it attached while on. */
void pf_bpf_fault_hold(bool on);
/* Whether the fault program is attached now, whether it is on demand, and
 * how often it was attached and detached on demand. */
bool pf_bpf_fault_attached(void);
bool pf_bpf_fault_on_demand(void);
void pf_bpf_fault_switches(uint64_t *attaches, uint64_t *detaches);
/* Benchmarks: the fd of the agent's map called name (for bench-only programs
 * that share it, bpf/bench/), or a negative errno. */
int pf_bpf_map_fd(const char *name);
/* Run count and total run time of the fault program (needs bpf_enable_stats). */
int pf_bpf_fault_prog_stats(uint64_t *runs, uint64_t *ns);

/* Calibration result: false means page-table reads are disabled (no scans,
 * faults counted as unknown), with the reason in pf_bpf_dmap_error(). */
bool pf_bpf_dmap_ok(void);
const char *pf_bpf_dmap_error(void);
uint64_t pf_bpf_dmap_base(void);
int pf_bpf_pt_levels(void);

/* Region tables: two banks of region_ents per process slot. */
struct pf_bpf_proc {
	int slot; /* -1: none */
	int active;
};
uint32_t pf_bpf_max_procs(void);
int pf_bpf_proc_add(struct pf_bpf_proc *bp, pid_t pid);
void pf_bpf_proc_del(struct pf_bpf_proc *bp, pid_t pid);
/* Writes the table into the idle array and swaps it in. 0 or -errno. */
int pf_bpf_proc_sync(struct pf_bpf_proc *bp, pid_t pid, const struct pf_rtable *t);

/* Sums a region's per-CPU fault counters. */
int pf_bpf_region_stats(uint32_t id, struct pfa_region_stats *out);
/* Queues a new region id's counters for zeroing (done by the next pf_bpf_proc_sync). */
void pf_bpf_region_reset(uint32_t id);

/* Consumes pending ring-buffer events; returns how many. */
int pf_bpf_poll(void);
/* Streams first-touch fault events too (while recording); holds the fault
 * program attached meanwhile (pf_bpf_fault_hold). */
void pf_bpf_stream_first_touch(bool on);
/* An fd that becomes readable when a waking event was written (epoll). */
int pf_bpf_events_fd(void);
/* Refaults of region id wake the agent at once (prefetch) or never. */
void pf_bpf_region_wake(uint32_t id, bool wake);
/*
 * Per-region flags, PFA_RF_* (pageflex_agent.h). PFA_RF_OUT: the region may
 * hold swapped pages, so its faults are classified with a page-table walk;
 * set it before paging anything of the region out. Without it a not-present
 * fault is counted as a first touch at once.
 */
void pf_bpf_region_set_flags(uint32_t id, unsigned flags);
unsigned pf_bpf_region_flags(uint32_t id);
void pf_bpf_region_mark_out(uint32_t id, bool out);
uint64_t pf_bpf_rb_dropped(void);

/*
 * Scanner. pf_bpf_scan_reqs() gives the request array (capacity
 * *max entries); pf_bpf_scan() walks the page tables of pid for the first
 * n requests. Results: pf_bpf_scan_nibble(slot); per-page policy state:
 * pf_bpf_page_state() (capacity_pages entries, mmapped BPF array).
 */
struct pfa_scan_req *pf_bpf_scan_reqs(uint64_t *max);
/* Whether scans can run (calibrated, scanner loaded); if not, why. */
bool pf_bpf_scan_ok(void);
const char *pf_bpf_scan_error(void);
int pf_bpf_scan(pid_t pid, uint32_t n);
uint32_t *pf_bpf_page_state(void);
extern const uint64_t *pf_bpf_scan_words;
static inline unsigned pf_bpf_scan_nibble(uint64_t slot)
{
	return (pf_bpf_scan_words[slot / 16] >> ((slot % 16) * 4)) & 0xf;
}
uint64_t pf_bpf_scan_errors(void);

#endif
