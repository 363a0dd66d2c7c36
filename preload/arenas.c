// SPDX-License-Identifier: MIT
/*
 * jemalloc arenas and their extent hooks: how heap memory becomes regions.
 *
 * Every arena the shim knows runs with the same extent_hooks_t, which
 * forwards to jemalloc's defaults (read from arena.0.extent_hooks) and
 * reports the result: alloc -> MAP (kind heap, the arena's tag), dalloc and
 * destroy -> UNMAP, purge and decommit -> DISCARD; split and merge change no
 * address range of the arena, so they are only counted and logged (debug). The automatic arenas get these
 * hooks (tag "heap"): arena 0 at start-up, the others when a new thread
 * first uses one (threads.c). Large allocations get a per-call-site
 * arena (tag "site:<module>+0x<offset>"), at most PAGEFLEX_SITE_ARENAS of
 * them: when all are taken, the least recently used call site gives its
 * arena to the new one (RETAG), and overflow goes to one shared arena,
 * tag "large". pageflex_tag_scope_begin(name) gets an arena tagged name.
 *
 * Hooks run under jemalloc's locks: they only push ring events (no lock of
 * ours) and set the recursion guard so the mmap/madvise that the default
 * hooks make are not reported a second time.
 */
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "pf_internal.h"

#define MAX_ARENA_INDEX 1024
#define MAX_SCOPES 32

struct arena_tag {
	char tag[PF_TAG_MAX];
	char module[PF_MOD_MAX];
	uint64_t off;
};

static extent_hooks_t *def;
static extent_hooks_t hooks;
static struct arena_tag tags[MAX_ARENA_INDEX];
static _Atomic uint64_t nsplit, nmerge;

static pthread_mutex_t site_mu = PTHREAD_MUTEX_INITIALIZER;
/*
 * Held for reading while a thread unwinds, for writing across fork():
 * libunwind's internal locks must not be held by another thread when the
 * child starts, or the child's first large allocation deadlocks.
 */
static pthread_rwlock_t unwind_lock;
static pthread_once_t unwind_lock_once = PTHREAD_ONCE_INIT;

static void unwind_lock_init(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	/* A fork waiting for the write lock must not starve behind unwinders. */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&unwind_lock, &a);
	pthread_rwlockattr_destroy(&a);
}
static struct {
	uintptr_t ip;
	unsigned arena;
	uint64_t last_use;
} sites[64];
static unsigned nsites;
static uint64_t site_tick;
static unsigned fallback_arena; /* index + 1 */

static struct {
	char name[PF_TAG_MAX];
	unsigned arena;
} scopes[MAX_SCOPES];
static unsigned nscopes;

static void push_extent(int type, void *addr, size_t size, unsigned ind)
{
	struct pf_site site = {0};
	const char *tag = "heap";

	if (atomic_load_explicit(&pf_state, memory_order_relaxed) != PF_READY)
		return;
	if (type != PF_EV_MAP) {
		pf_push_range(type, (uintptr_t)addr, size);
		return;
	}
	if (ind < MAX_ARENA_INDEX && tags[ind].tag[0]) {
		tag = tags[ind].tag;
		site.module = tags[ind].module;
		site.off = tags[ind].off;
	}
	pf_push_map((uintptr_t)addr, size, PFW_KIND_HEAP, PROT_READ | PROT_WRITE, tag, &site, NULL,
		    ind < PF_NO_ARENA ? ind : PF_NO_ARENA);
}

static void *h_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t align, bool *zero,
		     bool *commit, unsigned ind)
{
	int g = pf_in_hook;
	void *p;

	(void)h;
	pf_in_hook = 1;
	p = def->alloc(def, new_addr, size, align, zero, commit, ind);
	pf_in_hook = g;
	if (p)
		push_extent(PF_EV_MAP, p, size, ind);
	return p;
}

static bool h_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	int g = pf_in_hook;
	bool r;

	(void)h;
	pf_in_hook = 1;
	r = def->dalloc(def, addr, size, committed, ind);
	pf_in_hook = g;
	if (!r)
		push_extent(PF_EV_UNMAP, addr, size, ind);
	return r;
}

static void h_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
	int g = pf_in_hook;

	(void)h;
	pf_in_hook = 1;
	def->destroy(def, addr, size, committed, ind);
	pf_in_hook = g;
	push_extent(PF_EV_UNMAP, addr, size, ind);
}

/*
 * jemalloc's own commit, decommit or purge hook (one signature) under the
 * recursion guard; if it worked and the range lost its pages, a DISCARD.
 */
