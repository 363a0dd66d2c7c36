/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between libpageflex.so (the shim inside an application)
 * and pageflexd (the agent). One header, shared by both sides.
 *
 * Transport: a unix SOCK_SEQPACKET socket (default /run/pageflex/agent.sock,
 * env PAGEFLEX_SOCKET). The shim sends non-blocking; every packet is one
 * message boundary, so a packet is either delivered whole or not at all
 * (EAGAIN) and the agent never sees a torn record.
 *
 * A packet is a pfw_packet header followed by records. Each record starts
 * with a pfw_rec header; records are padded to 8 bytes. Strings inside
 * records are not NUL-terminated: their lengths are in the record.
 *
 * Identity: the agent takes the sender's pid from SO_PEERCRED, never from a
 * message. The pid in HELLO is informational (for logs) and is checked.
 *
 * Region model: the agent keeps, per process, a map of address ranges to
 * (kind, tag, call site). REGION_MAP overrides whatever overlaps it;
 * REGION_UNMAP removes what overlaps it (splitting ranges as needed);
 * REGION_DISCARD keeps the range but tells the agent that its pages were
 * discarded by the program (MADV_DONTNEED/FREE/REMOVE, jemalloc purge), so
 * per-page policy state must be forgotten. mremap is UNMAP + MAP.
 *
 * Versioning: PFW_VERSION changes on any incompatible change; the agent
 * drops a connection whose version it does not speak, with a log line.
 */
#ifndef PAGEFLEX_WIRE_H
#define PAGEFLEX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PFW_MAGIC 0x31574650u /* "PFW1" little-endian */
#define PFW_VERSION 1
#define PFW_DEFAULT_SOCKET "/run/pageflex/agent.sock"

/* Limits. The decoder rejects anything larger. */
#define PFW_MAX_PACKET 65536 /* bytes in one packet */
#define PFW_MAX_TAG 63 /* bytes of a tag or phase name */
#define PFW_MAX_PATH 4095 /* bytes of a file or module path */

enum pfw_type {
	PFW_HELLO = 1, /* first record of every connection */
	PFW_REGION_MAP = 2, /* a range now belongs to a region */
	PFW_REGION_UNMAP = 3, /* a range is no longer mapped */
	PFW_REGION_DISCARD = 4, /* a range's pages were discarded */
	PFW_PHASE = 5, /* the process entered a phase */
	PFW_DROPPED = 6, /* the shim lost events (table or queue full) */
	PFW_TYPE_MAX = 6,
};

/* Kinds of regions: the one numbering of the shim, the agent, the rules and
 * the traces. */
enum pfw_kind {
	PFW_KIND_ANY = 0, /* never a region's kind (refused on the wire); rules: any kind */
	PFW_KIND_ANON = 1,
	PFW_KIND_FILE = 2,
	PFW_KIND_SHM = 3,
	PFW_KIND_STACK = 4,
	PFW_KIND_HEAP = 5, /* a jemalloc extent */
	PFW_KIND_TAGGED = 6, /* pageflex_tag() on an arbitrary range */
	PFW_KIND_MAX = 6,
};

struct pfw_packet {
	uint32_t magic; /* PFW_MAGIC */
	uint16_t version; /* PFW_VERSION */
	uint16_t nrec; /* records that follow */
	uint32_t len; /* bytes of the whole packet, header included */
	uint32_t seq; /* per-connection packet counter, from 0 */
};

struct pfw_rec {
	uint16_t type; /* enum pfw_type */
	uint16_t len; /* bytes of the record, header included, multiple of 8 */
	uint32_t reserved;
};

/* PFW_HELLO: strings: exe path (exe_len bytes). */
struct pfw_hello {
	struct pfw_rec rec;
	uint32_t pid; /* informational: must match SO_PEERCRED */
	uint32_t ppid; /* parent, for fork/exec trees */
	uint32_t flags;
	uint16_t exe_len;
	uint16_t reserved;
	uint64_t page_size;
	char strings[];
};
#define PFW_HELLO_REPLAY 0x1u /* the regions that follow are a replay */

