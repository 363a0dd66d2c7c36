// SPDX-License-Identifier: MIT
/*
 * The malloc family, exported by the shim and served by jemalloc.
 *
 * Why exported here: with LD_PRELOAD=libpageflex.so the symbol search order
 * is program, shim, the program's libraries (libc), and only then the
 * shim's own dependency libjemalloc.so.2, so libc's malloc would win. The
 * shim therefore defines the whole family (the set libjemalloc exports, plus
 * pvalloc and reallocarray, which glibc would otherwise serve from its own
 * heap) and forwards to jemalloc's own entry points, resolved once from
 * libjemalloc.so.2. Until then (the first calls, from the loader), the
 * forwarding goes to jemalloc's unique non-standard API (mallocx & co).
 *
 * Fast path: one size compare, then jemalloc's own malloc. Only large
 * allocations (>= PAGEFLEX_LARGE_ALLOC) and allocations
 * inside a pageflex_tag_scope take the slow path, which picks an arena
 * (call-site arena, scope arena) and calls mallocx(MALLOCX_ARENA).
 */
#include <dlfcn.h>
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <string.h>
#include <unistd.h>

#include "pf_internal.h"

static void *boot_malloc(size_t n)
{
	void *p = mallocx(n ? n : 1, 0);

	if (!p)
		errno = ENOMEM;
	return p;
}

static void boot_free(void *p)
{
	if (p)
		dallocx(p, 0);
}

static void *boot_calloc(size_t a, size_t b)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	p = mallocx(n ? n : 1, MALLOCX_ZERO);
	if (!p)
		errno = ENOMEM;
	return p;
}

static void *boot_realloc(void *p, size_t n)
{
	void *q;

	if (!p)
		return boot_malloc(n);
	if (!n) {
		dallocx(p, 0);
		return NULL;
	}
	q = rallocx(p, n, 0);
	if (!q)
		errno = ENOMEM;
	return q;
}

static bool align_ok(size_t align)
{
	return align && !(align & (align - 1));
}

static int boot_posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;

	if (!align_ok(align) || align < sizeof(void *))
		return EINVAL;
	p = mallocx(n ? n : 1, MALLOCX_ALIGN(align));
	if (!p)
		return ENOMEM;
	*pp = p;
	return 0;
}

static void *boot_aligned_alloc(size_t align, size_t n)
{
	void *p;

	if (!align_ok(align)) {
		errno = EINVAL;
		return NULL;
	}
	p = mallocx(n ? n : 1, MALLOCX_ALIGN(align));
	if (!p)
		errno = ENOMEM;
	return p;
}

static void *boot_valloc(size_t n)
{
	return boot_aligned_alloc(PF_PAGE, n);
}

static size_t boot_usable_size(void *p)
{
	return p ? sallocx(p, 0) : 0;
}

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	size_t (*malloc_usable_size)(void *);
} real = {
	boot_malloc,	    boot_free,		boot_calloc, boot_realloc,     boot_posix_memalign,
	boot_aligned_alloc, boot_aligned_alloc, boot_valloc, boot_usable_size,
};

