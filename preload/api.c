// SPDX-License-Identifier: MIT
/*
 * The pageflex.h API, as implemented by the shim. A program built against
 * pageflex.h calls these when the shim is loaded, and nothing (weak
 * references resolve to NULL) when it is not.
 */
#include <string.h>

#include "pageflex.h"
#include "pf_internal.h"

#define SCOPE_DEPTH 16

static PF_TLS unsigned scope_stack[SCOPE_DEPTH];
static PF_TLS unsigned scope_depth;

PF_EXPORT int pageflex_active(void)
{
	return pf_ready();
}

PF_EXPORT void pageflex_phase(const char *name)
{
	struct pf_event *ev;

	if (!name || !*name || pf_in_hook || !pf_ready())
		return;
	ev = pf_ring_claim(name, NULL, NULL);
	if (!ev)
		return;
	ev->type = PF_EV_PHASE;
	ev->off = atomic_fetch_add(&pf_phase_seq, 1) + 1;
	pfs_debug("phase %llu: %s", (unsigned long long)ev->off, name);
	pf_ring_publish(ev, true);
}

PF_EXPORT void pageflex_tag(void *addr, size_t len, const char *name)
{
	uintptr_t start = (uintptr_t)addr & ~(PF_PAGE - 1);
	uintptr_t end = ((uintptr_t)addr + len + PF_PAGE - 1) & ~(PF_PAGE - 1);
	struct pf_site site = {0};

	if (!addr || !len || !name || !*name || end <= start || pf_in_hook || !pf_ready())
		return;
	pf_in_hook = 1;
	pf_module_of((uintptr_t)__builtin_return_address(0), &site, NULL);
	/* A tag over a mapping: that mapping's MAP can no longer be withdrawn. */
	pf_hazard(start, end - start);
	pf_push_map(start, end - start, PFW_KIND_TAGGED, 0, name, &site, NULL, PF_NO_ARENA);
	pf_in_hook = 0;
}

PF_EXPORT void pageflex_tag_scope_begin(const char *name)
{
	unsigned a = 0;

	if (name && *name && !pf_in_hook && pf_ready() && atomic_load(&pf_state) == PF_READY &&
	    pf_large_threshold != SIZE_MAX) {
		pf_in_hook = 1;
		a = pf_scope_arena_for(name);
		pf_in_hook = 0;
	}
	if (scope_depth < SCOPE_DEPTH)
		scope_stack[scope_depth] = a;
	if (!scope_depth++)
		pf_heap_scope_enter();
	pf_scope_arena = a;
	pf_scope_name = pf_scope_tag(a);
}

PF_EXPORT void pageflex_tag_scope_end(void)
{
	unsigned a;

	if (!scope_depth)
		return;
	if (!--scope_depth)
		pf_heap_scope_leave();
	a = scope_depth && scope_depth <= SCOPE_DEPTH ? scope_stack[scope_depth - 1] : 0;
	pf_scope_arena = a;
	pf_scope_name = pf_scope_tag(a);
}
