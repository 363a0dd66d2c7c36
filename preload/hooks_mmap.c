// SPDX-License-Identifier: MIT
/*
 * mmap, mmap64, munmap, mremap and madvise, exported by the shim and
 * implemented with the raw system call (as gperftools' mmap_hook does), so
 * there is no dlsym() and no bootstrap recursion. After the call, a mapping
 * of at least PAGEFLEX_MIN_REGION bytes becomes a region event; unmaps,
 * remaps and MADV_DONTNEED/FREE/REMOVE become events that the sender applies
 * to the tracked parts only. errno is preserved; the result is the kernel's.
 *
 * A region unmapped before the sender took its MAP never reaches the agent:
 * an exact munmap of one of the thread's own intact mappings withdraws its
 * MAP from the ring and sends no UNMAP (withdraw.c says when that is safe;
 * the calls that make it unsafe log a hazard before their system call).
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pf_internal.h"

PF_TLS const char *pf_scope_name;

static uint64_t page_up(uint64_t n)
{
	return (n + PF_PAGE - 1) & ~(PF_PAGE - 1);
}

uint64_t pf_push_map(uint64_t start, uint64_t len, int kind, int prot, const char *tag,
		     const struct pf_site *site, const char *path, unsigned arena)
{
	const char *module = site ? site->module : NULL;
	struct pf_event *ev = pf_ring_claim(tag, module, path);
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
	if (module)
		ev->off = site->off;
	pf_ring_publish(ev, false);
	return pos + 1;
}

void pf_push_range(int type, uint64_t start, uint64_t len)
{
	struct pf_event *ev;
	uint64_t end = page_up(start + len);

	start &= ~(PF_PAGE - 1);
	if (end <= start)
		return;
	ev = pf_ring_claim(NULL, NULL, NULL);
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

/* Reports a new mapping; returns its MAP's ring position + 1, or 0 if none. */
static uint64_t track_mmap(uintptr_t ret, void *p, size_t len, int prot, int flags, int fd)
{
	char path[PF_PATH_MAX];
	struct pf_site site = {0};
	const char *tag = pf_scope_name ? pf_scope_name : "mmap";
	int kind;

	if (len < pf_cfg.min_region) {
		/* A small fixed mapping may still replace part of a region. */
		if (flags & MAP_FIXED)
			pf_push_range(PF_EV_UNMAP, (uintptr_t)p, len);
		return 0;
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
	return pf_push_map((uintptr_t)p, page_up(len), kind, prot & 7, tag, &site, path,
			   PF_NO_ARENA);
}

/* mmap64 is the same function on 64-bit targets. */
PF_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	bool fixed = flags & MAP_FIXED;
	uint64_t hz = 0, pos1;
	void *p;
	int saved;

	if (pf_in_hook || !pf_ready())
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	/* MAP_FIXED replaces whatever was there; other mmaps get free space. */
	if (fixed)
		pf_hazard((uintptr_t)addr, len);
	else
		hz = pf_hazard_now();
	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return p;
	saved = errno;
	pf_in_hook = 1;
	pos1 = track_mmap((uintptr_t)__builtin_return_address(0), p, len, prot, flags, fd);
	if (!fixed)
		pf_own_add((uintptr_t)p, len, pos1, hz);
	pf_in_hook = 0;
	errno = saved;
	return p;
}

PF_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

PF_EXPORT int munmap(void *addr, size_t len)
{
	struct pf_own own;
	bool mine;
	int r, saved;

	if (pf_in_hook || !pf_ready()) {
		/* Nested (jemalloc, a signal handler inside a hook): no event,
		 * but no withdrawal across it either. */
		if (pf_in_hook)
			pf_hazard((uintptr_t)addr, len);
		return (int)syscall(SYS_munmap, addr, len);
	}
	pf_in_hook = 1;
	/* Not exactly one of our own mappings: it may cut into someone else's. */
	mine = pf_own_take((uintptr_t)addr, len, &own);
	if (!mine)
		pf_hazard((uintptr_t)addr, len);
	r = (int)syscall(SYS_munmap, addr, len);
	saved = errno;
	if (!r) {
		if (mine && !pf_own_intact(&own)) {
			/* Something changed it since its mmap: treat it as anyone's range. */
			pf_hazard((uintptr_t)addr, len);
			mine = false;
		}
		if (!mine || (own.pos1 && !pf_ring_cancel(own.pos1 - 1)))
			pf_push_range(PF_EV_UNMAP, (uintptr_t)addr, len);
		/* else: its MAP was withdrawn, or it was never a region. */
	}
	pf_in_hook = 0;
	errno = saved;
	return r;
}

PF_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL, *p;
	struct pf_site site = {0};
	struct pf_event *ev;
	va_list ap;
	int saved;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
		pf_hazard((uintptr_t)new_addr, new_len);
	}
	/* Growing in place or moving takes free space; the old range changes. */
	pf_hazard((uintptr_t)old, old_len);
	p = (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	if (p == MAP_FAILED || pf_in_hook || !pf_ready())
		return p;
	saved = errno;
	pf_in_hook = 1;
	pf_own_forget((uintptr_t)old);
	if (flags & MREMAP_DONTUNMAP)
		pf_push_range(PF_EV_DISCARD, (uintptr_t)old, old_len);
	pf_module_of((uintptr_t)__builtin_return_address(0), &site, NULL);
	/* Tag, kind, prot and call site are used only if the old range was not tracked. */
	ev = pf_ring_claim(pf_scope_name ? pf_scope_name : "mmap", site.module, NULL);
	if (ev) {
		ev->type = PF_EV_REMAP;
		ev->start = (uintptr_t)old & ~(PF_PAGE - 1);
		ev->len = flags & MREMAP_DONTUNMAP ? 0 : page_up(old_len);
		ev->start2 = (uintptr_t)p;
		ev->len2 = page_up(new_len);
		ev->kind = PFW_KIND_ANON;
		ev->prot = PROT_READ | PROT_WRITE;
		ev->off = site.off;
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
