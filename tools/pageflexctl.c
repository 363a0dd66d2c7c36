// SPDX-License-Identifier: MIT
/*
 * pageflexctl: asks a running pageflexd about its processes and regions,
 * over the agent's root-only control socket. One command per connection;
 * the agent answers "ok" + body or "error: <problem>" (exit status 1).
 * `pageflexctl wait` is the one readiness check that scripts and harnesses
 * use after starting pageflexd: the agent opens its control socket only
 * once its BPF programs are loaded, so a `status` that answers "ok" means
 * ready; it fails at once with one line if the agent has exited.
 * enable/disable (ctl_unit.c) write systemd drop-ins and never connect.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_query.h"
#include "ctl_top.h"
#include "ctl_unit.h"

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
		"  metrics                everything, as Prometheus text (pageflexd can also\n"
		"                         serve it: --metrics-listen, --metrics-file)\n"
		"  reload                 re-read the agent's rules file (kept if it has an error)\n"
		"  record PID FILE SECS [--first-touch]\n"
		"                         write PID's paging for SECS as a pageflex-sim trace\n"
		"                         (FILE is written by the agent): its regions, each\n"
		"                         scan's page states, the agent's pageouts, prefetches\n"
		"                         and COLDs, its refaults, and with --first-touch its\n"
		"                         first touches too; record --stop ends it early\n"
		"  wait [--timeout SECS] [--pid PID]\n"
		"                         wait until the agent answers (polls every 50 ms);\n"
		"                         silent, exit 0 when ready; exit 1 with one line if PID\n"
		"                         (the agent) exits first or after SECS (default 30)\n");
	ctl_top_usage(f);
	ctl_unit_usage(f);
	fprintf(f,
		"\n"
		"  -s, --socket PATH      the agent's control socket (default $PAGEFLEX_CONTROL\n"
		"                         or " DEFAULT_CONTROL ")\n"
		"  -h, --help             this text\n"
		"\n"
		"Examples:\n"
		"  pageflexctl status\n"
		"  pageflexctl regions 4242\n"
		"  pageflexctl stats --json | jq .agent\n"
		"  pageflexctl top --interval 1\n"
		"  pageflexd & pageflexctl wait --pid $! --timeout 20\n"
		"  pageflexctl enable redis-server --env PAGEFLEX_LOG=info --now\n");
}

/*
 * Connects to path, sends cmd (with its newline) and reads the whole reply
 * into *reply (malloc'd, NUL-terminated). timeout_ms > 0 bounds each send
 * and read (wait must not hang on a stalled agent); 0 means none. Q_NO_AGENT
 * Q_DENIED and Q_SEND_FAILED leave errno set; Q_FAILED means a connection
 * without a reply.
 */
int query(const char *path, const char *cmd, long timeout_ms, char **reply)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = 0, cap = 0;
	char buf[65536], *r = NULL;
	ssize_t n;
	int fd, e;

	*reply = NULL;
	strcpy(sa.sun_path, path); /* the caller checked the length */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return Q_NO_AGENT;
	if (timeout_ms > 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
				     .tv_usec = (timeout_ms % 1000) * 1000};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		errno = e;
		return e == EACCES || e == EPERM ? Q_DENIED : Q_NO_AGENT;
	}
	/* The agent may answer (e.g. refuse) and close before reading: read its
	 * reply even when the send fails, and never die of SIGPIPE. */
	if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd) && errno != EPIPE &&
	    errno != ECONNRESET) {
		e = errno;
		close(fd);
		errno = e;
		return Q_SEND_FAILED;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (len + (size_t)n + 1 > cap) {
			char *nr;

			cap = (len + (size_t)n + 1) * 2;
			nr = realloc(r, cap);
			if (!nr) {
				free(r);
				close(fd);
				return Q_FAILED;
			}
			r = nr;
		}
		memcpy(r + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(fd);
	if (!r)
		return Q_FAILED;
	r[len] = 0;
	*reply = r;
	return Q_OK;
}

bool socket_path_ok(const char *path)
{
	if (strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path))
		return true;
	fprintf(stderr, "pageflexctl: socket path too long: %s\n", path);
	return false;
}

void no_agent(const char *path, int rc)
{
	if (rc == Q_DENIED)
		fprintf(stderr,
			"pageflexctl: permission denied on %s: the control socket is root-only; "
			"run pageflexctl as root\n",
			path);
	else if (rc == Q_NO_AGENT)
		fprintf(stderr, "pageflexctl: no pageflexd listening on %s (%s)\n", path,
			strerror(errno));
	else if (rc == Q_SEND_FAILED)
		fprintf(stderr, "pageflexctl: cannot send to %s: %s\n", path, strerror(errno));
	else
		fprintf(stderr, "pageflexctl: the agent closed the connection without a reply\n");
}

