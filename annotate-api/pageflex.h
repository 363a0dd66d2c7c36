/* SPDX-License-Identifier: MIT */
/*
 * pageflex.h: optional markers that tell PageFlex about an application's
 * phases and memory regions. Header-only for the application: every
 * function is a weak reference, so a program built with it runs unchanged
 * with or without libpageflex.so. Without the shim, the calls do nothing
 * (the weak symbols resolve to NULL and the macros below skip the call);
 * with LD_PRELOAD=libpageflex.so they reach the shim. The model is
 * heaptrack's heaptrack_api.h. C and C++; link nothing.
 *
 *     #include <pageflex.h>                    // cc $(pkg-config --cflags pageflex)
 *     pageflex_phase("build");                 // process-wide phase name
 *     pageflex_tag(buf, len, "index");         // name an address range
 *     pageflex_tag_scope_begin("cache");       // allocations go to arena "cache"
 *     ...
 *     pageflex_tag_scope_end();
 *
 * Names are at most 63 bytes (longer ones are truncated). Scopes nest per
 * thread; memory allocated inside one may be freed anywhere.
 */
#ifndef PAGEFLEX_H
#define PAGEFLEX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shim defines PAGEFLEX_IMPLEMENTATION: strong definitions, no macros. */
#ifdef PAGEFLEX_IMPLEMENTATION
#define PAGEFLEX_WEAK_
#else
#define PAGEFLEX_WEAK_ __attribute__((weak))
#endif

/* 1 if libpageflex.so is loaded and tracking, else 0. */
int pageflex_active(void) PAGEFLEX_WEAK_;
/* The process enters phase name (phases arrive at the agent in call order). */
void pageflex_phase(const char *name) PAGEFLEX_WEAK_;
/* [addr, addr+len), widened to whole pages, is a region tagged name. */
void pageflex_tag(void *addr, size_t len, const char *name) PAGEFLEX_WEAK_;
/* Allocations of this thread until the matching end come from the arena
 * tagged name, whose extents the agent sees as regions tagged name. */
void pageflex_tag_scope_begin(const char *name) PAGEFLEX_WEAK_;
void pageflex_tag_scope_end(void) PAGEFLEX_WEAK_;

#ifndef PAGEFLEX_IMPLEMENTATION
#define pageflex_active() ((pageflex_active) ? (pageflex_active)() : 0)
#define pageflex_phase(name) ((pageflex_phase) ? (pageflex_phase)(name) : (void)0)
#define pageflex_tag(addr, len, name) \
	((pageflex_tag) ? (pageflex_tag)((addr), (len), (name)) : (void)0)
#define pageflex_tag_scope_begin(name) \
	((pageflex_tag_scope_begin) ? (pageflex_tag_scope_begin)(name) : (void)0)
#define pageflex_tag_scope_end() ((pageflex_tag_scope_end) ? (pageflex_tag_scope_end)() : (void)0)
#endif

#ifdef __cplusplus
}

namespace pageflex
{
/* RAII form of pageflex_tag_scope_begin/end. */
class tag_scope {
public:
	explicit tag_scope(const char *name)
	{
		pageflex_tag_scope_begin(name);
	}
	~tag_scope()
	{
		pageflex_tag_scope_end();
	}
	tag_scope(const tag_scope &) = delete;
	tag_scope &operator=(const tag_scope &) = delete;
};
} // namespace pageflex
#endif

#endif
