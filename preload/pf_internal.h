/* SPDX-License-Identifier: MIT */
/*
 * Internal interface of libpageflex.so, shared by its source files.
 *
 * Shape of the shim: hooks (mmap family, malloc family, jemalloc extent
 * hooks, the pageflex.h API) run in application threads and only push fixed
 * size events into a lock-free ring (ring.c). One background thread
 * (sender.c) drains the ring, keeps the table of live regions (table.c),
 * encodes the wire protocol and talks to the agent. So a hook never takes a
 * lock that the agent, the socket or jemalloc's own locks could hold up.
 */
#ifndef PF_INTERNAL_H
#define PF_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pageflex_wire.h"

#define PF_HIDDEN __attribute__((visibility("hidden")))
#define PF_EXPORT __attribute__((visibility("default")))
#define PF_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define PF_PAGE 4096ul
#define PF_TAG_MAX 64 /* bytes incl. NUL */
#define PF_MOD_MAX 160
#define PF_PATH_MAX 224

/* ---- configuration (init.c) ---- */
enum pfs_log_level { PFS_LOG_OFF, PFS_LOG_WARN, PFS_LOG_INFO, PFS_LOG_DEBUG };

struct pf_config {
	size_t min_region; /* PAGEFLEX_MIN_REGION */
	size_t large_alloc; /* PAGEFLEX_LARGE_ALLOC */
	unsigned site_arenas; /* PAGEFLEX_SITE_ARENAS */
	int log; /* PAGEFLEX_LOG */
	char socket[108]; /* PAGEFLEX_SOCKET */
};

enum pf_state { PF_UNINIT, PF_INITIALISING, PF_READY, PF_DISABLED };

extern PF_HIDDEN struct pf_config pf_cfg;
extern PF_HIDDEN _Atomic int pf_state;
/* Threshold tested by the malloc fast path: SIZE_MAX until the shim is ready. */
extern PF_HIDDEN size_t pf_large_threshold;
/* Non-zero inside a hook of this thread: nested calls pass straight through. */
extern PF_HIDDEN PF_TLS int pf_in_hook;
/* Arena index + 1 of the innermost pageflex_tag_scope of this thread, or 0. */
extern PF_HIDDEN PF_TLS unsigned pf_scope_arena;
/* Name of that scope (also the tag of mmaps made inside it), or NULL. */
extern PF_HIDDEN PF_TLS const char *pf_scope_name;

/* Returns true when the shim is tracking (initialises lazily). */
PF_HIDDEN bool pf_ready(void);
/* Disables the shim for good, with one warning. */
PF_HIDDEN void pf_disable(const char *why);

/* ---- logging (log.c): raw write(2), no stdio, no malloc ----
 * pfs_ ("shim"): not the agent's pf_log/pf_warn (agent/log.h), whose
 * levels differ (PF_LOG_ERR there, PFS_LOG_OFF here). */
PF_HIDDEN void pfs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pfs_debug(...)                                       \
	do {                                                 \
		if (unlikely(pf_cfg.log >= PFS_LOG_DEBUG))   \
			pfs_log(PFS_LOG_DEBUG, __VA_ARGS__); \
	} while (0)
#define pfs_warn(...) pfs_log(PFS_LOG_WARN, __VA_ARGS__)
/* Small allocation-free formatter (subset of printf: %s %d %u %x %p %z? %l?). */
PF_HIDDEN int pf_vfmt(char *buf, size_t cap, const char *fmt, __builtin_va_list ap);
PF_HIDDEN int pf_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- events (ring.c) ---- */
enum pf_ev_type {
	PF_EV_MAP = 1, /* start,len,kind,prot,tag,module,off,path,arena */
	PF_EV_UNMAP, /* start,len */
	PF_EV_DISCARD, /* start,len (only tracked parts are reported) */
	PF_EV_REMAP, /* old: start,len; new: start2,len2 */
	PF_EV_PHASE, /* tag = name, off = phase seq */
	PF_EV_RETAG, /* arena's tag/module/off changed */
	PF_EV_FLUSH, /* ask the sender to send what it has now */
};

/*
 * One ring slot (128 bytes): the header of an event and the start of its
 * text, which is tag, module and path one after the other (lengths in the
 * header, no NULs). An event whose text does not fit takes nslots slots in
 * a row; the continuation slots hold nothing but text.
 */
