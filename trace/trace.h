/* SPDX-License-Identifier: MIT */
/*
 * The PageFlex trace format: what `pageflexctl record PID --out FILE` writes
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
 *
 * Version 1. A reader refuses a different major version and a header_size
 * smaller than this header; it reports a truncated or corrupt file with the
 * byte offset of the bad record.
 */
#ifndef PAGEFLEX_TRACE_H
#define PAGEFLEX_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PF_TRACE_MAGIC "PFTRACE" /* 8 bytes with the NUL */
#define PF_TRACE_VERSION 1
#define PF_TRACE_TAG_MAX 64 /* bytes, NUL-padded (a tag is at most 63) */
#define PF_TRACE_SYMBOL_MAX 128
#define PF_TRACE_SCAN_MAX_PAGES (1u << 24)

struct pf_trace_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size; /* sizeof(struct pf_trace_header) of the writer */
	uint32_t page_size;
	uint32_t pid;
	uint64_t start_ns; /* CLOCK_MONOTONIC at the start, for reference only */
	char comm[16];
	uint8_t reserved[16];
};

enum pf_trace_type {
	PF_TR_REGION = 1,
	PF_TR_REGION_END = 2,
	PF_TR_PHASE = 3,
	PF_TR_ACCESS = 4,
	PF_TR_FAULT = 5,
	PF_TR_SCAN = 6,
	PF_TR_TYPE_MAX = 6,
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

/* A decoded record; pointers stay valid until the next pf_trace_next(). */
struct pf_trace_event {
	enum pf_trace_type type;
	uint64_t time_ns;
	uint32_t region;
	uint8_t kind; /* region kind or fault kind */
	uint64_t start, npages, page, first_page;
	const char *tag, *symbol, *name; /* NUL-terminated */
	const uint64_t *bitmap; /* SCAN */
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
/* Flushes and closes: 0 or -errno (a failed write is reported here too). */
int pf_trace_finish(struct pf_trace_writer *w);

#ifdef __cplusplus
}
#endif
#endif
