// SPDX-License-Identifier: MIT
/*
 * Reading and writing PageFlex trace files (format in trace.h). The reader
 * checks every length against the type and the bytes left, so a truncated
 * or corrupt file is reported with the offset of the bad record.
 */
#include "trace.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct pf_trace_header) == 64, "header is 64 bytes");
_Static_assert(sizeof(struct pf_trace_rec_hdr) == 16, "record header is 16 bytes");
_Static_assert(sizeof(struct pf_trace_region) % 8 == 0, "records are 8-byte multiples");
_Static_assert(sizeof(struct pf_trace_access) == 32, "access record is 32 bytes");
_Static_assert(sizeof(struct pf_trace_fault) == 32, "fault record is 32 bytes");
_Static_assert(sizeof(struct pf_trace_scan) == 32, "scan record header is 32 bytes");
_Static_assert(sizeof(struct pf_trace_pages) == 32, "pages record header is 32 bytes");
_Static_assert(sizeof(struct pf_trace_action) == 32, "action record header is 32 bytes");
_Static_assert(sizeof(struct pf_trace_state) % 8 == 0, "records are 8-byte multiples");
_Static_assert(offsetof(struct pf_trace_state, clear_every) == PF_TRACE_STATE_V2_SIZE,
	       "version 3 only appends to STATE");
_Static_assert(sizeof(struct pf_trace_state) == 280, "state record header is 280 bytes");

struct pf_trace_reader {
	FILE *f;
	char *path;
	struct pf_trace_header hdr;
	uint64_t off; /* offset of the next record */
	uint64_t last; /* offset of the last record */
	uint64_t size;
	unsigned char *buf;
	size_t cap;
	uint64_t *acc; /* PAGES: the accessed bits as a SCAN bitmap */
	size_t capacc; /* words */
	char tag[PF_TRACE_TAG_MAX + 1], symbol[PF_TRACE_SYMBOL_MAX + 1];
	struct pf_trace_state state; /* STATE: the record's fixed part, as version 3 */
};

static const uint32_t min_len[PF_TR_TYPE_MAX + 1] = {
	[PF_TR_REGION] = sizeof(struct pf_trace_region),
	[PF_TR_REGION_END] = sizeof(struct pf_trace_region_end),
	[PF_TR_PHASE] = sizeof(struct pf_trace_phase),
	[PF_TR_ACCESS] = sizeof(struct pf_trace_access),
	[PF_TR_FAULT] = sizeof(struct pf_trace_fault),
	[PF_TR_SCAN] = sizeof(struct pf_trace_scan),
	[PF_TR_PAGES] = sizeof(struct pf_trace_pages),
	[PF_TR_TICK] = sizeof(struct pf_trace_tick),
	[PF_TR_ACTION] = sizeof(struct pf_trace_action),
	[PF_TR_STATE] = PF_TRACE_STATE_V2_SIZE, /* version 3: sizeof (pf_trace_next) */
};

struct pf_trace_reader *pf_trace_open(const char *path, char *err, size_t errlen)
{
	struct pf_trace_reader *r = calloc(1, sizeof(*r));
	long size;