static bool range_hook(extent_purge_t *fn, bool discards, void *addr, size_t size, size_t off,
		       size_t len, unsigned ind)
{
	int g = pf_in_hook;
	bool r;

	pf_in_hook = 1;
	r = fn(def, addr, size, off, len, ind);
	pf_in_hook = g;
	if (!r && discards)
		push_extent(PF_EV_DISCARD, (char *)addr + off, len, ind);
	return r;
}

static bool h_commit(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
		     unsigned ind)
{
	(void)h;
	return range_hook(def->commit, false, addr, size, off, len, ind);
}

static bool h_decommit(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
		       unsigned ind)
{
	(void)h;
	return range_hook(def->decommit, true, addr, size, off, len, ind);
}

static bool h_purge_lazy(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
			 unsigned ind)
{
	(void)h;
	return range_hook(def->purge_lazy, true, addr, size, off, len, ind);
}

static bool h_purge_forced(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
			   unsigned ind)
{
	(void)h;
	return range_hook(def->purge_forced, true, addr, size, off, len, ind);
}

static bool h_split(extent_hooks_t *h, void *addr, size_t size, size_t a, size_t b, bool committed,
		    unsigned ind)
{
	bool r;

	(void)h;
	r = def->split(def, addr, size, a, b, committed, ind);
	if (!r) {
		atomic_fetch_add_explicit(&nsplit, 1, memory_order_relaxed);
		pfs_debug("arena %u: extent %p +%zu split at +%zu", ind, addr, size, a);
	}
	return r;
}

static bool h_merge(extent_hooks_t *h, void *a, size_t sa, void *b, size_t sb, bool committed,
		    unsigned ind)
{
	bool r;

	(void)h;
	r = def->merge(def, a, sa, b, sb, committed, ind);
	if (!r) {
		atomic_fetch_add_explicit(&nmerge, 1, memory_order_relaxed);
		pfs_debug("arena %u: extents %p +%zu and %p +%zu merged", ind, a, sa, b, sb);
	}
	return r;
}

/* Our hooks, with NULL wherever the defaults opt out of an operation. */
static void build_hooks(void)
{
	hooks.alloc = def->alloc ? h_alloc : NULL;
	hooks.dalloc = def->dalloc ? h_dalloc : NULL;
	hooks.destroy = def->destroy ? h_destroy : NULL;
	hooks.commit = def->commit ? h_commit : NULL;
	hooks.decommit = def->decommit ? h_decommit : NULL;
	hooks.purge_lazy = def->purge_lazy ? h_purge_lazy : NULL;
	hooks.purge_forced = def->purge_forced ? h_purge_forced : NULL;
	hooks.split = def->split ? h_split : NULL;
	hooks.merge = def->merge ? h_merge : NULL;
}

static void set_tag(unsigned ind, const char *tag, const struct pf_site *site)
{
	if (ind >= MAX_ARENA_INDEX)
		return;
	tags[ind].off = site ? site->off : 0;
	pf_strlcpy(tags[ind].module, site ? site->module : "", sizeof(tags[ind].module));
	pf_strlcpy(tags[ind].tag, tag, sizeof(tags[ind].tag));
}

/* Creates an arena with our hooks; returns index + 1, or 0. */
static unsigned create_arena(const char *tag, const struct pf_site *site)
{
	extent_hooks_t *hp = &hooks;
	unsigned ind;
	size_t sz = sizeof(ind);

	if (mallctl("arenas.create", &ind, &sz, &hp, sizeof(hp)))
		return 0;
	set_tag(ind, tag, site);
	pfs_debug("arena %u created, tag %s", ind, tag);
	return ind + 1;
}

/* Automatic arenas that already run our hooks. */
static _Atomic unsigned char hooked[MAX_ARENA_INDEX];

static int hook_arena(unsigned i)
{
	extent_hooks_t *hp = &hooks;
	char name[48];

	if (i < MAX_ARENA_INDEX && atomic_load(&hooked[i]))
		return 0;
	pf_fmt(name, sizeof(name), "arena.%u.extent_hooks", i);
	if (mallctl(name, NULL, NULL, &hp, sizeof(hp)))
		return -ENOTSUP;
	if (i < MAX_ARENA_INDEX)
		atomic_store(&hooked[i], 1);
	pfs_debug("extent hooks installed on automatic arena %u", i);
	return 0;
}

int pf_arenas_init(void)
{
	extent_hooks_t *hp;
	size_t sz = sizeof(hp);

	if (mallctl("arena.0.extent_hooks", &hp, &sz, NULL, 0) || !hp || !hp->alloc)
		return -ENOTSUP;
	def = hp;
	build_hooks();
	/*
	 * Arena 0 now; the other automatic arenas when a thread first uses one
	 * (pf_arenas_hook_thread), so no arena exists before jemalloc needs it.
	 */
	return hook_arena(0);
}

