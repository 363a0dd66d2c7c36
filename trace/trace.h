/* SPDX-License-Identifier: MIT */
/*
 * The PageFlex trace format: what `pageflexctl record PID FILE SECONDS` writes
 * and pageflex-sim replays, and what the simulator's generators write.
 *
 * A file is a 64-byte header followed by records. Everything is
 * little-endian. Every record starts with a 16-byte pf_trace_rec_hdr whose
 * len (bytes, header included) is a multiple of 8 and at least the record
 * type's fixed size; readers skip unknown flags but reject unknown types.
 * Times are nanoseconds since the trace started. Pages are page numbers
 * relative to the start of their region.
 *
 *   REGION      a region appeared: id, kind, start address, pages, tag, symbol
 *   REGION_END  the region went away (its id may be reused afterwards)
 *   PHASE       the process entered a phase
 *   ACCESS      one access to a page (synthetic traces: the ground truth)
 *   FAULT       a fault seen live: first touch, swap-in (major), swap-cache hit
 *   SCAN        one scan of pages [first, first + npages): a bitmap of
 *               accessed bits, bit i of word i / 64 for page first + i
 *               (version 1 recordings, generated traces)
 *
 * Version 2 adds what a replay needs to start where a live run stood and
 * to be compared with it (`pageflexctl record` writes these):
 *
 *   PAGES       one scan of pages [first, first + npages) with each page's
 *               state, 2 bits (enum pf_trace_page_state), page i in bits
 *               2 * (i % 32) of word i / 32. A scan writes one or more
 *               per piece of a region (a large piece is split). A region's
 *               first scan in a recording is its residency when the
 *               recording (or the region) began.
 *   TICK        the agent ran its policies on the scan just recorded
 *   ACTION      what the agent did at that tick: pages paged out,
 *               prefetched or deactivated in one region, as page ranges
 *               (what the kernel reported done)
 *   STATE       the live reclaim policy's per-page states and threshold of
 *               one region piece when the recording began, so that a replay
 *               with the same policy starts from them; its times are on the
 *               header's clock_ms clock. reclaim is "" where the agent runs
 *               no policy; npages is 0 when its states had not begun (ready
 *               0: the replay begins them at its first tick, as the agent)
 *
 * Version 3 adds to STATE the engine's accessed-bit clear segmentation of
 * the region (which segment is cleared at which tick, and each one's
 * working set), so that a replay clears the bits the agent cleared.
 *
 * Versions 1 to 3 are read. A reader refuses other versions and a
 * header_size smaller than this header; it reports a truncated or corrupt
 * file with the byte offset of the bad record.
 */
#ifndef PAGEFLEX_TRACE_H
#define PAGEFLEX_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PF_TRACE_MAGIC "PFTRACE" /* 8 bytes with the NUL */
#define PF_TRACE_VERSION 3 /* written; 1 and 2 are still read */
#define PF_TRACE_TAG_MAX 64 /* bytes, NUL-padded (a tag is at most 63) */
#define PF_TRACE_SYMBOL_MAX 128
#define PF_TRACE_SCAN_MAX_PAGES (1u << 24)
#define PF_TRACE_CLEAR_SEGS 16 /* a STATE's clear segments at most (PF_CLEAR_MAX) */

struct pf_trace_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size; /* sizeof(struct pf_trace_header) of the writer */
	uint32_t page_size;
	uint32_t pid;
	uint64_t start_ns; /* CLOCK_MONOTONIC at the start, for reference only */
	char comm[16];
	/* Version 2 (zero in version 1): */
	uint64_t clock_ms; /* the agent's policy clock at time 0 (STATE records' times) */
	uint32_t scan_ms; /* the agent's scan period when recording began; 0: unknown */
	uint32_t flags; /* PF_TRACE_F_* */
};

enum {
	PF_TRACE_F_LIVE = 1u << 0, /* recorded live by pageflexd (PAGES, TICK, ACTION) */
	PF_TRACE_F_FIRST_TOUCH = 1u << 1, /* first-touch faults were recorded */
};

