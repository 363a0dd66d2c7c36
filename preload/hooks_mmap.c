// SPDX-License-Identifier: MIT
/*
 * mmap, mmap64, munmap, mremap and madvise, exported by the shim and
 * implemented with the raw system call (as gperftools' mmap_hook does), so
 * there is no dlsym() and no bootstrap recursion. After the call, a mapping
 * of at least PAGEFLEX_MIN_REGION bytes becomes a region event; unmaps,
 * remaps and MADV_DONTNEED/FREE/REMOVE become events that the sender applies
 * to the tracked parts only. errno is preserved; the result is the kernel's.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pf_internal.h"

PF_TLS const char *pf_scope_name;

/* This thread's last mapping, whose MAP event an exact munmap may cancel. */
static PF_TLS struct {
	uint64_t pos, start, len;
} last_map;

static uint64_t page_up(uint64_t n)
{
	return (n + PF_PAGE - 1) & ~(PF_PAGE - 1);
}

/* Returns the event's ring position + 1, or 0 if it was dropped. */
static uint64_t push_map(uint64_t start, uint64_t len, int kind, int prot, const char *tag,
			 const struct pf_site *site, const char *path, unsigned arena)
{
	struct pf_event *ev = pf_ring_claim();
	uint64_t pos;

	if (!ev)
		return 0;
	pos = ev->pos;
	ev->type = PF_EV_MAP;
	ev->kind = (uint8_t)kind;
	ev->prot = (uint8_t)prot;
	ev->arena = (uint16_t)arena;
	ev->start = start;
	ev->len = len;
	ev->tag_len = pf_strlcpy(ev->tag, tag, sizeof(ev->tag));
	if (site && site->module) {
		ev->module_len = pf_strlcpy(ev->module, site->module, sizeof(ev->module));
		ev->off = site->off;
	}
	if (path)
		ev->path_len = pf_strlcpy(ev->path, path, sizeof(ev->path));
	pf_ring_publish(ev, false);
	return pos + 1;
}

void pf_push_map(uint64_t start, uint64_t len, int kind, int prot, const char *tag,
		 const struct pf_site *site, const char *path, unsigned arena)
{
	push_map(start, len, kind, prot, tag, site, path, arena);
}

void pf_push_range(int type, uint64_t start, uint64_t len)
{
	struct pf_event *ev;
	uint64_t end = page_up(start + len);

	start &= ~(PF_PAGE - 1);
	if (end <= start)
		return;
	ev = pf_ring_claim();
	if (!ev)
		return;
	ev->type = (uint8_t)type;
	ev->start = start;
	ev->len = end - start;
	pf_ring_publish(ev, false);
}

/* Kind and path of a new mapping. path must hold PF_PATH_MAX bytes. */
static int classify(int flags, int fd, char *path)
{
	char proc[32];
	long n;

	path[0] = '\0';
	if (flags & MAP_ANONYMOUS) {
		if ((flags & MAP_TYPE) != MAP_PRIVATE)
			return PFW_KIND_SHM;
		return flags & (MAP_STACK | MAP_GROWSDOWN) ? PFW_KIND_STACK : PFW_KIND_ANON;
	}
	pf_fmt(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlink, proc, path, PF_PATH_MAX - 1);
	path[n > 0 ? n : 0] = '\0';
	if (!strncmp(path, "/dev/shm/", 9) || !strncmp(path, "/memfd:", 7) ||
	    ((flags & MAP_TYPE) != MAP_PRIVATE && !strcmp(path, "/dev/zero")))
		return PFW_KIND_SHM;
	if (!strcmp(path, "/dev/zero"))
		return PFW_KIND_ANON;
	return PFW_KIND_FILE;
}