#define PF_SLOT 128
struct pf_event {
	_Atomic uint64_t ready; /* (ring position + 1) << 2 | state, see ring.c */
	uint64_t pos; /* ring position, set by pf_ring_claim() */
	uint8_t type, kind, prot, nslots;
	uint16_t arena; /* jemalloc arena index, or PF_NO_ARENA */
	uint16_t tag_len, module_len, path_len;
	uint16_t pad2[2];
	uint64_t start, len, off, start2, len2;
	char text[PF_SLOT - 72];
};
#define PF_NO_ARENA 0xffffu
_Static_assert(sizeof(struct pf_event) == PF_SLOT, "one event header per slot");

/* An event as the sender sees it: the header and NUL-terminated strings. */
struct pf_msg {
	struct pf_event ev;
	char tag[PF_TAG_MAX];
	char module[PF_MOD_MAX];
	char path[PF_PATH_MAX];
};

PF_HIDDEN int pf_ring_init(void);
/*
 * Claims the slots of an event with these strings (each may be NULL, each is
 * cut to its field's size) and copies them in; the other header fields are
 * zero. NULL if the ring is full (counted).
 */
PF_HIDDEN struct pf_event *pf_ring_claim(const char *tag, const char *module, const char *path);
/* Publishes a claimed slot; urgent wakes the sender at once. */
PF_HIDDEN void pf_ring_publish(struct pf_event *ev, bool urgent);
/* Withdraws the published event at pos if the sender has not taken it yet
 * and no urgent event or flush came after it. */
PF_HIDDEN bool pf_ring_cancel(uint64_t pos);
/* Sender side: next published event before position limit (or before what
 * pf_ring_hurry asked for, or older than a quarter of the ring) or NULL; then
 * pf_ring_release(). */
PF_HIDDEN struct pf_event *pf_ring_peek(uint64_t limit);
PF_HIDDEN struct pf_event *pf_ring_peek_nowait(void);
/* Copies a taken event out of the ring. */
PF_HIDDEN void pf_ring_read(const struct pf_event *ev, struct pf_msg *m);
PF_HIDDEN void pf_ring_release(void);
PF_HIDDEN bool pf_ring_empty(void);
PF_HIDDEN uint64_t pf_ring_head(void);
PF_HIDDEN uint64_t pf_ring_tail(void);
PF_HIDDEN uint64_t pf_ring_take_dropped(void);
/* After fork in the child: forget what other threads were writing. */
PF_HIDDEN void pf_ring_reset_child(void);
/* The sender's futex word: sleeping state, see ring.c. */
PF_HIDDEN void pf_ring_wait(int mode, long timeout_ms);
PF_HIDDEN void pf_ring_kick(void);
/* Wakes the sender and asks it to take every event before position upto now. */
PF_HIDDEN void pf_ring_hurry(uint64_t upto);
PF_HIDDEN uint64_t pf_ring_hurried(void);

/* Copies a string into a fixed field, truncating; returns the length kept. */
PF_HIDDEN uint16_t pf_strlcpy(char *dst, const char *src, size_t cap);

/* ---- modules and call sites (modules.c) ---- */
struct pf_site {
	const char *module; /* stable for as long as the module stays loaded */
	uint64_t off; /* offset of the address from the module's load base */
	uintptr_t ip;
};
PF_HIDDEN void pf_modules_init(void);
/* Loads libunwind (on the first large allocation, see pf_callsite). */
PF_HIDDEN void pf_unwind_init(void);
/* Module and offset of addr; false if addr is in no loaded module. */
PF_HIDDEN bool pf_module_of(uintptr_t addr, struct pf_site *site, bool *internal);
/* True if addr is inside jemalloc's text (its own mmap calls); fills site. */
PF_HIDDEN bool pf_addr_in_jemalloc(uintptr_t addr, struct pf_site *site);
/* First caller frame outside libc, libstdc++, jemalloc and the shim. */
PF_HIDDEN bool pf_callsite(struct pf_site *site);
PF_HIDDEN const char *pf_exe_path(void);

