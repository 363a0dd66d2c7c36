/* SPDX-License-Identifier: MIT */
/*
 * Per-process region tables. A logical region (pf_rinfo: id, tag, kind,
 * call site, policy binding, per-page slots, last-scan counts) is created
 * by one REGION_MAP and may be split into several pieces (pf_piece) when a
 * later map or unmap overlaps part of it; pieces keep the region's id and
 * slots. Pieces of a process are kept sorted by address and never overlap,
 * which is what the BPF side binary-searches.
 *
 * Region ids (0..PFA_MAX_REGIONS-1) and slot chunks (512 per-page slots,
 * one per 2 MiB of a region's aligned hull) are global resources handed
 * out here; slots are allocated lazily, at a region's first scan.
 */
#ifndef PAGEFLEX_REGIONS_H
#define PAGEFLEX_REGIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "binding.h"
#include "pageflex_wire.h"

#define PF_NO_SLOT UINT64_MAX

struct pf_rinfo {
	uint32_t id;
	uint32_t refs; /* pieces pointing here */
	uint8_t kind, prot;
	char tag[PFW_MAX_TAG + 1];
	char module[256];
	uint64_t callsite;
	uint64_t hull; /* 2 MiB-aligned address of slot_base */
	uint64_t slot_base; /* PF_NO_SLOT until the first scan */
	uint64_t nchunks;
	/* Policy, threshold and prefetch state (policy/engine.h); eng.bound
	 * false: observed only. */
	struct pf_engine_region eng;
	uint64_t last_refaults; /* refaults already fed to eng */
	uint64_t tick_refaults; /* fed at the last tick (its objective reads them) */
	uint64_t hull_len; /* size at creation (rules match on it) */
	uint64_t start0; /* start at creation */
	bool prefetch_here; /* its prefetch policy runs in the agent (not in BPF) */
	uint64_t prefetched; /* pages asked for with WILLNEED */
	bool slots_failed; /* no slots were left at some scan (logged once) */
	uint64_t mark, size; /* scratch for reports */
	uint64_t scan_mark; /* scratch for the scanner */
	/* Last scan (pages). */
	uint64_t resident, swapped, accessed, huge;
	uint64_t scans;
	/* Actions (pages). */
	uint64_t paged_out, cooled;
	/* Fault counters folded in from previous region ids (none today). */
};

struct pf_piece {
	uint64_t start, end;
	struct pf_rinfo *ri;
};

struct pf_rtable {
	struct pf_piece *p;
	size_t n, cap;
	bool dirty; /* changed since the last BPF sync */
};

/* Names come from the shim, i.e. from any process: copies len bytes,
 * NUL-terminated, non-printable bytes replaced by '?' (dst holds len + 1). */
void pf_copy_name(char *dst, const char *src, size_t len);

/* Global allocators. capacity_pages: per-page slots for all processes. */
int pf_regions_init(uint64_t capacity_pages);
uint64_t pf_slots_capacity(void);
uint64_t pf_slots_used(void);
uint32_t pf_regions_live(void);

/*
 * REGION_MAP: [start, start+len) becomes a new region; overlapped parts of
 * older regions are cut away. Returns the new rinfo or NULL (-errno in *err:
 * ENOSPC when the process table or the region ids are full).
 */
struct pf_rinfo *pf_rt_map(struct pf_rtable *t, uint64_t start, uint64_t len, uint8_t kind,
			   uint8_t prot, const char *tag, size_t tag_len, const char *module,
			   size_t module_len, uint64_t callsite, int *err);
/* REGION_UNMAP: removes whatever overlaps [start, start+len). */
void pf_rt_unmap(struct pf_rtable *t, uint64_t start, uint64_t len);
/* Frees every region of the table. */
void pf_rt_clear(struct pf_rtable *t);
/* True if pred holds for a region overlapping [start, start+len). */
bool pf_rt_any(const struct pf_rtable *t, uint64_t start, uint64_t len,
	       bool (*pred)(const struct pf_rinfo *ri));
/* The piece containing addr, or NULL. */
struct pf_piece *pf_rt_find(struct pf_rtable *t, uint64_t addr);

/* Slots of a region: allocates its chunks on first use (false if none left). */
bool pf_rinfo_slots(struct pf_rinfo *ri);
/* Slot of the page at addr (which must lie in one of ri's pieces). */
static inline uint64_t pf_rinfo_slot(const struct pf_rinfo *ri, uint64_t addr)
{
	return ri->slot_base + ((addr - ri->hull) >> 12);
}

/*
 * Region events, for the parts of the agent that keep state per region
 * outside its pf_rinfo (BPF counters and flags, Leap's fault-path slots,
 * the recorder, prefetch). A subscriber is a static struct whose callbacks
 * may be NULL. Order, fixed: on_new and on_bind go to the subscribers in
 * the order they subscribed, on_free in the reverse order (one that
 * subscribed later, on top of an earlier one, lets go of the region
 * first). Subscribing twice is a no-op; more than PF_REGION_EVENTS_MAX
 * subscribers is a wiring bug and aborts. Neither call may be made from
 * inside a callback.
 */
#define PF_REGION_EVENTS_MAX 8
struct pf_region_events {
	/* A region id was handed out (pf_rt_map, before the table has it). */
	void (*on_new)(uint32_t id);
	/* A region's binding changed (binding.c: pf_region_bind). */
	void (*on_bind)(struct pf_rinfo *ri);
	/* A region is about to be freed: its last piece went away. */
	void (*on_free)(struct pf_rinfo *ri);
};
void pf_region_events_subscribe(const struct pf_region_events *ev);
void pf_region_events_unsubscribe(const struct pf_region_events *ev);
/* Sends on_bind for ri (called by binding.c). */
void pf_region_events_bound(struct pf_rinfo *ri);

#endif