	if (!r || !(r->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fseek(r->f, 0, SEEK_END) || (size = ftell(r->f)) < 0 || fseek(r->f, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot seek: %s", path, strerror(errno));
		goto fail;
	}
	r->size = (uint64_t)size;
	if (r->size < sizeof(r->hdr) || fread(&r->hdr, sizeof(r->hdr), 1, r->f) != 1) {
		snprintf(err, errlen, "%s: offset 0: truncated header (%llu of %zu bytes)", path,
			 (unsigned long long)r->size, sizeof(r->hdr));
		goto fail;
	}
	if (memcmp(r->hdr.magic, PF_TRACE_MAGIC, sizeof(r->hdr.magic))) {
		snprintf(err, errlen, "%s: offset 0: not a PageFlex trace (bad magic)", path);
		goto fail;
	}
	if (r->hdr.version < 1 || r->hdr.version > PF_TRACE_VERSION) {
		snprintf(err, errlen, "%s: offset 8: unsupported version %u (this reader: 1..%u)",
			 path, r->hdr.version, PF_TRACE_VERSION);
		goto fail;
	}
	if (r->hdr.version == 1) /* reserved bytes then */
		r->hdr.clock_ms = r->hdr.scan_ms = r->hdr.flags = 0;
	if (r->hdr.header_size < sizeof(r->hdr) || r->hdr.header_size % 8 ||
	    r->hdr.header_size > r->size) {
		snprintf(err, errlen, "%s: offset 12: bad header size %u", path,
			 r->hdr.header_size);
		goto fail;
	}
	r->off = r->hdr.header_size;
	if (fseek(r->f, (long)r->off, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot seek: %s", path, strerror(errno));
		goto fail;
	}
	return r;
fail:
	pf_trace_close(r);
	return NULL;
}

const struct pf_trace_header *pf_trace_header(const struct pf_trace_reader *r)
{
	return &r->hdr;
}

uint64_t pf_trace_offset(const struct pf_trace_reader *r)
{
	return r->last;
}

void pf_trace_close(struct pf_trace_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r->acc);
	free(r->path);
	free(r);
}

static void copy_str(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
}

#define BAD(...)                                                              \
	do {                                                                  \
		int n_ = snprintf(err, errlen, "%s: offset %llu: ", r->path,  \
				  (unsigned long long)r->last);               \
		if (n_ >= 0 && (size_t)n_ < errlen)                           \
			snprintf(err + n_, errlen - (size_t)n_, __VA_ARGS__); \
		return -1;                                                    \
	} while (0)

int pf_trace_next(struct pf_trace_reader *r, struct pf_trace_event *ev, char *err, size_t errlen)
{
	struct pf_trace_rec_hdr h;
	uint64_t left = r->size - r->off;

	r->last = r->off;
	if (left == 0)
		return 0;
	if (left < sizeof(h))
		BAD("truncated record header (%llu of 16 bytes)", (unsigned long long)left);
	if (fread(&h, sizeof(h), 1, r->f) != 1)
		BAD("read error: %s", strerror(errno));
	if (h.type == 0 || h.type > PF_TR_TYPE_MAX || (r->hdr.version == 1 && h.type > PF_TR_SCAN))
		BAD("unknown record type %u (version %u)", h.type, r->hdr.version);
	if (h.len % 8 || h.len < min_len[h.type])
		BAD("bad length %u for a record of type %u (needs a multiple of 8, >= %u)", h.len,
		    h.type, min_len[h.type]);
	if (h.len > left)
		BAD("truncated record of type %u (%u bytes, %llu left)", h.type, h.len,
		    (unsigned long long)left);
	if (h.len > r->cap) {
		unsigned char *nb = realloc(r->buf, h.len);

		if (!nb)
			BAD("out of memory for a %u-byte record", h.len);
		r->buf = nb;
		r->cap = h.len;
	}
	memcpy(r->buf, &h, sizeof(h));
	if (h.len > sizeof(h) && fread(r->buf + sizeof(h), h.len - sizeof(h), 1, r->f) != 1)
		BAD("read error: %s", strerror(errno));
	r->off += h.len;

	memset(ev, 0, sizeof(*ev));
	ev->type = (enum pf_trace_type)h.type;
	ev->time_ns = h.time_ns;
	switch (h.type) {
	case PF_TR_REGION: {
		const struct pf_trace_region *x = (const void *)r->buf;

		if (x->kind > 6)
			BAD("region %u: bad kind %u", x->region, x->kind);
		copy_str(r->tag, x->tag, PF_TRACE_TAG_MAX);
		copy_str(r->symbol, x->symbol, PF_TRACE_SYMBOL_MAX);
		ev->region = x->region;
		ev->kind = x->kind;
		ev->start = x->start;
		ev->npages = x->npages;
		ev->tag = r->tag;
		ev->symbol = r->symbol;
		break;
	}
	case PF_TR_REGION_END:
		ev->region = ((const struct pf_trace_region_end *)(const void *)r->buf)->region;
		break;
	case PF_TR_PHASE:
		copy_str(r->tag, ((const struct pf_trace_phase *)(const void *)r->buf)->name,
			 PF_TRACE_TAG_MAX);
		ev->name = r->tag;
		break;
	case PF_TR_ACCESS: {
		const struct pf_trace_access *x = (const void *)r->buf;

		ev->region = x->region;
		ev->page = x->page;
		break;
	}
	case PF_TR_FAULT: {
		const struct pf_trace_fault *x = (const void *)r->buf;

		if (x->kind > PF_FAULT_SWAPCACHE)
			BAD("bad fault kind %u", x->kind);
		ev->region = x->region;
		ev->page = x->page;
		ev->kind = x->kind;
		break;
	}
	case PF_TR_SCAN: {
		const struct pf_trace_scan *x = (const void *)r->buf;
		uint64_t want;

		if (x->npages == 0 || x->npages > PF_TRACE_SCAN_MAX_PAGES)
			BAD("scan of %u pages (1..%u)", x->npages, PF_TRACE_SCAN_MAX_PAGES);
		want = sizeof(*x) + ((uint64_t)x->npages + 63) / 64 * 8;
		if (h.len != want)
			BAD("scan of %u pages needs %llu bytes, record has %u", x->npages,
			    (unsigned long long)want, h.len);
		ev->region = x->region;
		ev->first_page = x->first_page;
		ev->npages = x->npages;
		ev->bitmap = (const uint64_t *)(const void *)(r->buf + sizeof(*x));
		break;
	}
	case PF_TR_PAGES: {
		const struct pf_trace_pages *x = (const void *)r->buf;
		uint64_t want, words;

		if (x->npages == 0 || x->npages > PF_TRACE_SCAN_MAX_PAGES)
			BAD("pages record of %u pages (1..%u)", x->npages, PF_TRACE_SCAN_MAX_PAGES);
		want = sizeof(*x) + ((uint64_t)x->npages + 31) / 32 * 8;
		if (h.len != want)
			BAD("pages record of %u pages needs %llu bytes, record has %u", x->npages,
			    (unsigned long long)want, h.len);
		words = ((uint64_t)x->npages + 63) / 64;
		if (words > r->capacc) {
			uint64_t *na = realloc(r->acc, words * 8);

			if (!na)
				BAD("out of memory for a %u-page record", x->npages);
			r->acc = na;
			r->capacc = words;
		}
		ev->region = x->region;
		ev->first_page = x->first_page;
		ev->npages = x->npages;
		ev->states = (const uint64_t *)(const void *)(r->buf + sizeof(*x));
		memset(r->acc, 0, words * 8);
		for (uint64_t i = 0; i < x->npages; i++)
			if (pf_trace_page_state(ev->states, i) == PF_PG_ACCESSED)
				r->acc[i / 64] |= 1ull << (i % 64);
		ev->bitmap = r->acc;
		break;
	}
	case PF_TR_TICK:
		if (h.len != sizeof(struct pf_trace_tick))
			BAD("tick record of %u bytes (16)", h.len);
		break;
	case PF_TR_ACTION: {
		const struct pf_trace_action *x = (const void *)r->buf;

		if (x->kind > PF_ACT_KIND_MAX)
			BAD("bad action kind %u", x->kind);
		if (x->nranges > (h.len - sizeof(*x)) / 16 || h.len != sizeof(*x) + x->nranges * 16)
			BAD("action record of %llu ranges needs %llu bytes, record has %u",
			    (unsigned long long)x->nranges,
			    (unsigned long long)(sizeof(*x) + x->nranges * 16), h.len);
		ev->region = x->region;
		ev->kind = x->kind;
		ev->nranges = x->nranges;
		ev->ranges = (const uint64_t *)(const void *)(r->buf + sizeof(*x));
		for (uint64_t i = 0; i < x->nranges; i++)
			if (ev->ranges[2 * i + 1] == 0 ||
			    ev->ranges[2 * i] + ev->ranges[2 * i + 1] < ev->ranges[2 * i])
				BAD("action range %llu is empty or wraps", (unsigned long long)i);
		break;
	}
	case PF_TR_STATE: {
		/* Version 2's shorter record reads with the clear fields zero. */
		size_t fixed = r->hdr.version >= 3 ? sizeof(r->state) : PF_TRACE_STATE_V2_SIZE;
		struct pf_trace_state *x = &r->state;
		uint64_t want;

		if (h.len < fixed)
			BAD("state record of %u bytes (needs %zu)", h.len, fixed);
		memset(x, 0, sizeof(*x));
		memcpy(x, r->buf, fixed);
		if (x->npages > PF_TRACE_SCAN_MAX_PAGES)
			BAD("state record of %u pages (at most %u)", x->npages,
			    PF_TRACE_SCAN_MAX_PAGES);
		want = fixed + ((uint64_t)x->npages * 4 + 7) / 8 * 8;
		if (h.len != want)
			BAD("state record of %u pages needs %llu bytes, record has %u", x->npages,
			    (unsigned long long)want, h.len);
		if (x->mode > 2)
			BAD("state record: bad threshold mode %u", x->mode);
		if (!memchr(x->reclaim, 0, sizeof(x->reclaim)))
			BAD("state record: policy name not terminated");
		if (x->clear_n > PF_TRACE_CLEAR_SEGS || x->seg_known >> x->clear_n)
			BAD("state record: bad clear segments (%u, known %#x)", x->clear_n,
			    x->seg_known);
		ev->region = x->region;
		ev->first_page = x->first_page;
		ev->npages = x->npages;
		ev->state = x;
		ev->page_states = (const uint32_t *)(const void *)(r->buf + fixed);
		break;
	}
	}
	return 1;
}

struct pf_trace_writer {
	FILE *f;
	int err;
	struct pf_trace_header h;
};

static void put(struct pf_trace_writer *w, const void *p, size_t n)
{
	if (!w->err && fwrite(p, n, 1, w->f) != 1)
		w->err = errno ? errno : EIO;
}

static void rec_hdr(struct pf_trace_rec_hdr *h, uint16_t type, uint32_t len, uint64_t time_ns)
{
	h->type = type;
	h->flags = 0;
	h->len = len;
	h->time_ns = time_ns;
}

struct pf_trace_writer *pf_trace_create(const char *path, uint32_t pid, const char *comm,
					uint64_t start_ns, char *err, size_t errlen)
{
	struct pf_trace_writer *w = calloc(1, sizeof(*w));
	struct pf_trace_header h = {.version = PF_TRACE_VERSION};

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->f = fopen(path, "wb");
	if (!w->f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(w);
		return NULL;
	}
	memcpy(h.magic, PF_TRACE_MAGIC, sizeof(h.magic));
	h.header_size = sizeof(h);
	h.page_size = 4096;
	h.pid = pid;
	h.start_ns = start_ns;
	if (comm)
		strncpy(h.comm, comm, sizeof(h.comm) - 1);
	w->h = h;
	put(w, &h, sizeof(h));
	return w;
}

int pf_trace_write_region(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			  uint8_t kind, uint64_t start, uint64_t npages, const char *tag,
			  const char *symbol)
{
	struct pf_trace_region x = {
		.region = region, .kind = kind, .start = start, .npages = npages};

	rec_hdr(&x.h, PF_TR_REGION, sizeof(x), time_ns);
	if (tag)
		strncpy(x.tag, tag, sizeof(x.tag) - 1);
	if (symbol)
		strncpy(x.symbol, symbol, sizeof(x.symbol) - 1);
	put(w, &x, sizeof(x));
	return -w->err;
}

int pf_trace_write_region_end(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region)
{
	struct pf_trace_region_end x = {.region = region};

	rec_hdr(&x.h, PF_TR_REGION_END, sizeof(x), time_ns);
	put(w, &x, sizeof(x));
	return -w->err;
}

int pf_trace_write_phase(struct pf_trace_writer *w, uint64_t time_ns, const char *name)
{
	struct pf_trace_phase x = {0};

	rec_hdr(&x.h, PF_TR_PHASE, sizeof(x), time_ns);
	strncpy(x.name, name, sizeof(x.name) - 1);
	put(w, &x, sizeof(x));
	return -w->err;
}

int pf_trace_write_access(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			  uint64_t page)
{
	struct pf_trace_access x = {.region = region, .page = page};

	rec_hdr(&x.h, PF_TR_ACCESS, sizeof(x), time_ns);
	put(w, &x, sizeof(x));
	return -w->err;
}

int pf_trace_write_fault(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			 uint64_t page, uint8_t kind)
{
	struct pf_trace_fault x = {.region = region, .kind = kind, .page = page};

	rec_hdr(&x.h, PF_TR_FAULT, sizeof(x), time_ns);
	put(w, &x, sizeof(x));
	return -w->err;
}

int pf_trace_write_scan(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			uint64_t first_page, uint32_t npages, const uint64_t *bitmap)
{
	struct pf_trace_scan x = {.region = region, .npages = npages, .first_page = first_page};
	size_t words = ((size_t)npages + 63) / 64;

	if (npages == 0 || npages > PF_TRACE_SCAN_MAX_PAGES)
		return -EINVAL;
	rec_hdr(&x.h, PF_TR_SCAN, (uint32_t)(sizeof(x) + words * 8), time_ns);
	put(w, &x, sizeof(x));
	put(w, bitmap, words * 8);
	return -w->err;
}

int pf_trace_set_info(struct pf_trace_writer *w, uint64_t clock_ms, uint32_t scan_ms,
		      uint32_t flags)
{
	long here = ftell(w->f);

	w->h.clock_ms = clock_ms;
	w->h.scan_ms = scan_ms;
	w->h.flags = flags;
	if (!w->err && (here < 0 || fseek(w->f, 0, SEEK_SET)))
		w->err = errno ? errno : EIO;
	put(w, &w->h, sizeof(w->h));
	if (!w->err && fseek(w->f, here, SEEK_SET))
		w->err = errno ? errno : EIO;
	return -w->err;
}

int pf_trace_write_pages(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			 uint64_t first_page, uint32_t npages, const uint64_t *states)
{
	struct pf_trace_pages x = {.region = region, .npages = npages, .first_page = first_page};
	size_t words = ((size_t)npages + 31) / 32;

	if (npages == 0 || npages > PF_TRACE_SCAN_MAX_PAGES)
		return -EINVAL;
	rec_hdr(&x.h, PF_TR_PAGES, (uint32_t)(sizeof(x) + words * 8), time_ns);
	put(w, &x, sizeof(x));
	put(w, states, words * 8);
	return -w->err;
}

int pf_trace_write_tick(struct pf_trace_writer *w, uint64_t time_ns)
{
	struct pf_trace_tick x;

	rec_hdr(&x.h, PF_TR_TICK, sizeof(x), time_ns);
	put(w, &x, sizeof(x));
	return -w->err;
}

int pf_trace_write_action(struct pf_trace_writer *w, uint64_t time_ns, uint32_t region,
			  uint8_t kind, const uint64_t *ranges, uint64_t nranges)
{
	struct pf_trace_action x = {.region = region, .kind = kind, .nranges = nranges};

	if (kind > PF_ACT_KIND_MAX || nranges > (UINT32_MAX - sizeof(x)) / 16)
		return -EINVAL;
	rec_hdr(&x.h, PF_TR_ACTION, (uint32_t)(sizeof(x) + nranges * 16), time_ns);
	put(w, &x, sizeof(x));
	if (nranges)
		put(w, ranges, nranges * 16);
	return -w->err;
}

int pf_trace_write_state(struct pf_trace_writer *w, uint64_t time_ns,
			 const struct pf_trace_state *x, const uint32_t *states)
{
	struct pf_trace_state y = *x;
	size_t bytes = (size_t)x->npages * 4;
	static const uint32_t zero;

	if (x->npages > PF_TRACE_SCAN_MAX_PAGES)
		return -EINVAL;
	rec_hdr(&y.h, PF_TR_STATE, (uint32_t)(sizeof(y) + (bytes + 7) / 8 * 8), time_ns);
	put(w, &y, sizeof(y));
	if (bytes)
		put(w, states, bytes);
	if (bytes % 8)
		put(w, &zero, 4);
	return -w->err;
}

int pf_trace_finish(struct pf_trace_writer *w)
{
	int err;

	if (!w)
		return 0;
	if (fflush(w->f) && !w->err)
		w->err = errno ? errno : EIO;
	if (fclose(w->f) && !w->err)
		w->err = errno ? errno : EIO;
	err = w->err;
	free(w);
	return -err;
}
