// SPDX-License-Identifier: MIT
/*
 * Encoder and validating decoder of the shim <-> agent wire protocol
 * (pageflex_wire.h). The encoder runs inside malloc/mmap hooks: it uses no
 * allocation, no stdio and no locks. The decoder runs in the agent on bytes
 * from untrusted processes: it validates the whole packet before handing out
 * a single record.
 */
#include "pageflex_wire.h"

#include <errno.h>
#include <string.h>

#define PFW_ALIGN(n) (((n) + 7u) & ~(size_t)7u)
#define PFW_PAGE_MASK 4095u

void pfw_buf_init(struct pfw_buf *b, void *data, size_t cap, uint32_t seq)
{
	struct pfw_packet *p = data;

	b->data = data;
	b->cap = cap > PFW_MAX_PACKET ? PFW_MAX_PACKET : cap;
	b->len = sizeof(*p);
	b->nrec = 0;
	memset(p, 0, sizeof(*p));
	p->magic = PFW_MAGIC;
	p->version = PFW_VERSION;
	p->seq = seq;
}

size_t pfw_buf_finish(struct pfw_buf *b)
{
	struct pfw_packet *p = (struct pfw_packet *)b->data;

	p->nrec = b->nrec;
	p->len = (uint32_t)b->len;
	return b->len;
}

/* Reserves a zeroed record of fixed size hdr + strings; NULL if it won't fit. */
static void *reserve(struct pfw_buf *b, enum pfw_type type, size_t hdr, size_t strings)
{
	size_t len = PFW_ALIGN(hdr + strings);
	struct pfw_rec *r;

	if (len > UINT16_MAX || b->len + len > b->cap || b->nrec == UINT16_MAX)
		return NULL;
	r = (struct pfw_rec *)(b->data + b->len);
	memset(r, 0, len);
	r->type = (uint16_t)type;
	r->len = (uint16_t)len;
	b->len += len;
	b->nrec++;
	return r;
}

int pfw_put_hello(struct pfw_buf *b, uint32_t pid, uint32_t ppid, uint32_t flags, const char *exe,
		  size_t exe_len)
{
	struct pfw_hello *h;

	if (exe_len > PFW_MAX_PATH)
		exe_len = PFW_MAX_PATH;
	h = reserve(b, PFW_HELLO, sizeof(*h), exe_len);
	if (!h)
		return -ENOSPC;
	h->pid = pid;
	h->ppid = ppid;
	h->flags = flags;
	h->page_size = 4096;
	h->exe_len = (uint16_t)exe_len;
	if (exe_len)
		memcpy(h->strings, exe, exe_len);
	return 0;
}

int pfw_put_region_map(struct pfw_buf *b, uint64_t start, uint64_t len, uint8_t kind, uint8_t prot,
		       const char *tag, size_t tag_len, const char *module, size_t module_len,
		       uint64_t callsite_off, const char *path, size_t path_len)
{
	struct pfw_region_map *m;

	if (!len || (start | len) & PFW_PAGE_MASK || start + len < start || !kind ||
	    kind > PFW_KIND_MAX)
		return -EINVAL;
	/* Over-long strings are truncated, never refused: a name is a hint. */
	if (tag_len > PFW_MAX_TAG)
		tag_len = PFW_MAX_TAG;
	if (module_len > PFW_MAX_PATH)
		module_len = PFW_MAX_PATH;
	if (path_len > PFW_MAX_PATH)
		path_len = PFW_MAX_PATH;
	m = reserve(b, PFW_REGION_MAP, sizeof(*m), tag_len + module_len + path_len);
	if (!m)
		return -ENOSPC;
	m->start = start;
	m->len = len;
	m->callsite_off = callsite_off;
	m->kind = kind;
	m->prot = prot;
	m->tag_len = (uint16_t)tag_len;
	m->module_len = (uint16_t)module_len;
	m->path_len = (uint16_t)path_len;
	if (tag_len)
		memcpy(m->strings, tag, tag_len);
	if (module_len)
		memcpy(m->strings + tag_len, module, module_len);
	if (path_len)
		memcpy(m->strings + tag_len + module_len, path, path_len);
	return 0;
}

int pfw_put_range(struct pfw_buf *b, enum pfw_type type, uint64_t start, uint64_t len)
{
	struct pfw_range *r;

	if ((type != PFW_REGION_UNMAP && type != PFW_REGION_DISCARD) || !len ||
	    (start | len) & PFW_PAGE_MASK || start + len < start)
		return -EINVAL;
	r = reserve(b, type, sizeof(*r), 0);
	if (!r)
		return -ENOSPC;
	r->start = start;
	r->len = len;
	return 0;
}

int pfw_put_phase(struct pfw_buf *b, uint64_t seq, const char *name, size_t name_len)
{
	struct pfw_phase *p;

	if (!name_len)
		return -EINVAL;
	if (name_len > PFW_MAX_TAG)
		name_len = PFW_MAX_TAG;
	p = reserve(b, PFW_PHASE, sizeof(*p), name_len);
	if (!p)
		return -ENOSPC;
	p->seq = seq;
	p->name_len = (uint16_t)name_len;
	memcpy(p->strings, name, name_len);
	return 0;
}

int pfw_put_dropped(struct pfw_buf *b, uint64_t events)
{
	struct pfw_dropped *d = reserve(b, PFW_DROPPED, sizeof(*d), 0);

	if (!d)
		return -ENOSPC;
	d->events = events;
	return 0;
}

