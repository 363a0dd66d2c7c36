/* SPDX-License-Identifier: MIT */
/*
 * pf-uffd: a userfaultfd pager, the user-space alternative PageFlex argues
 * against, built to be honest and fast. Internal interfaces shared by its
 * files: the region table (preload.c registers regions from mmap hooks), the
 * backing store (store.c: lz4-compressed memory, or an O_DIRECT file) and the
 * fault handler with its reclaim and prefetch (pager.c).
 *
 * Nothing here may call malloc or touch managed memory from the handler
 * thread: the app may hold its allocator's lock while it waits on a fault.
 */
#ifndef PF_UFFD_PAGER_H
#define PF_UFFD_PAGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG 4096UL

/* Older uapi headers (Debian 12) lack UFFDIO_MOVE (Linux 6.8). */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ULL << 16)
struct uffdio_move {
	uint64_t dst, src, len, mode;
	int64_t move;
};
#define UFFDIO_MOVE_MODE_DONTWAKE (1ULL << 0)
#define UFFDIO_MOVE _IOWR(0xAA, 0x05, struct uffdio_move)
#endif

enum pg_state {
	PG_NONE = 0, /* never touched, or discarded: a fault maps zeros */
	PG_RES = 1, /* resident (we mapped it) */
	PG_STORED = 2 /* evicted: its data is in the store */
};

struct pg_meta {
	uint64_t loc; /* store location (lz4: pool offset; file: slot) */
	uint16_t clen; /* stored length (lz4); 4096 = raw */
	uint8_t state; /* enum pg_state */
	uint8_t ref; /* refaulted since its last eviction: second chance */
	uint32_t pad;
};

struct region {
	uintptr_t start, end; /* page aligned */
	struct pg_meta *meta; /* one per page, raw mmap */
	uint64_t slot_base; /* file store: first slot */
	/* stride detector for prefetch */
	int64_t last_pg, last_delta;
	unsigned window;
};

enum store_kind { STORE_LZ4, STORE_FILE };

struct pf_stats {
	uint64_t faults, zero_fills, swapins, prefetched, evicted, evict_skipped;
	uint64_t handler_ns; /* time spent serving faults (incl. reclaim) */
	uint64_t evict_ns;
	uint64_t regions, managed_bytes_peak, store_bytes, store_bytes_peak;
	uint64_t resident, resident_peak;
	uint64_t stored_pages, stored_pages_peak;
};

struct pager {
	int uffd; /* app regions: MISSING mode */
	int uffd_staging; /* staging area for UFFDIO_MOVE (no events) */
	bool spin;
	enum store_kind store;
	uint64_t budget_pages;
	unsigned evict_batch;
	unsigned prefetch_max;
	pthread_mutex_t lock; /* region table */
	struct region *regions; /* sorted by start */
	unsigned nregions, cap_regions;
	uint64_t next_slot;
	struct pf_stats st;
	/* FIFO with second chance: resident page addresses */
	uintptr_t *ring;
	uint64_t ring_cap, ring_head, ring_tail;
	char *staging; /* evict_batch pages, registered on uffd_staging */
	char *bounce; /* prefetch_max + 1 pages for UFFDIO_COPY */
	char *zero; /* one page of zeros */
	int file_fd;
	const char *stats_path; /* PF_UFFD_STATS, or NULL: stderr at exit */
	bool stats_final; /* the exit snapshot is written: no more periodic ones */
};

extern struct pager pf;

/* raw syscalls: the hooks must not recurse into themselves */
void *pf_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int pf_raw_munmap(void *addr, size_t len);
int pf_raw_madvise(void *addr, size_t len, int advice);

/* store.c */
int store_init(void);
/* Stores one page (src); fills m->loc / m->clen. 0 or -errno. */
int store_put(struct region *r, uint64_t pgidx, const void *src);
/* Stores n contiguous pages of one region (file store writes them at once). */
int store_put_run(struct region *r, uint64_t pgidx, const char *src, unsigned n);
/* Reads one page back into dst (page aligned). */
int store_get(struct region *r, uint64_t pgidx, void *dst);
/* Reads n pages of one region back (one pread when their slots are contiguous). */
int store_get_run(struct region *r, uint64_t pgidx, unsigned n, char *dst);
void store_drop(struct region *r, uint64_t pgidx);

/* pager.c */
int pager_start(void);
/* region table; called with pf.lock held */
struct region *region_find(uintptr_t addr);
int region_add(uintptr_t start, size_t len);
/* Drops every page of [start, end) from management (munmap, discard). */
void region_forget(uintptr_t start, uintptr_t end, bool unmapped);
/* Brings back every stored page of [start, end) (before mremap). */
void region_restore(uintptr_t start, uintptr_t end);
void pager_write_stats(void);

#endif
