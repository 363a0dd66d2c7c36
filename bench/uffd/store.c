/* SPDX-License-Identifier: MIT */
/*
 * pf-uffd backing store: where evicted pages live. Two kinds, matching the
 * kernel's two swap tiers:
 *   lz4  pages compressed with LZ4 into a private pool (the zram analogue):
 *        size classes of 64 bytes with free lists, pages that do not shrink
 *        below 3.5 KiB kept raw;
 *   file pages written with O_DIRECT to an unlinked file on disk (the disk
 *        swap analogue), one 4 KiB slot per page, no page cache.
 * The pool is carved from one raw reservation so the handler never mallocs.
 */
#include "pager.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define UNIT 64
#define NCLASS (PG / UNIT)
#define POOL_RESERVE (64ULL << 30)

static char *pool;
static uint64_t pool_top;
static uint64_t freelist[NCLASS + 1]; /* pool offsets + 1; 0 = empty */
static char cbuf[LZ4_COMPRESSBOUND(PG)];

int store_init(void)
{
	if (pf.store == STORE_LZ4) {
		pool = pf_raw_mmap(NULL, POOL_RESERVE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		return pool == MAP_FAILED ? -ENOMEM : 0;
	}
	const char *dir = getenv("PF_UFFD_DIR"); /* read once, at start-up */
	char path[512];
	snprintf(path, sizeof(path), "%s/pf-uffd-store.%d", dir && *dir ? dir : "/var/tmp",
		 (int)getpid());
	pf.file_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	if (pf.file_fd < 0)
		return -errno;
	unlink(path);
	return 0;
}

static uint64_t pool_alloc(unsigned cls)
{
	if (freelist[cls]) {
		uint64_t off = freelist[cls] - 1;
		memcpy(&freelist[cls], pool + off, sizeof(uint64_t));
		return off;
	}
	uint64_t off = pool_top;
	pool_top += (uint64_t)cls * UNIT;
	return off;
}

static void pool_free(uint64_t off, unsigned cls)
{
	memcpy(pool + off, &freelist[cls], sizeof(uint64_t));
	freelist[cls] = off + 1;
}

static void account(int64_t delta, int64_t pages)
{
	pf.st.stored_pages += (uint64_t)pages;
	if (pf.st.stored_pages > pf.st.stored_pages_peak)
		pf.st.stored_pages_peak = pf.st.stored_pages;
	pf.st.store_bytes += (uint64_t)delta;
	if (pf.st.store_bytes > pf.st.store_bytes_peak)
		pf.st.store_bytes_peak = pf.st.store_bytes;
}

int store_put(struct region *r, uint64_t pgidx, const void *src)
{
	struct pg_meta *m = &r->meta[pgidx];
	if (pf.store == STORE_FILE)
		return store_put_run(r, pgidx, src, 1);
	int n = LZ4_compress_default(src, cbuf, (int)PG, (int)sizeof(cbuf));
	const void *data = cbuf;
	if (n <= 0 || n > (int)(PG - PG / 8)) {
		n = (int)PG;
		data = src;
	}
	unsigned cls = (unsigned)((n + UNIT - 1) / UNIT);
	uint64_t off = pool_alloc(cls);
	if (off + (uint64_t)cls * UNIT > POOL_RESERVE)
		return -ENOMEM;
	memcpy(pool + off, data, (size_t)n);
	m->loc = off;
	m->clen = (uint16_t)n;
	account((int64_t)cls * UNIT, 1);
	return 0;
}

int store_put_run(struct region *r, uint64_t pgidx, const char *src, unsigned n)
{
	if (pf.store == STORE_LZ4) {
		for (unsigned i = 0; i < n; i++) {
			int rc = store_put(r, pgidx + i, src + i * PG);
			if (rc)
				return rc;
		}
		return 0;
	}
	uint64_t slot = r->slot_base + pgidx;
	size_t len = (size_t)n * PG;
	size_t done = 0;
	while (done < len) {
		ssize_t w = pwrite(pf.file_fd, src + done, len - done, (off_t)(slot * PG + done));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)w;
	}
	for (unsigned i = 0; i < n; i++) {
		r->meta[pgidx + i].loc = slot + i;
		r->meta[pgidx + i].clen = (uint16_t)PG;
	}
	account((int64_t)len, n);
	return 0;
}

int store_get(struct region *r, uint64_t pgidx, void *dst)
{
	struct pg_meta *m = &r->meta[pgidx];
	if (pf.store == STORE_FILE) {
		ssize_t n;
		do
			n = pread(pf.file_fd, dst, PG, (off_t)(m->loc * PG));
		while (n < 0 && errno == EINTR);
		return n == (ssize_t)PG ? 0 : (n < 0 ? -errno : -EIO);
	}
	if (m->clen == PG) {
		memcpy(dst, pool + m->loc, PG);
		return 0;
	}
	int n = LZ4_decompress_safe(pool + m->loc, dst, m->clen, (int)PG);
	return n == (int)PG ? 0 : -EIO;
}

int store_get_run(struct region *r, uint64_t pgidx, unsigned n, char *dst)
{
	struct pg_meta *m = &r->meta[pgidx];
	bool contiguous = pf.store == STORE_FILE;
	for (unsigned i = 1; contiguous && i < n; i++)
		contiguous = m[i].loc == m[0].loc + i;
	if (!contiguous) {
		for (unsigned i = 0; i < n; i++) {
			int rc = store_get(r, pgidx + i, dst + (size_t)i * PG);
			if (rc)
				return rc;
		}
		return 0;
	}
	size_t len = (size_t)n * PG, done = 0;
	while (done < len) {
		ssize_t got =
			pread(pf.file_fd, dst + done, len - done, (off_t)(m->loc * PG + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		done += (size_t)got;
	}
	return 0;
}

void store_drop(struct region *r, uint64_t pgidx)
{
	struct pg_meta *m = &r->meta[pgidx];
	if (pf.store == STORE_FILE) {
		account(-(int64_t)PG, -1);
		return; /* the slot belongs to this page for the region's life */
	}
	unsigned cls = (unsigned)((m->clen + UNIT - 1) / UNIT);
	pool_free(m->loc, cls);
	account(-(int64_t)cls * UNIT, -1);
}