/* True if pid no longer runs: gone, or a zombie nobody has reaped yet. */
static bool pid_exited(pid_t pid)
{
	char p[64], st[512], *rp;
	ssize_t n;
	int fd;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, st, sizeof(st) - 1);
	close(fd);
	if (n <= 0)
		return false;
	st[n] = 0;
	/* "pid (comm) S ...": the state follows the last ')' (comm may hold one). */
	rp = strrchr(st, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* pageflexctl wait [--timeout SECS] [--pid PID] [-s PATH]: see usage(). */
static int cmd_wait(int argc, char **argv, const char *path)
{
	static const struct option lo[] = {
		{"timeout", required_argument, NULL, 't'},
		{"pid", required_argument, NULL, 'p'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	double timeout = 30, end;
	long pid = 0;
	char *e;
	int c;

	optind = 0; /* a fresh scan of wait's own arguments (argv[0] is "wait") */
	while ((c = getopt_long(argc, argv, "+t:p:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			timeout = strtod(optarg, &e);
			if (errno || e == optarg || *e || !(timeout > 0) || timeout > 86400) {
				fprintf(stderr,
					"pageflexctl: wait: --timeout wants seconds > 0, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			errno = 0;
			pid = strtol(optarg, &e, 10);
			if (errno || e == optarg || *e || pid <= 0 || pid > 1 << 30) {
				fprintf(stderr,
					"pageflexctl: wait: --pid wants a process id, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "pageflexctl: usage: wait [--timeout SECS] [--pid PID]\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"pageflexctl: wait: unexpected '%s' (usage: wait [--timeout SECS] "
			"[--pid PID])\n",
			argv[optind]);
		return 2;
	}
	if (!socket_path_ok(path))
		return 2;
	end = now_s() + timeout;
	for (;;) {
		double left = end - now_s();
		char *reply;
		int rc = query(path, "status\n", left > 0.1 ? (long)(left * 1000) : 100, &reply);

		if (rc == Q_OK && !strncmp(reply, "ok\n", 3)) {
			free(reply);
			return 0;
		}
		if (rc == Q_OK && !strncmp(reply, "error: ", 7)) {
			/* It answers, but refuses: waiting longer cannot help. */
			fprintf(stderr, "pageflexctl: %s", reply + 7);
			free(reply);
			return 1;
		}
		free(reply);
		if (rc == Q_DENIED) {
			no_agent(path, rc);
			return 1;
		}
		if (pid && pid_exited((pid_t)pid)) {
			fprintf(stderr,
				"pageflexctl: pageflexd (pid %ld) exited before it was ready\n",
				pid);
			return 1;
		}
		if (now_s() >= end) {
			fprintf(stderr, "pageflexctl: no answer from pageflexd on %s within %g s\n",
				path, timeout);
			return 1;
		}
		usleep(50000);
	}
}

/*
 * record PID FILE SECS [--first-touch] | record --stop: checked here, and
 * FILE made absolute (the agent writes it). 0; 2 after a usage error, 1
 * if the path cannot be made absolute.
 */
static int record_args(int argc, char **argv)
{
	static char abs[4096];
	int i, npos = 0, file = 0, ft = 0;
	bool bad = false;
	char cwd[3000];

	if (argc == 2 && !strcmp(argv[1], "--stop"))
		return 0;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--first-touch")) {
			ft++;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "pageflexctl: record: unknown option '%s'\n", argv[i]);
			bad = true;
		} else if (++npos == 2) {
			file = i;
		}
	}
	if (bad || npos != 3 || ft > 1) {
		fprintf(stderr, "pageflexctl: usage: record PID FILE SECS [--first-touch] | "
				"record --stop\n");
		return 2;
	}
	if (argv[file][0] != '/') {
		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "pageflexctl: getcwd: %s\n", strerror(errno));
			return 1;
		}
		snprintf(abs, sizeof(abs), "%s/%s", cwd, argv[file]);
		argv[file] = abs;
	}
	return 0;
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
	char cmd[512], *reply;
	bool json = false;
	size_t off;
	int c, i, rc;

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
	if (!strcmp(argv[optind], "wait"))
		return cmd_wait(argc - optind, argv + optind, path);
	if (!strcmp(argv[optind], "top"))
		return ctl_top_main(argc - optind, argv + optind, path);
	if (!strcmp(argv[optind], "enable") || !strcmp(argv[optind], "disable"))
		return ctl_unit_main(argc - optind, argv + optind);
	/* Check the command line here, so typos never reach the agent. */
	if (strcmp(argv[optind], "status") && strcmp(argv[optind], "stats") &&
	    strcmp(argv[optind], "regions") && strcmp(argv[optind], "reload") &&
	    strcmp(argv[optind], "record") && strcmp(argv[optind], "metrics")) {
		fprintf(stderr,
			"pageflexctl: unknown command '%s' (want status, regions PID, "
			"stats, metrics, reload, record, top, wait, enable or disable)\n",
			argv[optind]);
		return 2;
	}
	if (!strcmp(argv[optind], "record") && (rc = record_args(argc - optind, argv + optind)))
		return rc;
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

	if (!socket_path_ok(path))
		return 2;
	rc = query(path, cmd, 0, &reply);
	if (rc != Q_OK) {
		no_agent(path, rc);
		return 1;
	}
	if (!strncmp(reply, "error: ", 7)) {
		fprintf(stderr, "pageflexctl: %s", reply + 7);
		free(reply);
		return 1;
	}
	if (strncmp(reply, "ok\n", 3)) {
		fprintf(stderr, "pageflexctl: unexpected reply from the agent\n");
		free(reply);
		return 1;
	}
	fputs(reply + 3, stdout);
	free(reply);
	return 0;
}