/* PFW_REGION_MAP: strings: tag, then module, then path (if any). */
struct pfw_region_map {
	struct pfw_rec rec;
	uint64_t start; /* page-aligned */
	uint64_t len; /* page-aligned, > 0 */
	uint64_t callsite_off; /* offset of the call site in module */
	uint8_t kind; /* enum pfw_kind */
	uint8_t prot; /* PROT_* bits */
	uint16_t tag_len;
	uint16_t module_len;
	uint16_t path_len;
	char strings[];
};

/* PFW_REGION_UNMAP, PFW_REGION_DISCARD */
struct pfw_range {
	struct pfw_rec rec;
	uint64_t start;
	uint64_t len;
};

/* PFW_PHASE: strings: name. */
struct pfw_phase {
	struct pfw_rec rec;
	uint64_t seq; /* per-process phase counter, from 1 */
	uint16_t name_len;
	uint16_t reserved[3];
	char strings[];
};

/* PFW_DROPPED */
struct pfw_dropped {
	struct pfw_rec rec;
	uint64_t events; /* events lost since the previous PFW_DROPPED */
};

/*
 * Encoder: appends records to a caller-owned buffer (no allocation, safe in
 * a malloc or signal hook). Each pfw_put_* returns 0, or -ENOSPC when the
 * record does not fit (the buffer is unchanged) or -EINVAL on bad arguments.
 */
struct pfw_buf {
	unsigned char *data;
	size_t cap; /* <= PFW_MAX_PACKET */
	size_t len;
	uint16_t nrec;
};

void pfw_buf_init(struct pfw_buf *b, void *data, size_t cap, uint32_t seq);
/* Finishes the packet header; returns the number of bytes to send. */
size_t pfw_buf_finish(struct pfw_buf *b);
int pfw_put_hello(struct pfw_buf *b, uint32_t pid, uint32_t ppid, uint32_t flags, const char *exe,
		  size_t exe_len);
int pfw_put_region_map(struct pfw_buf *b, uint64_t start, uint64_t len, uint8_t kind, uint8_t prot,
		       const char *tag, size_t tag_len, const char *module, size_t module_len,
		       uint64_t callsite_off, const char *path, size_t path_len);
int pfw_put_range(struct pfw_buf *b, enum pfw_type type, uint64_t start, uint64_t len);
int pfw_put_phase(struct pfw_buf *b, uint64_t seq, const char *name, size_t name_len);
int pfw_put_dropped(struct pfw_buf *b, uint64_t events);

/*
 * Decoder: validates a whole packet before the caller sees any record.
 * Every field is checked (magic, version, lengths, alignment, string bounds,
 * kinds, page alignment, address overflow), so the callback only ever sees
 * well-formed records whose strings lie inside the packet.
 */
struct pfw_event {
	enum pfw_type type;
	union {
		struct {
			uint32_t pid, ppid, flags;
			uint64_t page_size;
			const char *exe;
			size_t exe_len;
		} hello;
		struct {
			uint64_t start, len, callsite_off;
			uint8_t kind, prot;
			const char *tag, *module, *path;
			size_t tag_len, module_len, path_len;
		} map;
		struct {
			uint64_t start, len;
		} range; /* UNMAP, DISCARD */
		struct {
			uint64_t seq;
			const char *name;
			size_t name_len;
		} phase;
		struct {
			uint64_t events;
		} dropped;
	};
};

#define PFW_SEQ_ANY UINT32_MAX /* expect_seq that accepts any sequence number */

/* Returns a static string naming the problem, or NULL if the packet is valid. */
const char *pfw_validate(const void *data, size_t len, uint32_t expect_seq);
/*
 * Validates, then calls fn for each record in order. Returns NULL on success,
 * the validation error, or "callback failed" if fn returned non-zero.
 */
const char *pfw_decode(const void *data, size_t len, uint32_t expect_seq,
		       int (*fn)(const struct pfw_event *ev, void *arg), void *arg);

const char *pfw_kind_name(unsigned kind);

#ifdef __cplusplus
}
#endif
#endif
