// SPDX-License-Identifier: MIT
/*
 * Start-up, configuration and shutdown of libpageflex.so.
 *
 * Initialisation is lazy: the first hook that needs the shim (an mmap in
 * another library's constructor, say) parses the environment and sets up
 * the ring and the table, with raw system calls only. The constructor then
 * does what needs a working C runtime: jemalloc extent hooks and arenas,
 * the fork handlers and the sender thread. Anything that fails disables the
 * shim with one warning; the program then runs exactly as without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "pf_internal.h"

struct pf_config pf_cfg = {
	.min_region = 64 << 10,
	.large_alloc = 1 << 20,
	.site_arenas = 16,
	.log = PFS_LOG_WARN,
	.socket = PFW_DEFAULT_SOCKET,
};
_Atomic int pf_state = PF_UNINIT;
size_t pf_large_threshold = SIZE_MAX;
PF_TLS int pf_in_hook;
PF_TLS unsigned pf_scope_arena;

extern char **environ;

/* getenv() without locks: environ is only read, never written here. */
static const char *env(const char *name)
{
	size_t n = strlen(name);

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* A size setting: pf_parse_size's forms ("65536", "64K", "1MiB"), 1 byte to
 * 1 PiB; false if not. */
static bool parse_size(const char *s, size_t *out)
{
	uint64_t v;

	if (pf_parse_size(s, &v) || !v || v > (1ull << 50))
		return false;
	*out = (size_t)v;
	return true;
}

static void parse_env(void)
{
	const char *v;
	size_t sz;

	v = env("PAGEFLEX_LOG");
	if (v) {
		if (!strcmp(v, "debug"))
			pf_cfg.log = PFS_LOG_DEBUG;
		else if (!strcmp(v, "info"))
			pf_cfg.log = PFS_LOG_INFO;
		else if (!strcmp(v, "warn") || !*v)
			pf_cfg.log = PFS_LOG_WARN;
		else if (!strcmp(v, "off") || !strcmp(v, "silent"))
			pf_cfg.log = PFS_LOG_OFF;
		else
			pfs_warn(
				"PAGEFLEX_LOG=\"%.*s\" is not one of off, warn, info, debug; using warn",
				64, v);
	}
	v = env("PAGEFLEX_MIN_REGION");
	if (v) {
		if (parse_size(v, &sz))
			pf_cfg.min_region = (sz + PF_PAGE - 1) & ~(PF_PAGE - 1);
		else
			pfs_warn("PAGEFLEX_MIN_REGION=\"%.*s\" is not a size (like 65536 or 64K); "
				 "using 64K",
				 64, v);
	}
	v = env("PAGEFLEX_LARGE_ALLOC");
	if (v) {
		if (parse_size(v, &sz))
			pf_cfg.large_alloc = sz;
		else
			pfs_warn("PAGEFLEX_LARGE_ALLOC=\"%.*s\" is not a size (like 1M); using 1M",
				 64, v);
	}
	v = env("PAGEFLEX_SITE_ARENAS");
	if (v) {
		char *end;
		long n = strtol(v, &end, 10);

		if (*v && !*end && n >= 0 && n <= 64)
			pf_cfg.site_arenas = (unsigned)n;
		else
			pfs_warn(
				"PAGEFLEX_SITE_ARENAS=\"%.*s\" is not a number from 0 to 64; using 16",
				64, v);
	}
	v = env("PAGEFLEX_SOCKET");
	if (v) {
		if (*v && strlen(v) < sizeof(pf_cfg.socket))
			pf_strlcpy(pf_cfg.socket, v, sizeof(pf_cfg.socket));
		else
			pfs_warn(
				"PAGEFLEX_SOCKET=\"%.*s\" is empty or longer than %zu bytes; using %s",
				64, v, sizeof(pf_cfg.socket) - 1, PFW_DEFAULT_SOCKET);
	}
}

void pf_disable(const char *why)
{
	if (atomic_exchange(&pf_state, PF_DISABLED) != PF_DISABLED)
		pfs_warn("disabled: %s; the program runs without PageFlex", why);
	pf_large_threshold = SIZE_MAX;
	pf_heap_enable();
}

static bool init_slow(void)
{
	int expect = PF_UNINIT;
	int err;

	/* Too early (before libc set environ up): pass through, try later. */
	if (!environ)
		return false;
	if (!atomic_compare_exchange_strong(&pf_state, &expect, PF_INITIALISING))
		return atomic_load(&pf_state) == PF_READY;
	parse_env();
	err = pf_ring_init();
	if (!err)
		err = pf_table_init();
	if (err) {
		pf_disable("cannot map the event ring or the region table");
		return false;
	}
	pf_modules_init();
	atomic_store(&pf_state, PF_READY);
	pfs_debug("ready: socket %s, min region %zu, large alloc %zu, %u call-site arenas",
		  pf_cfg.socket, pf_cfg.min_region, pf_cfg.large_alloc, pf_cfg.site_arenas);
	return true;
}

bool pf_ready(void)
{
	int s = atomic_load_explicit(&pf_state, memory_order_acquire);

	if (likely(s == PF_READY))
		return true;
	if (s != PF_UNINIT)
		return false;
	return init_slow();
}

static void atfork_prepare(void)
{
	pf_arenas_atfork_prepare();
	pf_sender_atfork_prepare();
}

static void atfork_parent(void)
{
	pf_sender_atfork_parent();
	pf_arenas_atfork_parent();
}

static void atfork_child(void)
{
	pf_arenas_atfork_child();
	pf_sender_atfork_child();
}

__attribute__((constructor)) static void pf_constructor(void)
{
	int err;

	pf_in_hook++;
	if (!pf_ready())
		goto out;
	pf_heap_resolve();
	pf_threads_init();
	err = pf_arenas_init();
	if (err) {
		pf_disable("cannot install the jemalloc extent hooks");
		goto out;
	}
	/* After jemalloc registered its own: our prepare handler runs first. */
	if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child)) {
		pf_disable("cannot register fork handlers");
		goto out;
	}
	err = pf_sender_start();
	if (err) {
		pf_disable("cannot start the sender thread");
		goto out;
	}
	pf_large_threshold = pf_cfg.large_alloc;
	pf_heap_enable();
out:
	pf_in_hook--;
}

__attribute__((destructor)) static void pf_destructor(void)
{
	if (atomic_load(&pf_state) != PF_READY)
		return;
	/* Bounded: an agent that does not read costs the exit at most this. */
	pf_sender_flush(250);
}
