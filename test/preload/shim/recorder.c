// SPDX-License-Identifier: MIT
/*
 * pf_recorder: a minimal agent for tests. Listens on a SOCK_SEQPACKET unix
 * socket, decodes every packet with pfw_decode() and writes one text line
 * per event to a file, prefixed by the sender's pid from SO_PEERCRED:
 *
 *     <pid> HELLO ppid=<ppid> flags=<flags> exe=<path>
 *     <pid> MAP 0x<start> <len> <kind> prot=<prot> tag=<tag> site=<module>+0x<off> path=<path>
 *     <pid> UNMAP 0x<start> <len>          <pid> DISCARD 0x<start> <len>
 *     <pid> PHASE <seq> <name>             <pid> DROPPED <events>
 *     <pid> CLOSE                          <pid> ERROR <what>
 *
 * The first line of the file is "listening". Usage: pf_recorder SOCKET FILE.
 * SIGTERM: drain what is readable, then exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pageflex_wire.h"

#define MAX_CONN 256

struct conn {
	int fd;
	pid_t pid;
	uint32_t seq;
};

static volatile sig_atomic_t stop;
static FILE *out;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_event(const struct pfw_event *ev, void *arg)
{
	const struct conn *c = arg;

	switch (ev->type) {
	case PFW_HELLO:
		fprintf(out, "%d HELLO ppid=%u flags=%u exe=%.*s\n", c->pid, ev->hello.ppid,
			ev->hello.flags, (int)ev->hello.exe_len, ev->hello.exe);
		break;
	case PFW_REGION_MAP:
		fprintf(out, "%d MAP 0x%llx %llu %s prot=%u tag=%.*s site=%.*s+0x%llx path=%.*s\n",
			c->pid, (unsigned long long)ev->map.start, (unsigned long long)ev->map.len,
			pfw_kind_name(ev->map.kind), ev->map.prot, (int)ev->map.tag_len,
			ev->map.tag, (int)ev->map.module_len, ev->map.module,
			(unsigned long long)ev->map.callsite_off, (int)ev->map.path_len,
			ev->map.path);
		break;
	case PFW_REGION_UNMAP:
	case PFW_REGION_DISCARD:
		fprintf(out, "%d %s 0x%llx %llu\n", c->pid,
			ev->type == PFW_REGION_UNMAP ? "UNMAP" : "DISCARD",
			(unsigned long long)ev->range.start, (unsigned long long)ev->range.len);
		break;
	case PFW_PHASE:
		fprintf(out, "%d PHASE %llu %.*s\n", c->pid, (unsigned long long)ev->phase.seq,
			(int)ev->phase.name_len, ev->phase.name);
		break;
	case PFW_DROPPED:
		fprintf(out, "%d DROPPED %llu\n", c->pid, (unsigned long long)ev->dropped.events);
		break;
	}
	return 0;
}

/* Returns false when the connection is finished. */
static bool read_conn(struct conn *c)
{
	static _Alignas(8) unsigned char buf[PFW_MAX_PACKET];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		const char *err;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			fprintf(out, "%d CLOSE\n", c->pid);
			fflush(out);
			return false;
		}
		err = pfw_decode(buf, (size_t)n, c->seq, print_event, c);
		if (err)
			fprintf(out, "%d ERROR %s\n", c->pid, err);
		c->seq++;
		fflush(out);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd pfd[MAX_CONN + 1];
	struct conn conns[MAX_CONN];
	int nconn = 0, lfd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: pf_recorder SOCKET FILE\n");
		return 2;
	}
	out = fopen(argv[2], "a");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64)) {
		perror("pf_recorder: socket");
		return 1;
	}
	fprintf(out, "listening\n");
	fflush(out);
	for (int draining = 0;;) {
		int n, polled = nconn, live = 0;

		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < nconn; i++)
			pfd[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		n = poll(pfd, (nfds_t)nconn + 1, draining ? 0 : 100);
		if (n < 0 && errno != EINTR)
			break;
		if (stop && !draining) {
			draining = 1;
			continue;
		}
		if (draining && n <= 0)
			break;
		if (n <= 0)
			continue;
		for (int i = 0; i < polled; i++) {
			if (pfd[i + 1].revents && !read_conn(&conns[i])) {
				close(conns[i].fd);
				conns[i].fd = -1;
			}
		}
		for (int i = 0; i < nconn; i++)
			if (conns[i].fd >= 0)
				conns[live++] = conns[i];
		nconn = live;
		if (pfd[0].revents & POLLIN) {
			int fd;

			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				struct ucred cr;
				socklen_t len = sizeof(cr);

				if (nconn == MAX_CONN ||
				    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
					close(fd);
					continue;
				}
				conns[nconn] = (struct conn){.fd = fd, .pid = cr.pid, .seq = 0};
				/* Read at once: a short-lived sender may already be gone. */
				if (!read_conn(&conns[nconn]))
					close(fd);
				else
					nconn++;
			}
		}
	}
	unlink(argv[1]);
	fclose(out);
	return 0;
}
