/* SPDX-License-Identifier: MIT */
/*
 * libpf-uffd.so: runs an unmodified program under the userfaultfd pager.
 *
 *   PF_UFFD_BUDGET_MB=512 LD_PRELOAD=libpf-uffd.so ./app
 *
 * Why a preload library: it finds the app's large anonymous mappings the same
 * way the PageFlex shim does (mmap/munmap/mremap/madvise hooks, calling the
 * raw syscalls, no dlsym), so both manage the same regions and the comparison
 * is about the paging mechanism, not about what each can see. Like the shim's
 * mmap hooks it cannot see glibc malloc's internal mmaps or brk.
 *
 * Environment:
 *   PF_UFFD_BUDGET_MB  resident budget of managed memory (default: no limit)
 *   PF_UFFD_STORE      lz4 (default, compressed memory) | file (O_DIRECT disk)
 *   PF_UFFD_DIR        directory of the file store (default /var/tmp)
 *   PF_UFFD_SPIN       1 (default): spinning handler; 0: poll()
 *   PF_UFFD_MIN_KB     smallest mapping managed (default 1024)
 *   PF_UFFD_PREFETCH   largest prefetch window in pages (default 32, 0 = off)
 *   PF_UFFD_BATCH      pages evicted per batch (default 64, max 256)
 *   PF_UFFD_STATS      keep the counters in this file (rewritten every second
 *                      and at exit); else print them on stderr at exit
 */
#include "pager.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct pager pf = {.lock = PTHREAD_MUTEX_INITIALIZER, .file_fd = -1, .uffd = -1};
static int active;
static size_t min_bytes = 1 << 20;

void *pf_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
int pf_raw_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}
int pf_raw_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	unsigned long x = strtoul(v, &end, 10);
	if (*end) {
		fprintf(stderr, "pf-uffd: %s: not a number: '%s' (using %lu)\n", name, v, def);
		return def;
	}
	return x;
}

__attribute__((constructor)) static void pf_uffd_init(void)
{
	const char *store = getenv("PF_UFFD_STORE");
	if (store && !strcmp(store, "file"))
		pf.store = STORE_FILE;
	else if (store && *store && strcmp(store, "lz4")) {
		fprintf(stderr, "pf-uffd: PF_UFFD_STORE must be lz4 or file, not '%s'\n", store);
		return;
	}
	unsigned long budget = env_ul("PF_UFFD_BUDGET_MB", 0);
	pf.budget_pages = budget ? budget << 8 : UINT64_MAX / 2;
	pf.spin = env_ul("PF_UFFD_SPIN", 1) != 0;
	/* copied: some programs (redis's setproctitle) overwrite environ */
	static char stats_path[512];
	const char *sp = getenv("PF_UFFD_STATS");
	if (sp && *sp && strlen(sp) < sizeof(stats_path)) {
		strcpy(stats_path, sp);
		pf.stats_path = stats_path;
	}
	min_bytes = env_ul("PF_UFFD_MIN_KB", 1024) << 10;
	pf.prefetch_max = (unsigned)env_ul("PF_UFFD_PREFETCH", 32);
	if (pf.prefetch_max > 256)
		pf.prefetch_max = 256;
	pf.evict_batch = (unsigned)env_ul("PF_UFFD_BATCH", 64);
	if (pf.evict_batch < 1 || pf.evict_batch > 256)
		pf.evict_batch = 64;
	int rc = pager_start();
	if (rc) {
		fprintf(stderr, "pf-uffd: not paging (the app runs unmanaged): %s\n",
			strerror(-rc));
		return;
	}
	__atomic_store_n(&active, 1, __ATOMIC_RELEASE);
}

__attribute__((destructor(101))) static void pf_uffd_fini(void)
{
	if (__atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
		/* under the lock, and last: the handler's periodic snapshot of
		 * older counters must not land over this one */
		pthread_mutex_lock(&pf.lock);
		pager_write_stats();
		pf.stats_final = true;
		pthread_mutex_unlock(&pf.lock);
	}
}

static bool managed_kind(size_t len, int prot, int flags, int fd)
{
	return __atomic_load_n(&active, __ATOMIC_ACQUIRE) && len >= min_bytes && fd == -1 &&
	       (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & (MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB)) &&
	       prot == (PROT_READ | PROT_WRITE);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	if (fixed && __atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
		/* MAP_FIXED replaces whatever was there: forget it first */
		pthread_mutex_lock(&pf.lock);
		region_forget((uintptr_t)addr, (uintptr_t)addr + len, false);
		pthread_mutex_unlock(&pf.lock);
	}
	void *p = pf_raw_mmap(addr, len, prot, flags, fd, off);
	if ((unsigned long)p > -4096UL) {
		errno = -(int)(long)p;
		return MAP_FAILED;
	}
	if (!fixed && managed_kind(len, prot, flags, fd)) {
		size_t plen = (len + PG - 1) & ~(PG - 1);
		pthread_mutex_lock(&pf.lock);
		int rc = region_add((uintptr_t)p, plen);
		pthread_mutex_unlock(&pf.lock);
		if (rc)
			fprintf(stderr, "pf-uffd: cannot manage %zu bytes at %p: %s\n", plen, p,
				strerror(-rc));
	}
	return p;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

int munmap(void *addr, size_t len)
{
	if (__atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&pf.lock);
		region_forget((uintptr_t)addr, (uintptr_t)addr + ((len + PG - 1) & ~(PG - 1)),
			      true);
		pthread_mutex_unlock(&pf.lock);
	}
	long rc = (long)pf_raw_munmap(addr, len);
	if (rc < 0 && rc > -4096) {
		errno = (int)-rc;
		return -1;
	}
	return (int)rc;
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (__atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
		/* Without UFFD_FEATURE_EVENT_REMAP the moved mapping leaves the
		 * userfaultfd: bring every evicted page back, then let it go. */
		uintptr_t a = (uintptr_t)old, b = a + ((old_len + PG - 1) & ~(PG - 1));
		pthread_mutex_lock(&pf.lock);
		region_restore(a, b);
		region_forget(a, b, true);
		pthread_mutex_unlock(&pf.lock);
	}
	long p = syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	if (p < 0 && p > -4096) {
		errno = (int)-p;
		return MAP_FAILED;
	}
	return (void *)p;
}

int madvise(void *addr, size_t len, int advice)
{
	if ((advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE) &&
	    __atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
		/* the app discards these pages: their stored copies are garbage */
		pthread_mutex_lock(&pf.lock);
		region_forget((uintptr_t)addr, (uintptr_t)addr + ((len + PG - 1) & ~(PG - 1)),
			      false);
		pthread_mutex_unlock(&pf.lock);
	}
	long rc = pf_raw_madvise(addr, len, advice);
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return 0;
}
