// SPDX-License-Identifier: MIT
/*
 * pageflex-sink-agent: the smallest agent that speaks the wire protocol. It
 * listens on a SOCK_SEQPACKET socket, accepts every shim that connects,
 * validates and decodes every packet with pfw_decode() (including its
 * per-connection sequence number) and counts records by type. It exists so that the micro benchmarks and the real-program tests can
 * run the shim with a live, draining consumer on the other end of the socket
 * (the cost the app pays with an agent connected) without needing root, BPF
 * or the full pageflexd.
 *
 *   pageflex-sink-agent --socket PATH [--stats FILE] [--stall]
 *
 * --stall: listen but never accept or read, like a hung agent: shims can
 * connect (up to the backlog) and then find the socket full. Used to check
 * that a program never waits for its agent.
 *
 * Prints "ready" on stdout once it listens. On SIGINT/SIGTERM it writes its
 * counters ("name value" lines) to FILE (or stdout), removes the socket and
 * exits 0; it exits 1 if it saw a malformed packet.
 */
#include "pageflex_wire.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD 65536

struct counters {
	uint64_t connections, packets, bad_packets, bad_pid;
	uint32_t next_seq[MAX_FD]; /* per connection, by fd: packets must arrive in order */
	uint64_t by_type[PFW_TYPE_MAX + 1];
	uint64_t map_bytes, dropped_events;
};

struct conn_ctx {
	struct counters *c;
	pid_t peer_pid;
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static int count_event(const struct pfw_event *ev, void *arg)
{
	struct conn_ctx *ctx = arg;

	ctx->c->by_type[ev->type]++;
	if (ev->type == PFW_REGION_MAP)
		ctx->c->map_bytes += ev->map.len;
	else if (ev->type == PFW_DROPPED)
		ctx->c->dropped_events += ev->dropped.events;
	else if (ev->type == PFW_HELLO && (pid_t)ev->hello.pid != ctx->peer_pid)
		ctx->c->bad_pid++;
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sink-agent: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("sink-agent: failed to create socket");
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		fprintf(stderr, "sink-agent: failed to listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Drains one connection; closes it on EOF or error. */
static void drain(int fd, int ep, struct counters *c, unsigned char *buf)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn_ctx ctx = {.c = c, .peer_pid = -1};

	if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen))
		ctx.peer_pid = cred.pid;
	for (;;) {
		ssize_t n = recv(fd, buf, PFW_MAX_PACKET, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			return;
		}
		c->packets++;
		if (pfw_decode(buf, (size_t)n, c->next_seq[fd], count_event, &ctx))
			c->bad_packets++;
		c->next_seq[fd]++;
	}
}

static void accept_all(int lfd, int ep, struct counters *c, unsigned char *buf)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};

		if (fd < 0)
			return;
		if (fd >= MAX_FD) {
			close(fd);
			continue;
		}
		c->next_seq[fd] = 0;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		c->connections++;
		drain(fd, ep, c, buf); /* at once: a short-lived shim may be gone already */
	}
}

static void write_stats(const char *path, const struct counters *c)
{
	FILE *f = path ? fopen(path, "w") : stdout;

	if (!f) {
		fprintf(stderr, "sink-agent: failed to write %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "connections %llu\n", (unsigned long long)c->connections);
	fprintf(f, "packets %llu\n", (unsigned long long)c->packets);
	fprintf(f, "bad_packets %llu\n", (unsigned long long)c->bad_packets);
	fprintf(f, "bad_pid %llu\n", (unsigned long long)c->bad_pid);
	fprintf(f, "hello %llu\n", (unsigned long long)c->by_type[PFW_HELLO]);
	fprintf(f, "map %llu\n", (unsigned long long)c->by_type[PFW_REGION_MAP]);
	fprintf(f, "unmap %llu\n", (unsigned long long)c->by_type[PFW_REGION_UNMAP]);
	fprintf(f, "discard %llu\n", (unsigned long long)c->by_type[PFW_REGION_DISCARD]);
	fprintf(f, "phase %llu\n", (unsigned long long)c->by_type[PFW_PHASE]);
	fprintf(f, "dropped_records %llu\n", (unsigned long long)c->by_type[PFW_DROPPED]);
	fprintf(f, "dropped_events %llu\n", (unsigned long long)c->dropped_events);
	fprintf(f, "map_bytes %llu\n", (unsigned long long)c->map_bytes);
	if (f != stdout)
		fclose(f);
	else
		fflush(f);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pageflex-sink-agent --socket PATH [--stats FILE] [--stall]\n"
		   "Accepts shims on PATH, validates and counts their records; on SIGTERM\n"
		   "writes the counters to FILE (default stdout) and exits. --stall: never\n"
		   "accept or read (a hung agent).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"stats", required_argument, NULL, 'o'},
		{"stall", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static unsigned char buf[PFW_MAX_PACKET];
	const char *sock = NULL, *stats = NULL;
	static struct counters c;
	struct sigaction sa = {.sa_handler = on_signal};
	struct epoll_event ev = {.events = EPOLLIN}, evs[64];
	int opt, lfd, ep, stall = 0;

	while ((opt = getopt_long(argc, argv, "s:o:Sh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'o':
			stats = optarg;
			break;
		case 'S':
			stall = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!sock || optind != argc) {
		usage(stderr);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = listen_on(sock);
	if (lfd < 0)
		return 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
		perror("sink-agent: epoll failed");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (stall && !exiting)
		usleep(100000); /* no pause(): a signal could slip in before it */

	/* After a signal, one last pass drains what exited shims left queued. */
	for (int last = 0; !last;) {
		int n;

		last = exiting;
		n = epoll_wait(ep, evs, 64, last ? 0 : 200);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(lfd, ep, &c, buf);
			else
				drain(evs[i].data.fd, ep, &c, buf);
		}
		if (last && n == 64)
			last = 0; /* more may be ready: another last pass */
	}
	unlink(sock);
	write_stats(stats, &c);
	return c.bad_packets || c.bad_pid ? 1 : 0;
}
