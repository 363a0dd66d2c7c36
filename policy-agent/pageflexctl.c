// SPDX-License-Identifier: MIT
/*
 * pageflexctl: asks a running pageflexd about its processes and regions,
 * over the agent's root-only control socket. One command per connection;
 * the agent answers "ok" + body or "error: <problem>" (exit status 1).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CONTROL "/run/pageflex/control.sock"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pageflexctl [--socket PATH] COMMAND\n"
		"\n"
		"Commands:\n"
		"  status [--json]        managed processes and their regions (tag, size,\n"
		"                         resident, swapped, faults, refaults, swap-ins,\n"
		"                         prefetch hits, scans, policies, threshold)\n"
		"  regions PID [--json]   the regions of one process\n"
		"  stats [--json]         everything, as JSON\n"
		"  reload                 re-read the agent's rules file (kept if it has an error)\n"
		"  record PID FILE SECS   write PID's paging as a pageflex-sim trace (FILE is\n"
		"                         written by the agent); record --stop ends it early\n"
		"\n"
		"  -s, --socket PATH      the agent's control socket (default $PAGEFLEX_CONTROL\n"
		"                         or " DEFAULT_CONTROL ")\n"
		"  -h, --help             this text\n"
		"\n"
		"Examples:\n"
		"  pageflexctl status\n"
		"  pageflexctl regions 4242\n"
		"  pageflexctl stats --json | jq .agent\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{0},
	};
	const char *path = getenv("PAGEFLEX_CONTROL");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cmd[512], buf[65536];
	size_t len = 0, cap = 0, off;
	char *reply = NULL;
	bool json = false;
	ssize_t n;
	int c, fd, i;

	while ((c = getopt_long(argc, argv, "+s:hj", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || !*path)
		path = DEFAULT_CONTROL;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* Check the command line here, so typos never reach the agent. */
	if (strcmp(argv[optind], "status") && strcmp(argv[optind], "stats") &&
	    strcmp(argv[optind], "regions") && strcmp(argv[optind], "reload") &&
	    strcmp(argv[optind], "record")) {
		fprintf(stderr,
			"pageflexctl: unknown command '%s' (want status, regions PID, "
			"stats, reload or record)\n",
			argv[optind]);
		return 2;
	}
	if (!strcmp(argv[optind], "record") && argc - optind >= 3 && argv[optind + 2][0] != '/') {
		/* The agent writes the file: give it an absolute path. */
		static char abs[4096];
		char cwd[3000];

		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "pageflexctl: getcwd: %s\n", strerror(errno));
			return 1;
		}
		snprintf(abs, sizeof(abs), "%s/%s", cwd, argv[optind + 2]);
		argv[optind + 2] = abs;
	}
	off = 0;
	for (i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			continue;
		}
		if (strlen(argv[i]) + off + 2 >= sizeof(cmd) - 8) {
			fprintf(stderr, "pageflexctl: command line too long\n");
			return 2;
		}
		off += (size_t)sprintf(cmd + off, "%s%s", off ? " " : "", argv[i]);
	}
	if (!strcmp(argv[optind], "regions") && argc - optind < 2) {
		fprintf(stderr, "pageflexctl: usage: regions PID\n");
		return 2;
	}
	snprintf(cmd + off, sizeof(cmd) - off, "%s\n", json ? " --json" : "");

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pageflexctl: socket path too long: %s\n", path);
		return 2;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EACCES || errno == EPERM)
			fprintf(stderr,
				"pageflexctl: permission denied on %s: the control socket is "
				"root-only; run pageflexctl as root\n",
				path);
		else
			fprintf(stderr, "pageflexctl: no pageflexd listening on %s (%s)\n", path,
				strerror(errno));
		return 1;
	}
	/* The agent may answer (e.g. refuse) and close before reading: read its
	 * reply even when the send fails, and never die of SIGPIPE. */
	if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd) && errno != EPIPE &&
	    errno != ECONNRESET) {
		fprintf(stderr, "pageflexctl: cannot send to %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			reply = realloc(reply, cap);
			if (!reply)
				return 1;
		}
		memcpy(reply + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(fd);
	if (!reply) {
		fprintf(stderr, "pageflexctl: the agent closed the connection without a reply\n");
		return 1;
	}
	reply[len] = 0;
	if (!strncmp(reply, "error: ", 7)) {
		fprintf(stderr, "pageflexctl: %s", reply + 7);
		return 1;
	}
	if (strncmp(reply, "ok\n", 3)) {
		fprintf(stderr, "pageflexctl: unexpected reply from the agent\n");
		return 1;
	}
	fputs(reply + 3, stdout);
	free(reply);
	return 0;
}