enum pf_trace_type {
	PF_TR_REGION = 1,
	PF_TR_REGION_END = 2,
	PF_TR_PHASE = 3,
	PF_TR_ACCESS = 4,
	PF_TR_FAULT = 5,
	PF_TR_SCAN = 6,
	PF_TR_PAGES = 7,
	PF_TR_TICK = 8,
	PF_TR_ACTION = 9,
	PF_TR_STATE = 10,
	PF_TR_TYPE_MAX = 10,
};

/* A page in a PAGES record. */
enum pf_trace_page_state {
	PF_PG_NONE = 0, /* neither present nor swapped (never touched, or freed) */
	PF_PG_IDLE = 1, /* present, not accessed since the previous scan */
	PF_PG_ACCESSED = 2, /* present and accessed since the previous scan */
	PF_PG_SWAPPED = 3, /* a swap entry */
};

static inline unsigned pf_trace_page_state(const uint64_t *states, uint64_t i)
{
	return (unsigned)(states[i / 32] >> (2 * (i % 32))) & 3u;
}

/* What an ACTION record says the agent did. */
enum pf_trace_action_kind {
	PF_ACT_PAGEOUT = 0, /* MADV_PAGEOUT */
	PF_ACT_PREFETCH = 1, /* MADV_WILLNEED */
	PF_ACT_COLD = 2, /* MADV_COLD */
	PF_ACT_KIND_MAX = 2,
};

enum pf_trace_fault_kind {
	PF_FAULT_FIRST_TOUCH = 0,
	PF_FAULT_SWAPIN = 1, /* major: read from swap */
	PF_FAULT_SWAPCACHE = 2, /* minor: found in the swap cache (e.g. a prefetch hit) */
};

struct pf_trace_rec_hdr {
	uint16_t type;
	uint16_t flags; /* 0 */
	uint32_t len;
	uint64_t time_ns;
};

struct pf_trace_region {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint8_t kind; /* enum pfw_kind */
	uint8_t pad[3];
	uint64_t start;
	uint64_t npages;
	char tag[PF_TRACE_TAG_MAX];
	char symbol[PF_TRACE_SYMBOL_MAX];
};

struct pf_trace_region_end {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint32_t pad;
};

struct pf_trace_phase {
	struct pf_trace_rec_hdr h;
	char name[PF_TRACE_TAG_MAX];
};

struct pf_trace_access {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint32_t pad;
	uint64_t page;
};

struct pf_trace_fault {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint8_t kind; /* enum pf_trace_fault_kind */
	uint8_t pad[3];
	uint64_t page;
};

struct pf_trace_scan {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint32_t npages; /* 1..PF_TRACE_SCAN_MAX_PAGES */
	uint64_t first_page;
	/* followed by (npages + 63) / 64 uint64_t words of accessed bits */
};

struct pf_trace_pages {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint32_t npages; /* 1..PF_TRACE_SCAN_MAX_PAGES */
	uint64_t first_page;
	/* followed by (npages + 31) / 32 uint64_t words of page states */
};

struct pf_trace_tick {
	struct pf_trace_rec_hdr h;
};

struct pf_trace_action {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint8_t kind; /* enum pf_trace_action_kind */
	uint8_t pad[3];
	uint64_t nranges;
	/* followed by nranges pairs of uint64_t: first page, pages */
};

