// SPDX-License-Identifier: MIT
/*
 * The managed processes: one entry per registered pid, with a pidfd in the
 * event loop (readable when the process exits), its region table and its
 * BPF region arrays. An exec closes the shim's CLOEXEC socket, and a new
 * HELLO from the same pid replaces the entry, so exec cleans up too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "objectives.h"
#include "phase_hot.h"

static struct pf_proc *procs[PFA_MAX_PROCS];
static size_t nprocs;

static void pidfd_ready(struct pf_watch *w, uint32_t events)
{
	(void)events;
	pf_proc_free(w->ptr, "process exited");
}

struct pf_proc *pf_proc_new(pid_t pid, int pidfd, const char *exe, size_t exe_len, int *err)
{
	struct pf_proc *p;
	int rc;

	if (nprocs == pf_bpf_max_procs()) {
		*err = -ENOSPC;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	p->pid = pid;
	/* The connection's pidfd names the process that connected, even if the
	 * pid was reused since; fall back to pidfd_open() without it. */
	p->pidfd = pidfd >= 0 ? fcntl(pidfd, F_DUPFD_CLOEXEC, 3) :
				(int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		*err = -errno;
		free(p);
		return NULL;
	}
	/* Readable already: the process exited before it could be managed. */
	{
		struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

		if (poll(&pfd, 1, 0) == 1) {
			close(p->pidfd);
			free(p);
			*err = -ESRCH;
			return NULL;
		}
	}
	if (exe_len >= sizeof(p->exe))
		exe_len = sizeof(p->exe) - 1;
	pf_copy_name(p->exe, exe, exe_len);
	rc = pf_bpf_proc_add(&p->bp, pid);
	if (rc) {
		*err = rc;
		close(p->pidfd);
		free(p);
		return NULL;
	}
	p->pidw = (struct pf_watch){.fd = p->pidfd, .ready = pidfd_ready, .ptr = p};
	pf_loop_add(&p->pidw);
	p->started_ms = pf_now_ms();
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		p->registered_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	p->next_scan_ms = p->started_ms;
	procs[nprocs++] = p;
	return p;
}

struct pf_proc *pf_proc_find(pid_t pid)
{
	size_t i;

	for (i = 0; i < nprocs; i++)
		if (procs[i]->pid == pid)
			return procs[i];
	return NULL;
}

void pf_proc_free(struct pf_proc *p, const char *why)
{
	size_t i;

	pf_info("pid %d (%s): no longer managed: %s", p->pid, p->exe, why);
	if (p->conn)
		pf_shim_conn_free(p->conn, NULL);
	pf_loop_del(&p->pidw);
	close(p->pidfd);
	pf_bpf_proc_del(&p->bp, p->pid);
	pf_rt_clear(&p->rt);
	pf_phase_hot_free(p);
	pf_objective_set_free(&p->objs);
	for (i = 0; i < nprocs; i++)
		if (procs[i] == p) {
			procs[i] = procs[--nprocs];
			break;
		}
	free(p);
}

size_t pf_proc_count(void)
{
	return nprocs;
}

struct pf_proc *pf_proc_at(size_t i)
{
	return i < nprocs ? procs[i] : NULL;
}

void pf_proc_sync(struct pf_proc *p)
{
	static long long last;
	int rc;

	if (!p->rt.dirty)
		return;
	rc = pf_bpf_proc_sync(&p->bp, p->pid, &p->rt);
	if (rc)
		pf_log_limited(&last, PF_LOG_WARN, "pid %d: region table not synced to BPF: %s",
			       p->pid, strerror(-rc));
	else
		p->rt.dirty = false;
}
