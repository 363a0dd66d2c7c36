// SPDX-License-Identifier: MIT
/*
 * The shim socket: accepts libpageflex.so connections (SOCK_SEQPACKET),
 * takes the peer's identity from SO_PEERCRED and checks every packet's
 * SCM_CREDENTIALS against it (a forked child writing on an inherited socket
 * is not its parent), validates each packet with pfw_decode() and applies
 * its records to the process's region table. A malformed or oversized
 * packet drops that connection, and its process, with a log line naming the
 * pid and the problem; everyone else is unaffected. Also the listening
 * sockets' helpers that the control socket (control.c) shares:
 * pf_unix_listen and pf_listener_*.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "binding.h"
#include "log.h"

#define MAX_CONNS 4096
#define PACKETS_PER_WAKEUP 64

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

struct pf_conn {
	struct pf_watch w;
	int pidfd; /* SO_PEERPIDFD: the process that connected, or -1 */
	bool benign; /* the drop reason is not a protocol error */
	pid_t pid;
	uid_t uid;
	struct pf_proc *proc;
	uint32_t next_seq;
	char err[160];
};

uint64_t pf_shim_bad_packets, pf_shim_connections;
static struct pf_listener listener = PF_LISTENER_INIT;
static size_t nconns;

void pf_shim_conn_free(struct pf_conn *c, const char *why)
{
	if (why)
		pf_warn("dropping shim connection of pid %d: %s", c->pid, why);
	pf_loop_del(&c->w);
	close(c->w.fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->proc)
		c->proc->conn = NULL;
	free(c);
	nconns--;
}

/* Drops the connection and stops managing its process. */
static void conn_fail(struct pf_conn *c, const char *why, bool warn)
{
	struct pf_proc *p = c->proc;

	if (p)
		p->conn = NULL;
	c->proc = NULL;
	pf_shim_conn_free(c, warn ? why : NULL);
	if (p)
		pf_proc_free(p, why);
}

static int on_hello(struct pf_conn *c, const struct pfw_event *ev)
{
	struct pf_proc *old;
	int err;

	if (c->proc) {
		snprintf(c->err, sizeof(c->err), "second HELLO on one connection");
		return -1;
	}
	if ((pid_t)ev->hello.pid != c->pid) {
		snprintf(c->err, sizeof(c->err), "HELLO claims pid %u, the socket says %d",
			 ev->hello.pid, c->pid);
		return -1;
	}
	old = pf_proc_find(c->pid);
	if (old)
		pf_proc_free(old, "registered again (exec or reconnect)");
	c->proc = pf_proc_new(c->pid, c->pidfd, ev->hello.exe, ev->hello.exe_len, &err);
	if (!c->proc) {
		c->benign = err == -ESRCH;
		snprintf(c->err, sizeof(c->err), "%s",
			 err == -ESRCH	? "the process exited before it could be managed" :
			 err == -ENOSPC ? "too many managed processes (--max-procs)" :
					  strerror(-err));
		return -1;
	}
	c->proc->conn = c;
	c->proc->replayed = ev->hello.flags & PFW_HELLO_REPLAY;
	pf_info("pid %d (%s) registered%s", c->pid, c->proc->exe,
		c->proc->replayed ? " (replaying its regions)" : "");
	return 0;
}

static bool region_may_be_out(const struct pf_rinfo *ri)
{
	return pf_bpf_region_flags(ri->id) & PFA_RF_OUT;
}

/*
 * The fault program's flags for a new region: PFA_RF_OUT when its memory
 * may already hold swapped pages (it re-tags tracked memory that did, or
 * the client is replaying its regions to a restarted agent); otherwise its
 * faults count as first touches without a page-table walk until the agent
 * pages something out (or a scan or a major fault finds swapped pages).
 */
static unsigned initial_flags(uint8_t kind, bool out)
{
	unsigned f = out ? PFA_RF_OUT : 0;

	if (kind == PFW_KIND_ANON || kind == PFW_KIND_HEAP || kind == PFW_KIND_STACK)
		f |= PFA_RF_ANON;
	return f;
}

