// SPDX-License-Identifier: MIT
/*
 * Which loaded module an address belongs to, and the call site of an
 * allocation: the first caller frame outside libc, libstdc++, jemalloc and
 * the shim, as module path + offset (the agent symbolises later).
 *
 * Lookups go through dl_iterate_phdr (its lock is never held by the loader
 * while it calls malloc) behind a small per-thread cache of segments, so the
 * common case is a few compares. Names are copied into the cache, so a
 * dlclose() can make an entry stale but never dangling. Unwinding uses
 * libunwind with its per-thread cache and only runs for large allocations;
 * it is loaded when the first one happens.
 * libunwind.so.8 is opened RTLD_LOCAL rather than linked: it exports
 * _Unwind_* and a weak backtrace(), which must not interpose libgcc_s and
 * glibc in the program's global symbol scope.
 */
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "pf_internal.h"

#define CACHE_WAYS 8
#define MAX_FRAMES 24

struct seg {
	uintptr_t lo, hi, base;
	bool internal;
	char name[PF_MOD_MAX];
};

static PF_TLS struct seg cache[CACHE_WAYS];
static PF_TLS unsigned cache_next;

static char exe_path[PF_MOD_MAX];
static int (*unw_bt)(void **, int);
/* libunwind: 0 not loaded, 1 loading, 2 ready, 3 unavailable. */
static _Atomic int unw_state;
static uintptr_t jemalloc_lo, jemalloc_hi, jemalloc_base;
static char jemalloc_name[PF_MOD_MAX];

struct lookup {
	uintptr_t addr;
	struct seg *out;
	bool found;
};

static bool is_internal(const char *name)
{
	static const char *const libs[] = {"/libc.so",	      "/libjemalloc.so", "/libstdc++.so",
					   "/libpageflex.so", "/ld-linux",	 "/libunwind"};

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		if (strstr(name, libs[i]))
			return true;
	return false;
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lookup *l = arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;

		if (ph->p_type != PT_LOAD || l->addr < lo || l->addr >= hi)
			continue;
		l->out->lo = lo;
		l->out->hi = hi;
		l->out->base = info->dlpi_addr;
		if (info->dlpi_name && info->dlpi_name[0])
			pf_strlcpy(l->out->name, info->dlpi_name, sizeof(l->out->name));
		else
			pf_strlcpy(l->out->name, exe_path, sizeof(l->out->name));
		l->out->internal = is_internal(l->out->name);
		l->found = true;
		return 1;
	}
	return 0;
}

static struct seg *lookup(uintptr_t addr)
{
	struct lookup l;

	for (unsigned i = 0; i < CACHE_WAYS; i++)
		if (addr >= cache[i].lo && addr < cache[i].hi)
			return &cache[i];
	l.addr = addr;
	l.out = &cache[cache_next % CACHE_WAYS];
	l.found = false;
	dl_iterate_phdr(find_cb, &l);
	if (!l.found) {
		l.out->lo = l.out->hi = 0;
		return NULL;
	}
	cache_next++;
	return l.out;
}

bool pf_module_of(uintptr_t addr, struct pf_site *site, bool *internal)
{
	struct seg *s = lookup(addr);

	if (!s)
		return false;
	site->module = s->name;
	site->off = addr - s->base;
	site->ip = addr;
	if (internal)
		*internal = s->internal;
	return true;
}

bool pf_addr_in_jemalloc(uintptr_t addr, struct pf_site *site)
{
	if (addr < jemalloc_lo || addr >= jemalloc_hi)
		return false;
	site->module = jemalloc_name;
	site->off = addr - jemalloc_base;
	site->ip = addr;
	return true;
}

const char *pf_exe_path(void)
{
	return exe_path;
}

bool pf_callsite(struct pf_site *site)
{
	void *ips[MAX_FRAMES];
	int n;

	if (unlikely(atomic_load_explicit(&unw_state, memory_order_acquire) != 2)) {
		int expect = 0;

		/*
		 * Loaded on first use (most programs never need it: ~140 KiB and
		 * a few dozen page faults saved). Threads arriving while another
		 * one loads it do not wait: their allocation gets no call site.
		 */
		if (atomic_compare_exchange_strong(&unw_state, &expect, 1)) {
			pf_unwind_init();
			atomic_store(&unw_state, unw_bt ? 2 : 3);
		}
		if (atomic_load(&unw_state) != 2)
			return false;
	}
	n = unw_bt(ips, MAX_FRAMES);

	for (int i = 0; i < n; i++) {
		bool internal;
		/* Return addresses: step back into the call instruction. */
		uintptr_t ip = (uintptr_t)ips[i] - (i ? 1 : 0);

		if (pf_module_of(ip, site, &internal) && !internal)
			return true;
	}
	return false;
}

void pf_modules_init(void)
{
	long n = syscall(SYS_readlink, "/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	extern void *mallocx(size_t, int);
	struct seg s;
	struct lookup l = {(uintptr_t)&mallocx, &s, false};

	exe_path[n > 0 ? n : 0] = '\0';
	dl_iterate_phdr(find_cb, &l);
	if (l.found) {
		jemalloc_lo = s.lo;
		jemalloc_hi = s.hi;
		jemalloc_base = s.base;
		memcpy(jemalloc_name, s.name, sizeof(jemalloc_name));
	}
}

void pf_unwind_init(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	int (*set_policy)(unw_addr_space_t, unw_caching_policy_t);
	unw_addr_space_t *as;
	void *f;

	if (!h) {
		pfs_debug("libunwind.so.8 not loadable: large allocations share one arena");
		return;
	}
	f = dlsym(h, "_ULx86_64_set_caching_policy");
	memcpy(&set_policy, &f, sizeof(f));
	as = dlsym(h, "_ULx86_64_local_addr_space");
	if (set_policy && as)
		set_policy(*as, UNW_CACHE_PER_THREAD);
	f = dlsym(h, "unw_backtrace");
	memcpy(&unw_bt, &f, sizeof(f));
}