void pf_arenas_hook_thread(void)
{
	unsigned ind;
	size_t sz = sizeof(ind);

	if (!def || atomic_load_explicit(&pf_state, memory_order_relaxed) != PF_READY)
		return;
	/* Reading thread.arena makes jemalloc choose (and create) this thread's arena. */
	if (!mallctl("thread.arena", &ind, &sz, NULL, 0))
		hook_arena(ind);
}

/* "site:<basename>+0x<off>" */
static void site_tag(const struct pf_site *s, char *out, size_t cap)
{
	const char *base = strrchr(s->module, '/');

	pf_fmt(out, cap, "site:%s+0x%lx", base ? base + 1 : s->module, (unsigned long)s->off);
}

static unsigned fallback(void)
{
	if (!fallback_arena)
		fallback_arena = create_arena("large", NULL);
	return fallback_arena;
}

unsigned pf_site_arena(void)
{
	struct pf_site s;
	char tag[PF_TAG_MAX];
	unsigned a = 0, lru = 0;
	bool found;

	pthread_once(&unwind_lock_once, unwind_lock_init);
	pthread_rwlock_rdlock(&unwind_lock);
	found = pf_callsite(&s);
	pthread_rwlock_unlock(&unwind_lock);
	if (!found) {
		pthread_mutex_lock(&site_mu);
		a = fallback();
		pthread_mutex_unlock(&site_mu);
		return a;
	}
	pthread_mutex_lock(&site_mu);
	for (unsigned i = 0; i < nsites; i++) {
		if (sites[i].ip == s.ip) {
			sites[i].last_use = ++site_tick;
			a = sites[i].arena;
			goto out;
		}
		if (sites[i].last_use < sites[lru].last_use)
			lru = i;
	}
	site_tag(&s, tag, sizeof(tag));
	if (nsites < pf_cfg.site_arenas) {
		a = create_arena(tag, &s);
		if (!a) {
			a = fallback();
			goto out;
		}
		sites[nsites].ip = s.ip;
		sites[nsites].arena = a;
		sites[nsites].last_use = ++site_tick;
		nsites++;
	} else if (nsites) {
		/* Take over the least recently used call site's arena. */
		struct pf_event *ev;

		a = sites[lru].arena;
		sites[lru].ip = s.ip;
		sites[lru].last_use = ++site_tick;
		set_tag(a - 1, tag, &s);
		ev = pf_ring_claim(tag, s.module, NULL);
		if (ev) {
			ev->type = PF_EV_RETAG;
			ev->arena = (uint16_t)(a - 1);
			ev->off = s.off;
			pf_ring_publish(ev, false);
		}
		pfs_debug("arena %u now serves call site %s", a - 1, tag);
	} else {
		a = fallback();
	}
out:
	pthread_mutex_unlock(&site_mu);
	return a;
}

unsigned pf_scope_arena_for(const char *name)
{
	unsigned a = 0;

	pthread_mutex_lock(&site_mu);
	for (unsigned i = 0; i < nscopes; i++) {
		if (!strncmp(scopes[i].name, name, PF_TAG_MAX - 1)) {
			a = scopes[i].arena;
			goto out;
		}
	}
	if (nscopes < MAX_SCOPES) {
		a = create_arena(name, NULL);
		if (a) {
			pf_strlcpy(scopes[nscopes].name, name, PF_TAG_MAX);
			scopes[nscopes].arena = a;
			nscopes++;
		}
	} else {
		pfs_debug("more than %d scope names: scope %s uses the default arenas", MAX_SCOPES,
			  name);
	}
out:
	pthread_mutex_unlock(&site_mu);
	return a;
}

/* Stable storage for a scope's name (the tag of mmaps made inside it). */
const char *pf_scope_tag(unsigned arena)
{
	return arena && arena - 1 < MAX_ARENA_INDEX ? tags[arena - 1].tag : NULL;
}

void pf_arenas_atfork_prepare(void)
{
	pthread_once(&unwind_lock_once, unwind_lock_init);
	pthread_rwlock_wrlock(&unwind_lock);
	pthread_mutex_lock(&site_mu);
}

void pf_arenas_atfork_parent(void)
{
	pthread_mutex_unlock(&site_mu);
	pthread_rwlock_unlock(&unwind_lock);
}

void pf_arenas_atfork_child(void)
{
	pthread_mutex_init(&site_mu, NULL);
	unwind_lock_init();
}