static void track_mmap(uintptr_t ret, void *p, size_t len, int prot, int flags, int fd)
{
	char path[PF_PATH_MAX];
	struct pf_site site = {0};
	const char *tag = pf_scope_name ? pf_scope_name : "mmap";
	int kind;

	if (len < pf_cfg.min_region) {
		/* A small fixed mapping may still replace part of a region. */
		if (flags & MAP_FIXED)
			pf_push_range(PF_EV_UNMAP, (uintptr_t)p, len);
		return;
	}
	if (pf_addr_in_jemalloc(ret, &site)) {
		/*
		 * jemalloc mapping outside our extent hooks (its metadata, or an
		 * arena without our hooks): heap, with jemalloc as the call site.
		 */
		kind = PFW_KIND_HEAP;
		tag = "heap";
		path[0] = '\0';
	} else {
		kind = classify(flags, fd, path);
		pf_module_of(ret, &site, NULL);
	}
	last_map.pos =
		push_map((uintptr_t)p, page_up(len), kind, prot & 7, tag, &site, path, PF_NO_ARENA);
	/* A fixed mapping replaced something: its UNMAP must not be cancelled. */
	if (flags & MAP_FIXED)
		last_map.pos = 0;
	last_map.start = (uintptr_t)p;
	last_map.len = page_up(len);
}

PF_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	int saved;

	if (p == MAP_FAILED || pf_in_hook || !pf_ready())
		return p;
	saved = errno;
	pf_in_hook = 1;
	track_mmap((uintptr_t)__builtin_return_address(0), p, len, prot, flags, fd);
	pf_in_hook = 0;
	errno = saved;
	return p;
}

PF_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	int saved;

	if (p == MAP_FAILED || pf_in_hook || !pf_ready())
		return p;
	saved = errno;
	pf_in_hook = 1;
	track_mmap((uintptr_t)__builtin_return_address(0), p, len, prot, flags, fd);
	pf_in_hook = 0;
	errno = saved;
	return p;
}

PF_EXPORT int munmap(void *addr, size_t len)
{
	int r = (int)syscall(SYS_munmap, addr, len);

	if (r || pf_in_hook || !pf_ready())
		return r;
	if (last_map.pos && last_map.start == (uintptr_t)addr && last_map.len == page_up(len) &&
	    pf_ring_cancel(last_map.pos - 1)) {
		last_map.pos = 0;
		return r;
	}
	last_map.pos = 0;
	pf_push_range(PF_EV_UNMAP, (uintptr_t)addr, len);
	return r;
}

PF_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL, *p;
	struct pf_event *ev;
	va_list ap;
	int saved;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	p = (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	if (p == MAP_FAILED || pf_in_hook || !pf_ready())
		return p;
	saved = errno;
	pf_in_hook = 1;
	last_map.pos = 0;
	if (flags & MREMAP_DONTUNMAP)
		pf_push_range(PF_EV_DISCARD, (uintptr_t)old, old_len);
	ev = pf_ring_claim();
	if (ev) {
		struct pf_site site = {0};

		ev->type = PF_EV_REMAP;
		ev->start = (uintptr_t)old & ~(PF_PAGE - 1);
		ev->len = flags & MREMAP_DONTUNMAP ? 0 : page_up(old_len);
		ev->start2 = (uintptr_t)p;
		ev->len2 = page_up(new_len);
		/* Used only if the old range was not tracked. */
		ev->kind = PFW_KIND_ANON;
		ev->prot = PROT_READ | PROT_WRITE;
		ev->tag_len = pf_strlcpy(ev->tag, pf_scope_name ? pf_scope_name : "mmap",
					 sizeof(ev->tag));
		if (pf_module_of((uintptr_t)__builtin_return_address(0), &site, NULL)) {
			ev->module_len = pf_strlcpy(ev->module, site.module, sizeof(ev->module));
			ev->off = site.off;
		}
		pf_ring_publish(ev, false);
	}
	pf_in_hook = 0;
	errno = saved;
	return p;
}

PF_EXPORT int madvise(void *addr, size_t len, int advice)
{
	int r = (int)syscall(SYS_madvise, addr, len, advice);

	if (r || pf_in_hook ||
	    (advice != MADV_DONTNEED && advice != MADV_FREE && advice != MADV_REMOVE) ||
	    !pf_ready())
		return r;
	pf_push_range(PF_EV_DISCARD, (uintptr_t)addr, len);
	return r;
}