/* Checks one record and fills ev; returns an error string or NULL. */
static const char *parse_rec(const unsigned char *r, size_t len, struct pfw_event *ev)
{
	const struct pfw_rec *h = (const void *)r;

	memset(ev, 0, sizeof(*ev));
	ev->type = h->type;
	switch (h->type) {
	case PFW_HELLO: {
		const struct pfw_hello *m = (const void *)r;

		if (len < sizeof(*m))
			return "hello record too short";
		if (m->exe_len > PFW_MAX_PATH || sizeof(*m) + m->exe_len > len)
			return "hello exe path out of bounds";
		if (m->page_size != 4096)
			return "hello page size unsupported";
		ev->hello.pid = m->pid;
		ev->hello.ppid = m->ppid;
		ev->hello.flags = m->flags;
		ev->hello.page_size = m->page_size;
		ev->hello.exe = m->strings;
		ev->hello.exe_len = m->exe_len;
		return NULL;
	}
	case PFW_REGION_MAP: {
		const struct pfw_region_map *m = (const void *)r;

		if (len < sizeof(*m))
			return "region record too short";
		if (m->tag_len > PFW_MAX_TAG || m->module_len > PFW_MAX_PATH ||
		    m->path_len > PFW_MAX_PATH ||
		    sizeof(*m) + (size_t)m->tag_len + m->module_len + m->path_len > len)
			return "region strings out of bounds";
		if (!m->len || (m->start | m->len) & PFW_PAGE_MASK)
			return "region not page-aligned or empty";
		if (m->start + m->len < m->start)
			return "region wraps the address space";
		if (!m->kind || m->kind > PFW_KIND_MAX)
			return "region kind unknown";
		ev->map.start = m->start;
		ev->map.len = m->len;
		ev->map.callsite_off = m->callsite_off;
		ev->map.kind = m->kind;
		ev->map.prot = m->prot;
		ev->map.tag = m->strings;
		ev->map.tag_len = m->tag_len;
		ev->map.module = m->strings + m->tag_len;
		ev->map.module_len = m->module_len;
		ev->map.path = m->strings + m->tag_len + m->module_len;
		ev->map.path_len = m->path_len;
		return NULL;
	}
	case PFW_REGION_UNMAP:
	case PFW_REGION_DISCARD: {
		const struct pfw_range *m = (const void *)r;

		if (len < sizeof(*m))
			return "range record too short";
		if (!m->len || (m->start | m->len) & PFW_PAGE_MASK)
			return "range not page-aligned or empty";
		if (m->start + m->len < m->start)
			return "range wraps the address space";
		ev->range.start = m->start;
		ev->range.len = m->len;
		return NULL;
	}
	case PFW_PHASE: {
		const struct pfw_phase *m = (const void *)r;

		if (len < sizeof(*m))
			return "phase record too short";
		if (!m->name_len || m->name_len > PFW_MAX_TAG || sizeof(*m) + m->name_len > len)
			return "phase name out of bounds";
		ev->phase.seq = m->seq;
		ev->phase.name = m->strings;
		ev->phase.name_len = m->name_len;
		return NULL;
	}
	case PFW_DROPPED: {
		const struct pfw_dropped *m = (const void *)r;

		if (len < sizeof(*m))
			return "dropped record too short";
		ev->dropped.events = m->events;
		return NULL;
	}
	default:
		return "record type unknown";
	}
}

static const char *walk(const void *data, size_t len, uint32_t expect_seq,
			int (*fn)(const struct pfw_event *, void *), void *arg)
{
	const unsigned char *p = data;
	struct pfw_packet hdr;
	struct pfw_event ev;
	size_t off;
	unsigned i;

	if (!data || len < sizeof(hdr))
		return "packet too short";
	if (len > PFW_MAX_PACKET)
		return "packet too long";
	if ((uintptr_t)data & 7u)
		return "packet buffer misaligned";
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != PFW_MAGIC)
		return "bad magic";
	if (hdr.version != PFW_VERSION)
		return "unsupported protocol version";
	if (hdr.len != len)
		return "packet length mismatch";
	if (expect_seq != PFW_SEQ_ANY && hdr.seq != expect_seq)
		return "packet sequence number out of order";

	off = sizeof(hdr);
	for (i = 0; i < hdr.nrec; i++) {
		const struct pfw_rec *r = (const void *)(p + off);
		const char *err;

		if (len - off < sizeof(*r))
			return "record header past end of packet";
		if (r->len < sizeof(*r) || r->len & 7u || r->len > len - off)
			return "record length invalid";
		err = parse_rec(p + off, r->len, &ev);
		if (err)
			return err;
		if (fn && fn(&ev, arg))
			return "callback failed";
		off += r->len;
	}
	if (off != len)
		return "trailing bytes after last record";
	return NULL;
}

const char *pfw_validate(const void *data, size_t len, uint32_t expect_seq)
{
	return walk(data, len, expect_seq, NULL, NULL);
}

const char *pfw_decode(const void *data, size_t len, uint32_t expect_seq,
		       int (*fn)(const struct pfw_event *ev, void *arg), void *arg)
{
	const char *err = pfw_validate(data, len, expect_seq);

	return err ? err : walk(data, len, expect_seq, fn, arg);
}

const char *pfw_kind_name(unsigned kind)
{
	static const char *const names[] = {
		[PFW_KIND_ANY] = "any",	      [PFW_KIND_ANON] = "anon",	  [PFW_KIND_FILE] = "file",
		[PFW_KIND_SHM] = "shm",	      [PFW_KIND_STACK] = "stack", [PFW_KIND_HEAP] = "heap",
		[PFW_KIND_TAGGED] = "tagged",
	};

	return kind <= PFW_KIND_MAX ? names[kind] : "unknown";
}
