// SPDX-License-Identifier: MIT
/* Helpers for the shim tests; see shim_harness.h. */
#include "shim_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const *h_extra_env;
const char *h_prog_override;
bool h_merge_stderr;

static char shim_path[512], prog_path[512], rec_path[512];

/*
 * The build tree, from CTest's PAGEFLEX_BUILD_DIR (or "."). Not from
 * pageflex_testutil: that library is sanitised in the asan build and these
 * tests are not.
 */
const char *h_build_dir(void)
{
	const char *d = getenv("PAGEFLEX_BUILD_DIR");

	return d && *d ? d : ".";
}

static void paths(void)
{
	if (shim_path[0])
		return;
	snprintf(shim_path, sizeof(shim_path), "%s/lib/libpageflex.so", h_build_dir());
	snprintf(prog_path, sizeof(prog_path), "%s/test-bin/pf_shim_prog", h_build_dir());
	snprintf(rec_path, sizeof(rec_path), "%s/test-bin/pf_recorder", h_build_dir());
}

const char *h_shim(void)
{
	paths();
	return shim_path;
}

const char *h_prog(void)
{
	paths();
	return prog_path;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/pf-shim-test.XXXXXX");
	if (!mkdtemp(r->dir))
		return false;
	snprintf(r->sock, sizeof(r->sock), "%s/agent.sock", r->dir);
	snprintf(r->out, sizeof(r->out), "%s/events.txt", r->dir);
	return true;
}

bool rec_start(struct recorder *r)
{
	paths();
	r->pid = fork();
	if (r->pid < 0)
		return false;
	if (r->pid == 0) {
		execl(rec_path, rec_path, r->sock, r->out, (char *)NULL);
		_exit(127);
	}
	return rec_wait(r, "listening\n", 5000);
}

void rec_stop(struct recorder *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
	}
	r->pid = 0;
}

char *rec_read(const struct recorder *r)
{
	FILE *f = fopen(r->out, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f) {
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		rewind(f);
	}
	buf = calloc(1, len + 1);
	if (f) {
		len = fread(buf, 1, len, f);
		buf[len] = '\0';
		fclose(f);
	}
	return buf;
}

bool rec_wait(const struct recorder *r, const char *needle, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	for (;;) {
		char *text = rec_read(r);
		bool found = strstr(text, needle) != NULL;

		free(text);
		if (found)
			return true;
		if (now_ms() > end)
			return false;
		usleep(10000);
	}
}

void rec_cleanup(struct recorder *r)
{
	rec_stop(r);
	unlink(r->sock);
	unlink(r->out);
	rmdir(r->dir);
}

static void child_exec(const char *sock, bool preload, const char *const *args)
{
	const char *argv[16];
	int n = 0;

	const char *prog = h_prog_override ? h_prog_override : prog_path;

	argv[n++] = prog;
	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	if (preload)
		setenv("LD_PRELOAD", shim_path, 1);
	else
		unsetenv("LD_PRELOAD");
	if (sock)
		setenv("PAGEFLEX_SOCKET", sock, 1);
	else
		unsetenv("PAGEFLEX_SOCKET");
	unsetenv("PAGEFLEX_LOG");
	unsetenv("PAGEFLEX_MIN_REGION");
	unsetenv("PAGEFLEX_LARGE_ALLOC");
	for (const char *const *e = h_extra_env; e && *e; e++)
		putenv((char *)*e);
	execv(prog, (char *const *)argv);
	_exit(127);
}

pid_t spawn_prog(const char *sock, bool preload, const char *const *args, int *in_fd, int *out_fd)
{
	int in[2], out[2];
	pid_t pid;

	paths();
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (h_merge_stderr)
			dup2(out[1], 2);
		child_exec(sock, preload, args);
	}
	close(in[0]);
	close(out[1]);
	*in_fd = in[1];
	*out_fd = out[0];
	return pid;
}

char *read_until(int fd, const char *needle, int timeout_ms)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	long end = now_ms() + timeout_ms;

	buf[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (needle && strstr(buf, needle))
			break;
		if (now_ms() > end || poll(&p, 1, 100) < 0)
			break;
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		if (len + 1024 > cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

int run_prog(const char *sock, bool preload, const char *const *args, char **out)
{
	int in_fd, out_fd, st;
	pid_t pid = spawn_prog(sock, preload, args, &in_fd, &out_fd);

	if (pid < 0)
		return -1;
	close(in_fd);
	*out = read_until(out_fd, NULL, 60000);
	close(out_fd);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool has_map(const char *rec, pid_t pid, unsigned long start, unsigned long len, const char *kind,
	     const char *tag)
{
	char head[128], tagpart[96];
	const char *p = rec;

	snprintf(head, sizeof(head), "%d MAP 0x%lx %lu %s ", pid, start, len, kind);
	snprintf(tagpart, sizeof(tagpart), " tag=%s ", tag);
	while ((p = strstr(p, head))) {
		const char *eol = strchr(p, '\n');
		const char *t = strstr(p, tagpart);

		if ((p == rec || p[-1] == '\n') && t && (!eol || t < eol))
			return true;
		p++;
	}
	return false;
}

bool has_range(const char *rec, pid_t pid, const char *what, unsigned long start, unsigned long len)
{
	char line[128];
	const char *p = rec;

	snprintf(line, sizeof(line), "%d %s 0x%lx %lu\n", pid, what, start, len);
	while ((p = strstr(p, line))) {
		if (p == rec || p[-1] == '\n')
			return true;
		p++;
	}
	return false;
}

size_t get_maps(const char *rec, pid_t pid, const char *tag_prefix, struct map_line *out,
		size_t max)
{
	size_t n = 0;

	for (const char *p = rec; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		struct map_line m;
		int lpid;

		m.site[0] = '\0';
		if (sscanf(p, "%d MAP 0x%lx %lu %15s prot=%*u tag=%63s site=%255s", &lpid, &m.start,
			   &m.len, m.kind, m.tag, m.site) < 5 ||
		    lpid != pid || strncmp(m.tag, tag_prefix, strlen(tag_prefix)))
			continue;
		out[n++] = m;
	}
	return n;
}
