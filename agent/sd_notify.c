// SPDX-License-Identifier: MIT
/* pageflexd's side of systemd's notification protocol (sd_notify.h). */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "region_view.h"

#define STATUS_MS 10000

static uint64_t status_due_ms, watchdog_ms, watchdog_due_ms;

int pf_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	ssize_t n;
	int fd, rc = 0;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* an abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void add_swapped(void *arg, struct pf_rinfo *ri, int k)
{
	(void)k;
	*(uint64_t *)arg += ri->swapped;
}

void pf_sd_status_text(char *buf, size_t len)
{
	uint64_t swapped = 0;
	size_t i;

	for (i = 0; i < pf_proc_count(); i++)
		pf_each_region(pf_proc_at(i), add_swapped, &swapped);
	snprintf(buf, len, "managing %zu process%s, %u regions; %.1f MiB of theirs in swap",
		 pf_proc_count(), pf_proc_count() == 1 ? "" : "es", pf_regions_live(),
		 swapped * 4096 / 1048576.0);
}

static void send_status(const char *prefix)
{
	char msg[256], text[192];

	pf_sd_status_text(text, sizeof(text));
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, text);
	pf_sd_notify(msg);
	status_due_ms = pf_now_ms() + STATUS_MS;
}

void pf_sd_ready(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");

	if (!getenv("NOTIFY_SOCKET"))
		return;
	if (usec && (!pid || atoi(pid) == getpid()))
		watchdog_ms = strtoull(usec, NULL, 10) / 2000; /* ping at half the timeout */
	send_status("READY=1\n");
	if (watchdog_ms)
		pf_info("systemd watchdog: pinging every %.1f s", watchdog_ms / 1e3);
}

void pf_sd_tick(void)
{
	uint64_t now = pf_now_ms();

	if (!status_due_ms)
		return; /* not started by systemd, or not ready yet */
	if (now >= status_due_ms)
		send_status("");
	if (watchdog_ms && now >= watchdog_due_ms) {
		pf_sd_notify("WATCHDOG=1");
		watchdog_due_ms = now + watchdog_ms;
	}
}