/* ---- heap (heap.c, arenas.c) ---- */
PF_HIDDEN void pf_heap_resolve(void);
/* Size at which malloc leaves its fast path (see heap.c). */
extern PF_HIDDEN size_t pf_fast_limit;
PF_HIDDEN void pf_heap_enable(void);
PF_HIDDEN void pf_heap_scope_enter(void);
PF_HIDDEN void pf_heap_scope_leave(void);
PF_HIDDEN int pf_arenas_init(void);
/* Gives the calling thread's automatic arena our extent hooks. */
PF_HIDDEN void pf_arenas_hook_thread(void);
/* Resolves libc's pthread_create (threads.c). */
PF_HIDDEN void pf_threads_init(void);
/* Set when the main thread calls pthread_exit (threads.c). */
extern PF_HIDDEN _Atomic bool pf_main_exited;
/* Threads of this process (/proc/self/stat), or -1 (single_thread.c). */
PF_HIDDEN long pf_thread_count(void);
/* Arena for a large allocation from the current call site (index + 1), or 0. */
PF_HIDDEN unsigned pf_site_arena(void);
/* Arena for a named scope (index + 1), or 0. */
PF_HIDDEN unsigned pf_scope_arena_for(const char *name);
/* The tag of an arena (index + 1), stable storage; NULL if none. */
PF_HIDDEN const char *pf_scope_tag(unsigned arena);
PF_HIDDEN void pf_arenas_atfork_prepare(void);
PF_HIDDEN void pf_arenas_atfork_parent(void);
PF_HIDDEN void pf_arenas_atfork_child(void);

/* ---- withdrawing short-lived regions (withdraw.c) ---- */
/* A non-fixed mapping of this thread, as it was made. */
struct pf_own {
	uint64_t start; /* 0: empty slot */
	uint64_t len;
	uint64_t pos1; /* ring position + 1 of its MAP; 0: no MAP in the ring */
	uint64_t hz; /* pf_hazard_now() before its mmap */
};
/* Logs a range that a call is about to change although the caller may not
 * own it as one whole mapping (before the system call). */
PF_HIDDEN void pf_hazard(uint64_t start, uint64_t len);
PF_HIDDEN uint64_t pf_hazard_now(void);
/* Remembers / forgets one of this thread's non-fixed mappings (pf_in_hook set). */
PF_HIDDEN void pf_own_add(uint64_t start, uint64_t len, uint64_t pos1, uint64_t hz);
PF_HIDDEN void pf_own_forget(uint64_t start);
/* Takes the record of exactly [start, start + len) if this thread has one. */
PF_HIDDEN bool pf_own_take(uint64_t start, uint64_t len, struct pf_own *rec);
/* After the munmap: true if no hazard since its mmap may have touched it. */
PF_HIDDEN bool pf_own_intact(const struct pf_own *rec);

/* ---- mmap family (hooks_mmap.c) ---- */
/* Returns the MAP's ring position + 1, or 0 if the ring was full. */
PF_HIDDEN uint64_t pf_push_map(uint64_t start, uint64_t len, int kind, int prot, const char *tag,
			       const struct pf_site *site, const char *path, unsigned arena);
PF_HIDDEN void pf_push_range(int type, uint64_t start, uint64_t len);

/* ---- sender thread (sender.c) and region table (table.c) ---- */
PF_HIDDEN int pf_sender_start(void);
PF_HIDDEN void pf_sender_flush(long timeout_ms);
/* Stops the sender thread (true if it was running) and, in resume, starts it
 * again: around calls that need a single-threaded process (single_thread.c).
 * Every pause must be followed by a resume (they hold a lock in between). */
PF_HIDDEN bool pf_sender_pause(void);
PF_HIDDEN void pf_sender_resume(void);
PF_HIDDEN void pf_sender_atfork_prepare(void);
PF_HIDDEN void pf_sender_atfork_parent(void);
PF_HIDDEN void pf_sender_atfork_child(void);
PF_HIDDEN extern _Atomic uint64_t pf_phase_seq;

struct pf_region {
	uint64_t start, end, off;
	uint32_t tag, module, path; /* string ids in the table's pool; 0 = none */
	uint16_t arena;
	uint8_t kind, prot;
};
PF_HIDDEN int pf_table_init(void);
PF_HIDDEN void pf_table_map(const struct pf_msg *m);
PF_HIDDEN void pf_table_unmap(uint64_t start, uint64_t end);
/* Calls fn for each tracked part of [start,end); returns how many. */
PF_HIDDEN unsigned pf_table_overlaps(uint64_t start, uint64_t end,
				     void (*fn)(uint64_t s, uint64_t e, void *arg), void *arg);
/* Region containing addr, or NULL. */
PF_HIDDEN const struct pf_region *pf_table_find(uint64_t addr);
PF_HIDDEN size_t pf_table_count(void);
PF_HIDDEN const struct pf_region *pf_table_at(size_t i);
PF_HIDDEN const char *pf_table_str(uint32_t id, size_t *len);
PF_HIDDEN uint32_t pf_table_intern(const char *s, size_t len);
PF_HIDDEN void pf_table_retag(unsigned arena, const struct pf_msg *m,
			      void (*fn)(const struct pf_region *r, void *arg), void *arg);
PF_HIDDEN uint64_t pf_table_take_lost(void);

#endif