static int on_record(const struct pfw_event *ev, void *arg)
{
	static long long last_full;
	struct pf_conn *c = arg;
	struct pf_proc *p = c->proc;
	struct pf_rinfo *ri;
	bool out;
	int err;

	if (ev->type == PFW_HELLO)
		return on_hello(c, ev);
	if (!p) {
		snprintf(c->err, sizeof(c->err), "first record is not HELLO");
		return -1;
	}
	p->records++;
	switch (ev->type) {
	case PFW_REGION_MAP:
		/* Before the older regions it overlaps are cut away. */
		out = p->replayed ||
		      pf_rt_any(&p->rt, ev->map.start, ev->map.len, region_may_be_out);
		ri = pf_rt_map(&p->rt, ev->map.start, ev->map.len, ev->map.kind, ev->map.prot,
			       ev->map.tag, ev->map.tag_len, ev->map.module, ev->map.module_len,
			       ev->map.callsite_off, &err);
		if (ri)
			pf_bpf_region_set_flags(ri->id, initial_flags(ev->map.kind, out));
		if (!ri) {
			p->refused_maps++;
			pf_log_limited(&last_full, PF_LOG_WARN,
				       "pid %d: region %#llx+%llu not tracked: %s", p->pid,
				       (unsigned long long)ev->map.start,
				       (unsigned long long)ev->map.len,
				       err == -ENOSPC ? "region table full" : strerror(-err));
			break;
		}
		pf_region_bind(ri, p->phase);
		if (pf_record_active(p->pid))
			pf_record_region(ri);
		pf_dbg("pid %d: region %u %#llx+%llu tag '%s' kind %s%s%s", p->pid, ri->id,
		       (unsigned long long)ev->map.start, (unsigned long long)ev->map.len, ri->tag,
		       pfw_kind_name(ri->kind), ri->eng.bound ? " policy " : "",
		       ri->eng.bound ? ri->eng.b.reclaim->name : "");
		break;
	case PFW_REGION_UNMAP:
		pf_rt_unmap(&p->rt, ev->range.start, ev->range.len);
		break;
	case PFW_REGION_DISCARD:
		pf_agent_reclaim_discard(&p->rt, ev->range.start, ev->range.len);
		break;
	case PFW_PHASE:
		pf_copy_name(p->phase, ev->phase.name, ev->phase.name_len);
		p->phase_seq = ev->phase.seq;
		pf_dbg("pid %d: phase '%s'", p->pid, p->phase);
		pf_agent_phase_enter(p);
		pf_record_phase(p);
		break;
	case PFW_DROPPED:
		p->shim_dropped += ev->dropped.events;
		break;
	default:
		break;
	}
	return 0;
}

/* Handles one packet; returns NULL or the reason to drop the connection. */
static const char *on_packet(struct pf_conn *c, const void *buf, size_t n)
{
	const struct pfw_packet *h = buf;
	const char *err = pfw_validate(buf, n, PFW_SEQ_ANY);

	if (err)
		return err;
	if (h->seq < c->next_seq)
		return "packet sequence number went backwards";
	if (c->proc)
		c->proc->lost_packets += h->seq - c->next_seq;
	c->next_seq = h->seq + 1;
	c->err[0] = 0;
	err = pfw_decode(buf, n, PFW_SEQ_ANY, on_record, c);
	if (err)
		return c->err[0] ? c->err : err;
	if (c->proc) {
		c->proc->packets++;
		pf_proc_sync(c->proc);
	}
	return NULL;
}