void pf_heap_resolve(void)
{
	void *h = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
	void *f;

	if (!h) {
		pfs_debug("libjemalloc.so.2 not found by name: using mallocx() for everything");
		return;
	}
#define RESOLVE(name)                                      \
	do {                                               \
		if ((f = dlsym(h, #name)))                 \
			memcpy(&real.name, &f, sizeof(f)); \
	} while (0)
	RESOLVE(malloc);
	RESOLVE(free);
	RESOLVE(calloc);
	RESOLVE(realloc);
	RESOLVE(posix_memalign);
	RESOLVE(aligned_alloc);
	RESOLVE(memalign);
	RESOLVE(valloc);
	RESOLVE(malloc_usable_size);
#undef RESOLVE
	dlclose(h);
}

/*
 * The fast path compares the size with pf_fast_limit only: the large-alloc
 * threshold while no thread is inside a tag scope, 0 while any thread is.
 * The slow path then decides per thread (scope, size) and falls back to
 * jemalloc's own entry point when no arena applies.
 */
size_t pf_fast_limit = SIZE_MAX;
static _Atomic unsigned scopes_active;

static void update_fast_limit(void)
{
	for (;;) {
		bool any = atomic_load(&scopes_active) != 0;

		__atomic_store_n(&pf_fast_limit, any ? 0 : pf_large_threshold, __ATOMIC_SEQ_CST);
		if ((atomic_load(&scopes_active) != 0) == any)
			return;
	}
}

void pf_heap_scope_enter(void)
{
	atomic_fetch_add(&scopes_active, 1);
	update_fast_limit();
}

void pf_heap_scope_leave(void)
{
	atomic_fetch_sub(&scopes_active, 1);
	update_fast_limit();
}

void pf_heap_enable(void)
{
	update_fast_limit();
}

/* Arena flags for an allocation of n bytes from here, or 0 for the default. */
static int arena_flags(size_t n)
{
	unsigned a;

	if (pf_in_hook)
		return 0;
	a = pf_scope_arena;
	if (!a && n >= pf_large_threshold) {
		pf_in_hook = 1;
		a = pf_site_arena();
		pf_in_hook = 0;
	}
	return a ? (int)MALLOCX_ARENA(a - 1) | MALLOCX_TCACHE_NONE : 0;
}

static void *alloc_flags(size_t n, int flags)
{
	void *p = mallocx(n ? n : 1, flags);

	if (!p)
		errno = ENOMEM;
	return p;
}

static __attribute__((noinline)) void *slow_malloc(size_t n)
{
	int f = arena_flags(n);

	return f ? alloc_flags(n, f) : real.malloc(n);
}

#define FAST(n) likely((n) < pf_fast_limit)

PF_EXPORT void *malloc(size_t n)
{
	if (FAST(n))
		return real.malloc(n);
	return slow_malloc(n);
}

PF_EXPORT void free(void *p)
{
	real.free(p);
}

PF_EXPORT void *calloc(size_t a, size_t b)
{
	size_t n;
	int f;

	if (__builtin_mul_overflow(a, b, &n) || FAST(n) || !(f = arena_flags(n)))
		return real.calloc(a, b);
	return alloc_flags(n, f | MALLOCX_ZERO);
}

PF_EXPORT void *realloc(void *p, size_t n)
{
	void *q;
	int f;

	if (FAST(n) || !n || !(f = arena_flags(n)))
		return real.realloc(p, n);
	if (!p)
		return alloc_flags(n, f);
	q = rallocx(p, n, f);
	if (!q)
		errno = ENOMEM;
	return q;
}

PF_EXPORT void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

PF_EXPORT int posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;
	int f;

	if (FAST(n) || !align_ok(align) || align < sizeof(void *) || !(f = arena_flags(n)))
		return real.posix_memalign(pp, align, n);
	p = alloc_flags(n, f | MALLOCX_ALIGN(align));
	if (!p)
		return ENOMEM;
	*pp = p;
	return 0;
}

PF_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	int f;

	if (FAST(n) || !align_ok(align) || !(f = arena_flags(n)))
		return real.aligned_alloc(align, n);
	return alloc_flags(n, f | MALLOCX_ALIGN(align));
}

PF_EXPORT void *memalign(size_t align, size_t n)
{
	int f;

	if (FAST(n) || !align_ok(align) || !(f = arena_flags(n)))
		return real.memalign(align, n);
	return alloc_flags(n, f | MALLOCX_ALIGN(align));
}

PF_EXPORT void *valloc(size_t n)
{
	int f;

	if (FAST(n) || !(f = arena_flags(n)))
		return real.valloc(n);
	return alloc_flags(n, f | MALLOCX_ALIGN(PF_PAGE));
}

PF_EXPORT void *pvalloc(size_t n)
{
	size_t up = (n + PF_PAGE - 1) & ~(PF_PAGE - 1);

	if (up < n) {
		errno = ENOMEM;
		return NULL;
	}
	return valloc(up ? up : PF_PAGE);
}

PF_EXPORT size_t malloc_usable_size(void *p)
{
	return real.malloc_usable_size(p);
}
