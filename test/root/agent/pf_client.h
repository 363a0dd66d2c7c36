/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for pageflexd: a minimal shim-side client that sends real
 * wire packets about the caller's own memory (and malformed ones on
 * purpose), plus starting, querying and stopping an agent in a private
 * directory so parallel tests never share sockets.
 */
#ifndef PF_CLIENT_H
#define PF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pfc {
	int fd;
	uint32_t seq;
	char path[256];
};

/* Connects and sends HELLO (flags: PFW_HELLO_REPLAY or 0). 0 or -errno. */
int pfc_connect(struct pfc *c, const char *path, uint32_t flags);
int pfc_map(struct pfc *c, const void *addr, size_t len, const char *tag);
int pfc_unmap(struct pfc *c, const void *addr, size_t len);
int pfc_send_raw(struct pfc *c, const void *buf, size_t len);
void pfc_close(struct pfc *c);

/* An agent running in its own temp dir. */
struct pfa_agent {
	pid_t pid;
	char dir[128], sock[192], ctl[192], log[192];
};

/* Starts build/bin/pageflexd with extra args (NULL-terminated) and waits (30 s at
 * most) until it answers: 0. If it exits first or never answers, prints its log
 * and one line saying why on stderr and returns -ECHILD or -ETIMEDOUT. */
int agent_start(struct pfa_agent *a, const char *const *args);
/* Restarts a stopped/killed agent in the same directory. */
int agent_restart(struct pfa_agent *a, const char *const *args);
/* SIGTERM and wait: returns the exit status. */
int agent_stop(struct pfa_agent *a);
void agent_kill9(struct pfa_agent *a);
/* Sends one control command; returns the malloc'd reply ("ok\n..." or "error: ..."). */
char *agent_query(struct pfa_agent *a, const char *cmd);
/*
 * Number field `field` of the region tagged `tag` of pid in `stats` JSON; -1
 * if absent, AGENT_FIELD_NULL if null (a count no loaded program keeps).
 */
#define AGENT_FIELD_NULL (-2LL)
long long agent_region_field(struct pfa_agent *a, pid_t pid, const char *tag, const char *field);
/* Top-level number field of the agent's `stats` JSON; -1 if absent. */
long long agent_stat_field(struct pfa_agent *a, const char *field);
/* Waits (up to ms) until pid has a region tagged tag; true when found. */
bool agent_wait_region(struct pfa_agent *a, pid_t pid, const char *tag, int ms);
/* The agent's log so far (malloc'd). */
char *agent_log(struct pfa_agent *a);
/* Waits (up to ms) until the agent's log holds needle; true when it does. */
bool agent_wait_log(struct pfa_agent *a, const char *needle, int ms);

/* pagemap counts of [p, p+len): present and swapped pages. */
void pagemap_count(const void *p, size_t len, size_t *present, size_t *swapped);
/* Polls until every page of [p, p+len) is swapped or ms have passed; the
 * number of swapped pages at the end. */
size_t pagemap_wait_swapped(const void *p, size_t len, unsigned ms);
uint64_t now_ms(void);

/* Test memory: an anonymous mapping without THP (asserts on failure). */
void *tc_anon(size_t len);
/* Fills with a pattern derived from seed; a checksum that reads every 64th byte. */
void tc_fill(unsigned char *p, size_t len, unsigned seed);
uint64_t tc_checksum(const unsigned char *p, size_t len);
void tc_write_file(const char *path, const char *text);

/* A thread that reads one byte of every page of [p, p+len) every period_ms
 * until stop (run tc_touch_loop with pthread_create). */
struct tc_toucher {
	volatile unsigned char *p;
	size_t len;
	unsigned period_ms;
	volatile int stop;
	uint64_t sum;
	uint64_t max_gap_ms; /* longest time between two touches of a page */
};
void *tc_touch_loop(void *toucher);

#endif
