/* SPDX-License-Identifier: MIT */
/*
 * pf-uffd fault handler, reclaim and prefetch.
 *
 * One handler thread reads fault messages from the userfaultfd, spinning on a
 * non-blocking read (PF_UFFD_SPIN=1, the default) or sleeping in poll(). A
 * missing-page fault is resolved with UFFDIO_COPY: zeros for a page never
 * seen, the page's data from the store for an evicted one.
 *
 * Reclaim keeps the managed regions' resident pages under a budget. A uffd
 * pager sees faults, not accesses (no accessed bits), so the policy is FIFO
 * by fault-in time with a second chance for pages that were refaulted after
 * an eviction (a CLOCK whose reference bit is "evicted too early once").
 * Victims are taken out of the app atomically with UFFDIO_MOVE into a staging
 * area registered on a second userfaultfd (no copy races with the app's
 * writes), compressed or written to the store, and the staging area is
 * discarded, a batch at a time.
 *
 * Prefetch follows faults: when two successive faults of a region are the
 * same distance apart (a sequential or strided scan), the next `window`
 * pages at that stride are copied in too (their stored data, or zeros for
 * pages never touched, so a sequential first touch takes few faults); the
 * window doubles
 * up to PF_UFFD_PREFETCH while the pattern holds (readahead + stride, Leap's
 * trend detection without its majority vote). With the file store, a
 * sequential window is read with one pread per contiguous span.
 */
#include "pager.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- region table (sorted array; callers hold pf.lock) ---- */

