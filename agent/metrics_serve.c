// SPDX-License-Identifier: MIT
/*
 * Serves pageflexd's metrics (metrics.h) without ever blocking the agent's
 * event loop: the textfile is written to a temporary file next to it and
 * renamed over it (node_exporter never reads half a file); the HTTP
 * endpoint is a small HTTP/1.0-style server on non-blocking sockets, at
 * most MAX_CLIENTS at a time, each dropped after CLIENT_MS, so a slow or
 * hostile client cannot stall reclaim. GET and HEAD of /metrics; one
 * request per connection. The file is removed when the agent stops, so
 * that node_exporter does not go on reporting a stopped agent's numbers.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "prom.h"

#define MAX_CLIENTS 8
#define CLIENT_MS 5000
#define MAX_REQUEST 4096

static char file_path[4096];
static uint64_t file_due_ms;
static bool file_failing;

/* The metrics into path, atomically. 0 or -errno. */
static int write_file(const char *path)
{
	char tmp[4200], dir[4096], base[4096];
	char *body = NULL;
	size_t blen = 0;
	FILE *m;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir), basename(base));
	m = open_memstream(&body, &blen);
	if (!m)
		return -ENOMEM;
	pf_metrics_write(m);
	if (fclose(m)) {
		free(body);
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(body);
		return rc;
	}
	for (size_t off = 0; off < blen && !rc;) {
		ssize_t n = write(fd, body + off, blen - off);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	free(body);
	if (!rc && fchmod(fd, 0644))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int pf_metrics_file_open(const char *path, char *err, size_t errlen)
{
	int rc;

	if (strlen(path) >= sizeof(file_path) - 16 || !*path) {
		snprintf(err, errlen, "--metrics-file: bad path");
		return -1;
	}
	rc = write_file(path);
	if (rc) {
		snprintf(err, errlen, "--metrics-file %s: cannot write it: %s", path,
			 strerror(-rc));
		return -1;
	}
	snprintf(file_path, sizeof(file_path), "%s", path);
	file_due_ms = pf_now_ms() + PF_METRICS_FILE_MS;
	if (strlen(path) < 5 || strcmp(path + strlen(path) - 5, ".prom"))
		pf_warn("--metrics-file %s: node_exporter's textfile collector reads only files "
			"ending in .prom",
			path);
	return 0;
}

/* HTTP. */
struct client {
	struct pf_watch w;
	bool used, writing;
	uint64_t since_ms;
	char req[MAX_REQUEST];
	size_t n;
	char *out;
	size_t outlen, off;
};

static struct pf_watch listen_w = {.fd = -1};
static struct client clients[MAX_CLIENTS];
static char listen_text[96];

static void client_close(struct client *c)
{
	pf_loop_del(&c->w);
	close(c->w.fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->w.fd = -1;
}

/* The reply to the request line in c->req. */
static void reply(struct client *c)
{
	char method[16] = "", target[256] = "", *body = NULL, *head = NULL;
	const char *status = "200 OK", *type = PF_PROM_CONTENT_TYPE, *extra = "";
	size_t blen = 0;
	bool send_body;
	FILE *m;
	int hlen;

	if (sscanf(c->req, "%15s %255s", method, target) != 2) {
		status = "400 Bad Request";
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = "405 Method Not Allowed";
		extra = "Allow: GET, HEAD\r\n";
	} else {
		target[strcspn(target, "?")] = 0;
		if (strcmp(target, "/metrics") && strcmp(target, "/"))
			status = "404 Not Found";
	}
	send_body = strcmp(method, "HEAD") != 0;
	m = open_memstream(&body, &blen);
	if (!m) {
		client_close(c);
		return;
	}
	if (!strncmp(status, "200", 3) && !strcmp(target, "/metrics"))
		pf_metrics_write(m);
	else if (!strncmp(status, "200", 3))
		fprintf(m, "pageflexd: metrics at /metrics\n");
	else
		fprintf(m, "%s\n", status);
	if (strncmp(status, "200", 3) || strcmp(target, "/metrics"))
		type = "text/plain; charset=utf-8";
	fclose(m);
	hlen = asprintf(&head,
			"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
			"close\r\n\r\n",
			status, type, blen, extra);
	if (hlen < 0 || !body) {
		free(body);
		client_close(c);
		return;
	}
	c->out = malloc((size_t)hlen + (send_body ? blen : 0));
	if (!c->out) {
		free(head);
		free(body);
		client_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)hlen);
	if (send_body)
		memcpy(c->out + hlen, body, blen);
	c->outlen = (size_t)hlen + (send_body ? blen : 0);
	free(head);
	free(body);
	c->writing = true;
}

/* Writes what the socket takes; closes c when all is sent or it fails. */
static void send_some(struct client *c)
{
	while (c->off < c->outlen) {
		ssize_t n = send(c->w.fd, c->out + c->off, c->outlen - c->off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (pf_loop_mod(&c->w, EPOLLOUT))
				client_close(c);
			return;
		}
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->off += (size_t)n;
	}
	shutdown(c->w.fd, SHUT_WR);
	client_close(c);
}

static void client_ready(struct pf_watch *w, uint32_t events)
{
	struct client *c = w->ptr;

	(void)events;
	if (!c->writing) {
		ssize_t n = recv(w->fd, c->req + c->n, sizeof(c->req) - 1 - c->n, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->n += (size_t)n;
		c->req[c->n] = 0;
		if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
			if (c->n < sizeof(c->req) - 1)
				return;
			snprintf(c->req, sizeof(c->req), "TOO-LARGE /");
		}
		reply(c);
		if (c->w.fd < 0)
			return;
	}
	send_some(c);
}

static void listen_ready(struct pf_watch *w, uint32_t events)
{
	int fd, i;

	(void)events;
	fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < MAX_CLIENTS && clients[i].used; i++)
		;
	if (i == MAX_CLIENTS) {
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
					   "0\r\nConnection: close\r\n\r\n";

		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
			pf_dbg("metrics: 503 not sent");
		close(fd);
		return;
	}
	clients[i] = (struct client){
		.w = {.fd = fd, .ready = client_ready, .ptr = &clients[i]},
		.used = true,
		.since_ms = pf_now_ms(),
	};
	if (pf_loop_add(&clients[i].w)) {
		close(fd);
		clients[i].used = false;
		clients[i].w.fd = -1;
	}
}

