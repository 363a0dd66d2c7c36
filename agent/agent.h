/* SPDX-License-Identifier: MIT */
/*
 * pageflexd's shared state: the managed processes, the event loop's watch
 * records, the agent's options and clock. Each component (shim server,
 * reclaim loop, control socket) includes this and keeps its own file.
 */
#ifndef PAGEFLEX_AGENT_H_
#define PAGEFLEX_AGENT_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bpfview.h"
#include "pageflex_wire.h"
#include "regions.h"

/* An fd in the event loop and what to do when it is ready. */
struct pf_watch {
	int fd;
	void (*ready)(struct pf_watch *w, uint32_t events);
	void *ptr;
};
int pf_loop_add(struct pf_watch *w);
/* The events w waits for (EPOLLIN when added). */
int pf_loop_mod(struct pf_watch *w, uint32_t events);
void pf_loop_del(struct pf_watch *w);

struct pf_opts {
	const char *socket; /* shim socket */
	const char *control; /* control socket */
	const char *config;
	uint64_t scan_interval_ms; /* 0: derived from the smallest cold age */
	uint64_t scan_capacity_pages;
	uint32_t max_procs;
	bool stream_first_touch;
	bool count_first_touch; /* keep the fault program attached */
	bool corrupt_calibration;
	const char *default_objective; /* in force because nothing else was given */
	const char *metrics_file, *metrics_listen; /* metrics.h; NULL: off */
};
extern struct pf_opts pf_opts;

/* Milliseconds on CLOCK_MONOTONIC since the agent started (the policies' clock). */
uint64_t pf_now_ms(void);
/* That clock at CLOCK_MONOTONIC time ns (not before the agent started). */
uint64_t pf_ms_of_mono_ns(uint64_t ns);

struct pf_conn;

struct pf_proc {
	pid_t pid;
	int pidfd;
	struct pf_watch pidw;
	struct pf_conn *conn;
	char exe[256];
	char phase[PFW_MAX_TAG + 1];
	uint64_t phase_seq;
	struct pf_rtable rt;
	struct pf_bpf_proc bp;
	uint64_t started_ms, next_scan_ms;
	bool scanned_regions; /* the last scan had regions to scan */
	uint64_t registered_ns; /* CLOCK_MONOTONIC, to order it against exec events */
	bool replayed; /* HELLO carried PFW_HELLO_REPLAY */
	/* Shim traffic. */
	uint64_t packets, records, lost_packets, shim_dropped, refused_maps;
	/* Ring-buffer events. */
	uint64_t ev_swap_faults, ev_swapins;
	uint64_t pending_page; /* last swap fault not yet known as a miss (prefetch) */
	struct pf_phase_hot *hot; /* prefetch_hot's phase memory (phase_hot.c), or NULL */
	struct pf_objective_set objs; /* its objectives, one per rule (objectives.c) */
};

/* Process table. */
/* pidfd: the connection's (SO_PEERPIDFD, duplicated) or -1. */
struct pf_proc *pf_proc_new(pid_t pid, int pidfd, const char *exe, size_t exe_len, int *err);
struct pf_proc *pf_proc_find(pid_t pid);
void pf_proc_free(struct pf_proc *p, const char *why);
size_t pf_proc_count(void);
struct pf_proc *pf_proc_at(size_t i);
/* Pushes a changed region table to BPF. */
void pf_proc_sync(struct pf_proc *p);

/* A listening unix socket at path (mode), never stealing a live agent's. */
int pf_unix_listen(const char *path, int type, mode_t mode);

/* Such a socket in the event loop; closing it removes its file. */
struct pf_listener {
	struct pf_watch w;
	char path[108];
};
#define PF_LISTENER_INIT         \
	{                        \
		.w = {.fd = -1 } \
	}
/* Puts fd (from pf_unix_listen(path, ...)) in the loop: pf_loop_add's result. */
int pf_listener_add(struct pf_listener *l, int fd, const char *path,
		    void (*ready)(struct pf_watch *w, uint32_t events));
void pf_listener_close(struct pf_listener *l);

/* Shim server. */
int pf_shim_listen(const char *path);
void pf_shim_close(void);
/* Drops the connection of p (p stays alive). */
void pf_shim_conn_free(struct pf_conn *c, const char *why);
extern uint64_t pf_shim_bad_packets, pf_shim_connections;

/* Control socket. */
int pf_control_listen(const char *path);
void pf_control_close(void);

/*
 * The agent's reclaim loop (reclaim.c), called from the timer. Its names
 * are pf_agent_reclaim_*; pf_reclaim_* is the policies' interface
 * (policy/policy.h). Likewise pf_agent_prefetch_* below.
 */
void pf_agent_reclaim_tick(void);
uint64_t pf_agent_reclaim_interval_ms(void);
extern uint64_t pf_agent_reclaim_pages_out, pf_agent_reclaim_pages_cooled;
/* REGION_DISCARD: forget the policy state of the pages in the range. */
void pf_agent_reclaim_discard(struct pf_rtable *t, uint64_t start, uint64_t len);

/* Binds a region to its rule (policy, params, threshold) in a phase (binding.c). */
void pf_region_bind(struct pf_rinfo *ri, const char *phase);
/* Rebinds every region of p (phase change, rules reload; binding.c). */
void pf_proc_rebind(struct pf_proc *p);
/* Reloads the rules file and rebinds everything (rules_reload.c); 0 or
 * -errno with the problem in err. */
int pf_reload_rules(char *err, size_t errlen);
/* The agent's prefetch (prefetch.c): per-region state for a prefetch
 * policy, and the fault events that drive it. */
void pf_agent_prefetch_bind(struct pf_rinfo *ri);
void pf_agent_prefetch_event(const struct pfa_event *ev);
/* Regions with a prefetch policy exist: the ring buffer is drained every
 * 10 ms (PREFETCH_TICK_MS in main.c) instead of 20. */
bool pf_agent_prefetch_active(void);
/* WILLNEED calls and pages, of every prefetcher (prefetch.c, leap_live.c, phase_hot.c). */
extern uint64_t pf_agent_prefetch_pages, pf_agent_prefetch_calls;

/* Recording one process as a pageflex-sim trace (recorder.c). first_touch:
 * first-touch faults are recorded too. */
int pf_record_start(struct pf_proc *p, const char *path, uint64_t seconds, bool first_touch,
		    char *err, size_t errlen);
void pf_record_stop(const char *why);
bool pf_record_active(pid_t pid);
void pf_record_region(struct pf_rinfo *ri);
void pf_record_region_end(struct pf_rinfo *ri);
void pf_record_phase(struct pf_proc *p);
void pf_record_event(const struct pfa_event *ev);
/* p was just scanned; the policies run on the scan at time now (pf_now_ms). */
void pf_record_scan(struct pf_proc *p, uint64_t now);
void pf_record_tick(void);

/* Phase change: rebind and run the rules' on_entry actions (phase_actions.c). */
void pf_agent_phase_enter(struct pf_proc *p);

#endif