struct region *region_find(uintptr_t addr)
{
	unsigned lo = 0, hi = pf.nregions;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		struct region *r = &pf.regions[mid];
		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int region_add(uintptr_t start, size_t len)
{
	for (unsigned k = 0; k < pf.nregions; k++)
		if (start < pf.regions[k].end && start + len > pf.regions[k].start)
			return 0; /* reuses a partly unmapped region's range: leave it alone */
	if (pf.nregions == pf.cap_regions) {
		unsigned ncap = pf.cap_regions ? pf.cap_regions * 2 : 64;
		struct region *n = pf_raw_mmap(NULL, ncap * sizeof(*n), PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (n == MAP_FAILED)
			return -ENOMEM;
		if (pf.regions) {
			memcpy(n, pf.regions, pf.nregions * sizeof(*n));
			pf_raw_munmap(pf.regions, pf.cap_regions * sizeof(*n));
		}
		pf.regions = n;
		pf.cap_regions = ncap;
	}
	uint64_t npages = len / PG;
	struct pg_meta *meta = pf_raw_mmap(NULL, npages * sizeof(*meta), PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (meta == MAP_FAILED)
		return -ENOMEM;
	struct uffdio_register reg = {.range = {.start = start, .len = len},
				      .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(pf.uffd, UFFDIO_REGISTER, &reg) < 0) {
		int e = -errno;
		pf_raw_munmap(meta, npages * sizeof(*meta));
		return e;
	}
	unsigned i = pf.nregions;
	while (i > 0 && pf.regions[i - 1].start > start) {
		pf.regions[i] = pf.regions[i - 1];
		i--;
	}
	pf.regions[i] = (struct region){.start = start,
					.end = start + len,
					.meta = meta,
					.slot_base = pf.next_slot,
					.last_pg = -1};
	pf.next_slot += npages;
	pf.nregions++;
	pf.st.regions++;
	uint64_t managed = 0;
	for (unsigned k = 0; k < pf.nregions; k++)
		managed += pf.regions[k].end - pf.regions[k].start;
	if (managed > pf.st.managed_bytes_peak)
		pf.st.managed_bytes_peak = managed;
	return 0;
}

static void page_forget(struct region *r, uint64_t idx)
{
	struct pg_meta *m = &r->meta[idx];
	if (m->state == PG_STORED)
		store_drop(r, idx);
	else if (m->state == PG_RES)
		pf.st.resident--;
	m->state = PG_NONE;
	m->ref = 0;
}

void region_forget(uintptr_t start, uintptr_t end, bool unmapped)
{
	for (unsigned i = 0; i < pf.nregions;) {
		struct region *r = &pf.regions[i];
		uintptr_t a = start > r->start ? start : r->start;
		uintptr_t b = end < r->end ? end : r->end;
		if (a >= b) {
			i++;
			continue;
		}
		for (uintptr_t p = a; p < b; p += PG)
			page_forget(r, (p - r->start) / PG);
		if (unmapped && a == r->start && b == r->end) {
			pf_raw_munmap(r->meta, (r->end - r->start) / PG * sizeof(*r->meta));
			memmove(r, r + 1, (pf.nregions - i - 1) * sizeof(*r));
			pf.nregions--;
			continue;
		}
		i++;
	}
}

/* ---- resolving faults ---- */

static int copy_in(uintptr_t dst, const void *src, size_t len)
{
	struct uffdio_copy c = {.dst = dst, .src = (uintptr_t)src, .len = len};
	int err, tries = 0;
	/* EAGAIN: the mm is changing (an unmap/remove event is pending): the
	 * page is still missing, so try again rather than lose its data */
	while (ioctl(pf.uffd, UFFDIO_COPY, &c) != 0) {
		err = errno;
		if (err != EAGAIN || ++tries > 100000 || c.copy > 0)
			goto failed;
		sched_yield();
		c.copy = 0;
	}
	return 0;
failed:
	if (len > PG) {
		/* partly done: finish page by page, so no page is left unmapped */
		int rc = 0;
		for (size_t off = 0; off < len; off += PG)
			if (copy_in(dst + off, (const char *)src + off, PG) == -EEXIST)
				rc = -EEXIST;
		return rc;
	}
	if (err == EEXIST) {
		/* raced with an earlier resolution: just wake the waiter */
		struct uffdio_range w = {.start = dst, .len = len};
		ioctl(pf.uffd, UFFDIO_WAKE, &w);
		return -EEXIST;
	}
	fprintf(stderr, "pf-uffd: UFFDIO_COPY at %#lx: %s\n", (unsigned long)dst, strerror(err));
	return -err;
}

static void ring_push(uintptr_t a)
{
	pf.ring[pf.ring_tail % pf.ring_cap] = a;
	pf.ring_tail++;
	if (pf.ring_tail - pf.ring_head > pf.ring_cap)
		pf.ring_head = pf.ring_tail - pf.ring_cap; /* overwritten: oldest lost */
}

static void mark_resident(struct region *r, uint64_t idx)
{
	r->meta[idx].state = PG_RES;
	pf.st.resident++;
	if (pf.st.resident > pf.st.resident_peak)
		pf.st.resident_peak = pf.st.resident;
	ring_push(r->start + idx * PG);
}

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* Moves run [a, a + n pages) of r into staging at slot s; returns pages moved
 * before the first hole/failure, and sets *fail to its errno. */
static unsigned move_run(uintptr_t a, unsigned n, unsigned s, int *fail)
{
	struct uffdio_move mv = {.dst = (uintptr_t)(pf.staging + (size_t)s * PG),
				 .src = a,
				 .len = (uint64_t)n * PG,
				 .mode = UFFDIO_MOVE_MODE_DONTWAKE};
	*fail = 0;
	if (ioctl(pf.uffd_staging, UFFDIO_MOVE, &mv) == 0)
		return n;
	*fail = errno;
	return mv.move > 0 ? (unsigned)(mv.move / (int64_t)PG) : 0;
}

static void evict_batch(void)
{
	uintptr_t v[256];
	unsigned nv = 0, want = pf.evict_batch;
	uint64_t t0 = now_ns();
	uint64_t budget = (pf.ring_tail - pf.ring_head) * 2 + 1;
	while (nv < want && pf.ring_head < pf.ring_tail && budget--) {
		uintptr_t a = pf.ring[pf.ring_head % pf.ring_cap];
		pf.ring_head++;
		struct region *r = region_find(a);
		if (!r)
			continue;
		struct pg_meta *m = &r->meta[(a - r->start) / PG];
		if (m->state != PG_RES)
			continue; /* stale entry */
		if (m->ref) {
			m->ref = 0;
			ring_push(a);
			continue;
		}
		v[nv++] = a;
	}
	qsort(v, nv, sizeof(v[0]), cmp_addr);
	unsigned s = 0; /* staging slots used */
	for (unsigned i = 0; i < nv;) {
		struct region *r = region_find(v[i]);
		unsigned n = 1;
		while (i + n < nv && v[i + n] == v[i] + n * PG && v[i + n] < r->end)
			n++;
		unsigned done = 0;
		while (done < n) {
			int fail;
			unsigned got = move_run(v[i + done], n - done, s, &fail);
			uint64_t idx = (v[i + done] - r->start) / PG;
			if (got) {
				int rc = store_put_run(r, idx, pf.staging + (size_t)s * PG, got);
				if (rc) {
					/* store full/failed: put the pages back */
					copy_in(v[i + done], pf.staging + (size_t)s * PG,
						(size_t)got * PG);
					for (unsigned k = 0; k < got; k++)
						ring_push(v[i + done + k]);
				} else {
					for (unsigned k = 0; k < got; k++)
						r->meta[idx + k].state = PG_STORED;
					pf.st.resident -= got;
					pf.st.evicted += got;
				}
				s += got;
				done += got;
			}
			if (done < n && fail) {
				/* ENOENT: the app discarded it (MADV_FREE) -> zeros next time;
				 * anything else (EBUSY, EAGAIN, pinned): keep it resident. */
				struct pg_meta *m = &r->meta[idx + got];
				if (fail == ENOENT) {
					m->state = PG_NONE;
					pf.st.resident--;
				} else {
					ring_push(v[i + done]);
				}
				pf.st.evict_skipped++;
				done++;
			}
		}
		i += n;
	}
	if (s)
		pf_raw_madvise(pf.staging, (size_t)s * PG, MADV_DONTNEED);
	pf.st.evict_ns += now_ns() - t0;
}

static void ensure_room(unsigned n)
{
	unsigned tries = 0;
	while (pf.st.resident + n > pf.budget_pages && pf.ring_head < pf.ring_tail && tries++ < 64)
		evict_batch();
}

/* prefetch batch pages whose data is still to be read (file store): read
 * together at flush time, one pread per contiguous span */
static uint8_t pending[257];

static void flush_prefetch(struct region *r, int64_t first, unsigned n)
{
	for (unsigned b = 0; b < n;) {
		if (!pending[b]) {
			b++;
			continue;
		}
		unsigned e = b;
		while (e < n && pending[e])
			e++;
		if (store_get_run(r, (uint64_t)(first + b), e - b, pf.bounce + (size_t)b * PG)) {
			fprintf(stderr, "pf-uffd: store read failed at %#lx: data lost\n",
				(unsigned long)(r->start + (uint64_t)(first + b) * PG));
			abort();
		}
		for (unsigned k = b; k < e; k++) {
			store_drop(r, (uint64_t)(first + k));
			pending[k] = 0;
		}
		b = e;
	}
	copy_in(r->start + (uint64_t)first * PG, pf.bounce, (size_t)n * PG);
	for (unsigned b = 0; b < n; b++)
		mark_resident(r, (uint64_t)first + b);
}

static void prefetch(struct region *r, int64_t idx)
{
	int64_t delta = r->last_pg >= 0 ? idx - r->last_pg : 0;
	if (r->window && r->last_delta &&
	    idx == r->last_pg + (int64_t)(r->window + 1) * r->last_delta) {
		/* first fault past the last prefetch: the trend holds */
		delta = r->last_delta;
		r->window *= 2;
	} else if (delta != 0 && delta == r->last_delta && delta >= -64 && delta <= 64) {
		r->window = 4;
	} else {
		r->window = 0;
	}
	if (r->window > pf.prefetch_max)
		r->window = pf.prefetch_max;
	r->last_delta = delta;
	r->last_pg = idx;
	if (!r->window)
		return;
	int64_t npages = (int64_t)((r->end - r->start) / PG);
	ensure_room(r->window);
	unsigned batched = 0;
	int64_t batch_start = -1;
	for (unsigned k = 1; k <= r->window; k++) {
		int64_t j = idx + (int64_t)k * delta;
		if (j < 0 || j >= npages)
			break;
		uint8_t st = r->meta[j].state;
		bool take = st == PG_STORED || st == PG_NONE;
		/* contiguous pages go in one UFFDIO_COPY */
		if (batched && (!take || delta != 1)) {
			flush_prefetch(r, batch_start, batched);
			batched = 0;
		}
		if (!take)
			continue; /* already resident */
		char *dst = pf.bounce + (size_t)batched * PG;
		pending[batched] = 0;
		if (st == PG_NONE) {
			memset(dst, 0, PG);
		} else if (pf.store == STORE_FILE && delta == 1) {
			pending[batched] = 1; /* read with its neighbours at flush */
		} else {
			if (store_get(r, (uint64_t)j, dst))
				continue;
			store_drop(r, (uint64_t)j);
		}
		if (!batched)
			batch_start = j;
		batched++;
		pf.st.prefetched++;
	}
	if (batched)
		flush_prefetch(r, batch_start, batched);
}

static void serve(uintptr_t addr)
{
	addr &= ~(PG - 1);
	pf.st.faults++;
	struct region *r = region_find(addr);
	if (!r) { /* not ours any more (forgotten range): never leave it hanging */
		copy_in(addr, pf.zero, PG);
		return;
	}
	uint64_t idx = (addr - r->start) / PG;
	struct pg_meta *m = &r->meta[idx];
	ensure_room(1);
	if (m->state == PG_STORED) {
		if (store_get(r, idx, pf.bounce) == 0) {
			store_drop(r, idx);
			pf.st.swapins++;
			if (copy_in(addr, pf.bounce, PG) != -EEXIST) {
				mark_resident(r, idx);
				r->meta[idx].ref = 1;
			}
			prefetch(r, (int64_t)idx);
			return;
		}
		fprintf(stderr, "pf-uffd: store read failed at %#lx: data lost\n",
			(unsigned long)addr);
		abort();
	}
	if (m->state == PG_RES) /* the kernel dropped it (MADV_FREE): zeros */
		pf.st.resident--;
	pf.st.zero_fills++;
	if (copy_in(addr, pf.zero, PG) != -EEXIST)
		mark_resident(r, idx);
	prefetch(r, (int64_t)idx);
}

void region_restore(uintptr_t start, uintptr_t end)
{
	for (unsigned i = 0; i < pf.nregions; i++) {
		struct region *r = &pf.regions[i];
		uintptr_t a = start > r->start ? start : r->start;
		uintptr_t b = end < r->end ? end : r->end;
		for (uintptr_t p = a; p < b; p += PG) {
			uint64_t idx = (p - r->start) / PG;
			if (r->meta[idx].state != PG_STORED)
				continue;
			if (store_get(r, idx, pf.bounce) == 0) {
				store_drop(r, idx);
				copy_in(p, pf.bounce, PG);
				mark_resident(r, idx);
			}
		}
	}
}

static void *handler_main(void *arg)
{
	(void)arg;
	struct uffd_msg msgs[64];
	struct pollfd pfd = {.fd = pf.uffd, .events = POLLIN};
	uint64_t last_stats = now_ns(), idle = 0;
	for (;;) {
		ssize_t n = read(pf.uffd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EAGAIN) {
				if (pf.spin)
					__builtin_ia32_pause();
				else
					poll(&pfd, 1, 1000);
				if (pf.stats_path && (!pf.spin || ++idle % 4096 == 0) &&
				    now_ns() - last_stats > 1000000000ULL) {
					/* a snapshot, so a killed app still leaves its numbers */
					pthread_mutex_lock(&pf.lock);
					if (!pf.stats_final)
						pager_write_stats();
					pthread_mutex_unlock(&pf.lock);
					last_stats = now_ns();
				}
				continue;
			}
			if (errno == EINTR)
				continue;
			fprintf(stderr, "pf-uffd: read: %s; handler stops\n", strerror(errno));
			return NULL;
		}
		uint64_t t0 = now_ns();
		pthread_mutex_lock(&pf.lock);
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				serve((uintptr_t)msgs[i].arg.pagefault.address);
		pthread_mutex_unlock(&pf.lock);
		pf.st.handler_ns += now_ns() - t0;
	}
}

int pager_start(void)
{
	pf.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	pf.uffd_staging = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (pf.uffd < 0 || pf.uffd_staging < 0)
		return -errno;
	struct uffdio_api api = {.api = UFFD_API};
	if (ioctl(pf.uffd, UFFDIO_API, &api) < 0)
		return -errno;
	struct uffdio_api api2 = {.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
	if (ioctl(pf.uffd_staging, UFFDIO_API, &api2) < 0)
		return -errno;
	size_t stg = (size_t)pf.evict_batch * PG;
	pf.staging =
		pf_raw_mmap(NULL, stg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pf.bounce = pf_raw_mmap(NULL, (pf.prefetch_max + 1) * PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	pf.zero = pf_raw_mmap(NULL, PG, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	pf.ring_cap = 1ULL << 26;
	pf.ring = pf_raw_mmap(NULL, pf.ring_cap * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pf.staging == MAP_FAILED || pf.bounce == MAP_FAILED || pf.zero == MAP_FAILED ||
	    pf.ring == MAP_FAILED)
		return -ENOMEM;
	struct uffdio_register reg = {.range = {.start = (uintptr_t)pf.staging, .len = stg},
				      .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(pf.uffd_staging, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	int rc = store_init();
	if (rc)
		return rc;
	pthread_t th;
	pthread_attr_t at;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &at, handler_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

void pager_write_stats(void)
{
	char buf[1024];
	const struct pf_stats *s = &pf.st;
	int n = snprintf(buf, sizeof(buf),
			 "pid=%d store=%s spin=%d budget_mib=%llu faults=%llu zero_fills=%llu "
			 "swapins=%llu prefetched=%llu evicted=%llu evict_skipped=%llu "
			 "handler_ms=%.1f evict_ms=%.1f us_per_fault=%.2f regions=%llu "
			 "managed_mib_peak=%.1f resident_mib_peak=%.1f offloaded_mib_peak=%.1f "
			 "store_mib_peak=%.1f\n",
			 (int)getpid(), pf.store == STORE_LZ4 ? "lz4" : "file", pf.spin,
			 (unsigned long long)(pf.budget_pages > (1ULL << 40) ?
						      0 :
						      pf.budget_pages * PG >> 20),
			 (unsigned long long)s->faults, (unsigned long long)s->zero_fills,
			 (unsigned long long)s->swapins, (unsigned long long)s->prefetched,
			 (unsigned long long)s->evicted, (unsigned long long)s->evict_skipped,
			 s->handler_ns / 1e6, s->evict_ns / 1e6,
			 s->faults ? s->handler_ns / 1e3 / (double)s->faults : 0.0,
			 (unsigned long long)s->regions, s->managed_bytes_peak / 1048576.0,
			 s->resident_peak * PG / 1048576.0, s->stored_pages_peak * PG / 1048576.0,
			 s->store_bytes_peak / 1048576.0);
	if (!pf.stats_path) {
		if (write(2, buf, (size_t)n) < 0) {
			/* nothing useful to do about it */
		}
		return;
	}
	/*
	 * Written beside and renamed over: a reader (or an exit between the
	 * truncation and the write) never sees an empty or half file.
	 */
	struct stat st;
	if (stat(pf.stats_path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* /dev/null, a fifo: written in place, never renamed over */
		int fd = open(pf.stats_path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, buf, (size_t)n) < 0) {
				/* nothing useful to do about it */
			}
			close(fd);
		}
		return;
	}
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", pf.stats_path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	bool ok = write(fd, buf, (size_t)n) == n;
	close(fd);
	if (!ok || rename(tmp, pf.stats_path) < 0)
		unlink(tmp);
}