static void conn_ready(struct pf_watch *w, uint32_t events)
{
	static uint64_t buf[PFW_MAX_PACKET / 8 + 1];
	struct pf_conn *c = w->ptr;
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	int i;

	(void)events;
	for (i = 0; i < PACKETS_PER_WAKEUP; i++) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm;
		const char *why;
		char msg[200];
		ssize_t n;

		n = recvmsg(w->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			snprintf(msg, sizeof(msg), "recv failed: %s", strerror(errno));
			conn_fail(c, msg, true);
			return;
		}
		if (n == 0) {
			conn_fail(c, "shim disconnected", false);
			return;
		}
		if (mh.msg_flags & MSG_TRUNC || n > PFW_MAX_PACKET) {
			pf_shim_bad_packets++;
			snprintf(msg, sizeof(msg), "oversized packet (more than %d bytes)",
				 PFW_MAX_PACKET);
			conn_fail(c, msg, true);
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			struct ucred uc;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_CREDENTIALS)
				continue;
			memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
			/* pid 0: no credentials were attached (sent before SO_PASSCRED). */
			if (uc.pid && uc.pid != c->pid) {
				pf_shim_bad_packets++;
				pf_warn("pid %d: packet sent by pid %d on its socket ignored "
					"(an inherited socket?)",
					c->pid, uc.pid);
				goto next;
			}
		}
		why = on_packet(c, buf, (size_t)n);
		if (why && c->benign) {
			snprintf(msg, sizeof(msg), "%s", why);
			conn_fail(c, msg, true);
			return;
		}
		if (why) {
			pf_shim_bad_packets++;
			snprintf(msg, sizeof(msg), "malformed packet: %s", why);
			conn_fail(c, msg, true);
			return;
		}
next:;
	}
}

static void listen_ready(struct pf_watch *w, uint32_t events)
{
	(void)events;
	for (;;) {
		struct ucred uc;
		socklen_t len = sizeof(uc);
		struct pf_conn *c;
		int one = 1, fd;

		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (nconns >= MAX_CONNS || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) ||
		    uc.pid <= 0) {
			pf_warn("refusing a shim connection: %s", nconns >= MAX_CONNS ?
									  "too many connections" :
									  "no peer credentials");
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->pid = uc.pid;
		c->uid = uc.uid;
		len = sizeof(c->pidfd);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &len))
			c->pidfd = -1;
		c->w = (struct pf_watch){.fd = fd, .ready = conn_ready, .ptr = c};
		nconns++;
		pf_shim_connections++;
		pf_loop_add(&c->w);
		pf_dbg("shim connection from pid %d uid %d", c->pid, c->uid);
	}
}

/* Binds a unix socket at path, replacing a stale one but never a live agent's. */
int pf_unix_listen(const char *path, int type, mode_t mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pf_err("socket path too long (max %zu bytes): %s", sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		pf_err("another pageflexd is already listening on %s", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	/* Only ever remove a stale socket, never another kind of file. */
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		pf_err("%s exists and is not a socket: refusing to replace it", path);
		return -EEXIST;
	}
	unlink(path);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The mode comes from the umask at bind time: no chmod on a path that could change. */
	old_mask = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc || listen(fd, 128)) {
		rc = -errno;
		pf_err("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int pf_listener_add(struct pf_listener *l, int fd, const char *path,
		    void (*ready)(struct pf_watch *w, uint32_t events))
{
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->w = (struct pf_watch){.fd = fd, .ready = ready};
	return pf_loop_add(&l->w);
}

void pf_listener_close(struct pf_listener *l)
{
	if (l->w.fd < 0)
		return;
	pf_loop_del(&l->w);
	close(l->w.fd);
	l->w.fd = -1;
	unlink(l->path);
}

int pf_shim_listen(const char *path)
{
	int fd = pf_unix_listen(path, SOCK_SEQPACKET, 0666), one = 1;

	if (fd < 0)
		return fd;
	/*
	 * On the listener, so that accepted sockets have it from the start: a
	 * packet sent between accept() and a later setsockopt() would arrive
	 * without credentials.
	 */
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	return pf_listener_add(&listener, fd, path, listen_ready);
}

void pf_shim_close(void)
{
	pf_listener_close(&listener);
}