/* "HOST:PORT" or "[HOST]:PORT" into host and port. */
static int split_address(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= hlen)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(end - s - 1), s + 1);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= hlen || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - s), s);
	}
	if (!colon[1] || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int pf_metrics_listen(const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64], port[8], h[INET6_ADDRSTRLEN];
	struct addrinfo *ai;
	bool loopback;
	int fd, one = 1, rc;

	if (split_address(addr, host, sizeof(host), port, sizeof(port)) || atoi(port) > 65535) {
		snprintf(err, errlen,
			 "--metrics-listen '%s': want ADDRESS:PORT, e.g. 127.0.0.1:9477 or "
			 "[::1]:9477",
			 addr);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "--metrics-listen '%s': %s (want a numeric address)", addr,
			 gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		snprintf(err, errlen, "--metrics-listen %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
		snprintf(listen_text, sizeof(listen_text), "[%s]:%u", h, ntohs(s6->sin6_port));
		loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		snprintf(listen_text, sizeof(listen_text), "%s:%u", h, ntohs(s4->sin_port));
		loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].w.fd = -1;
	listen_w = (struct pf_watch){.fd = fd, .ready = listen_ready};
	if (pf_loop_add(&listen_w)) {
		snprintf(err, errlen, "--metrics-listen %s: cannot watch the socket", addr);
		close(fd);
		listen_w.fd = -1;
		listen_text[0] = 0;
		return -1;
	}
	pf_info("metrics at http://%s/metrics", listen_text);
	if (!loopback)
		pf_warn("--metrics-listen %s is not a loopback address: anyone who can reach it "
			"reads the metrics (no authentication)",
			listen_text);
	return 0;
}

const char *pf_metrics_listen_address(void)
{
	return listen_text;
}

void pf_metrics_tick(void)
{
	uint64_t now = pf_now_ms();

	if (file_path[0] && now >= file_due_ms) {
		int rc = write_file(file_path);

		file_due_ms = now + PF_METRICS_FILE_MS;
		if (rc && !file_failing)
			pf_warn("--metrics-file %s: cannot write it: %s (retrying every %d s)",
				file_path, strerror(-rc), PF_METRICS_FILE_MS / 1000);
		else if (!rc && file_failing)
			pf_info("--metrics-file %s: written again", file_path);
		file_failing = rc != 0;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].used && now - clients[i].since_ms > CLIENT_MS)
			client_close(&clients[i]);
}

void pf_metrics_close(void)
{
	if (file_path[0] && unlink(file_path) && errno != ENOENT)
		pf_warn("--metrics-file %s: cannot remove it: %s", file_path, strerror(errno));
	file_path[0] = 0;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].used)
			client_close(&clients[i]);
	if (listen_w.fd >= 0) {
		pf_loop_del(&listen_w);
		close(listen_w.fd);
		listen_w.fd = -1;
	}
}