struct pf_trace_state {
	struct pf_trace_rec_hdr h;
	uint32_t region;
	uint32_t npages; /* states that follow, for pages [first_page, +npages) */
	uint64_t first_page;
	char reclaim[32]; /* the reclaim policy's name */
	/* Its parameters (struct pf_policy_params) ... */
	uint64_t cold_age_ms, tick_ms;
	uint32_t lfu_decay, clock_bits;
	/* ... the engine's bookkeeping (struct pf_engine_region) ... */
	uint32_t blank; /* the state of a page untouched since the states began */
	uint8_t ready; /* 0: the states had not begun (the replay starts them) */
	/* ... and its threshold (struct pf_threshold). */
	uint8_t mode; /* enum pf_threshold_mode */
	uint8_t thr_started;
	uint8_t pad;
	uint32_t cut_bucket;
	uint32_t pad2;
	uint64_t period_start_ms, thr_refaults;
	/* Version 3 (zero when read from version 2): the engine's accessed-bit
	 * clears of the region (engine.h, clear_every), so that a replay clears
	 * the same segments at the same ticks. */
	uint32_t clear_every; /* the parameter */
	uint32_t clear_n; /* segments then, 1..PF_TRACE_CLEAR_SEGS (0: unknown) */
	uint64_t ticks, last_tick_ms; /* ticks since the bind; the last one's time */
	uint32_t seg_known; /* segments whose seg_ws is known, one bit each */
	uint8_t fresh_ok, all_fresh;
	uint8_t pad3[2];
	uint64_t seg_ws[PF_TRACE_CLEAR_SEGS]; /* each segment's working set */
	/* followed by npages uint32_t states, padded to 8 bytes */
};
/* A version 2 STATE record's fixed part: up to clear_every. */
#define PF_TRACE_STATE_V2_SIZE 120u

/* A decoded record; pointers stay valid until the next pf_trace_next(). */
struct pf_trace_event {
	enum pf_trace_type type;
	uint64_t time_ns;
	uint32_t region;
	uint8_t kind; /* region kind or fault kind */
	uint64_t start, npages, page, first_page;
	const char *tag, *symbol, *name; /* NUL-terminated */
	const uint64_t *bitmap; /* SCAN; PAGES: its accessed pages as such a bitmap */
	const uint64_t *states; /* PAGES: the 2-bit states */
	const uint64_t *ranges; /* ACTION: nranges (first page, pages) pairs */
	uint64_t nranges;
	const struct pf_trace_state *state; /* STATE: the record ... */
	const uint32_t *page_states; /* ... and its npages states */
};

struct pf_trace_reader;

/* Opens and validates the header; NULL with the problem in err. */
struct pf_trace_reader *pf_trace_open(const char *path, char *err, size_t errlen);
const struct pf_trace_header *pf_trace_header(const struct pf_trace_reader *r);
/* 1: an event; 0: end of file; -1: a truncated or corrupt record, err says
 * what and at which byte offset. */
int pf_trace_next(struct pf_trace_reader *r, struct pf_trace_event *ev, char *err, size_t errlen);
/* Byte offset of the last record returned (or of the error). */
uint64_t pf_trace_offset(const struct pf_trace_reader *r);
void pf_trace_close(struct pf_trace_reader *r);

struct pf_trace_writer;

struct pf_trace_writer *pf_trace_create(const char *path, uint32_t pid, const char *comm,
					uint64_t start_ns, char *err, size_t errlen);
/* Version 2 header fields (see struct pf_trace_header); 0 or -errno. */
int pf_trace_set_info(struct pf_trace_writer *w, uint64_t clock_ms, uint32_t scan_ms,
		      uint32_t flags);
int pf_trace_write_region(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			  uint8_t kind, uint64_t start, uint64_t npages, const char *tag,
			  const char *symbol);
int pf_trace_write_region_end(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region);
int pf_trace_write_phase(struct pf_trace_writer *w, uint64_t time_ns, const char *name);
int pf_trace_write_access(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			  uint64_t page);
int pf_trace_write_fault(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			 uint64_t page, uint8_t kind);
int pf_trace_write_scan(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			uint64_t first_page, uint32_t npages, const uint64_t *bitmap);
int pf_trace_write_pages(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			 uint64_t first_page, uint32_t npages, const uint64_t *states);
int pf_trace_write_tick(struct pf_trace_writer *w, uint64_t time_ns);
int pf_trace_write_action(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			  uint8_t kind, const uint64_t *ranges, uint64_t nranges);
/* x: everything but the record header; states: x->npages of them. */
int pf_trace_write_state(struct pf_trace_writer *w, uint64_t time_ns,
			 const struct pf_trace_state *x, const uint32_t *states);
/* Flushes and closes: 0 or -errno (a failed write is reported here too). */
int pf_trace_finish(struct pf_trace_writer *w);

#ifdef __cplusplus
}
#endif
#endif
