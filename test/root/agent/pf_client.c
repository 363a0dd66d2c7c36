// SPDX-License-Identifier: MIT
/* Test client and agent harness for pageflexd tests (see pf_client.h). */
#include "pf_client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pageflex_wire.h"
#include "testutil.h"

/* How long spawn() waits for a new agent to answer (a QEMU guest is slow). */
#define AGENT_READY_MS 30000

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int pfc_send_raw(struct pfc *c, const void *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n == (ssize_t)len ? 0 : -errno;
}

static int send_buf(struct pfc *c, struct pfw_buf *b)
{
	size_t n = pfw_buf_finish(b);
	int rc = pfc_send_raw(c, b->data, n);

	if (!rc)
		c->seq++;
	return rc;
}

int pfc_connect(struct pfc *c, const char *path, uint32_t flags)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t mem[512];
	struct pfw_buf b;
	char exe[256];
	ssize_t n;

	c->seq = 0;
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;

		close(c->fd);
		c->fd = -1;
		return e;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	pfw_buf_init(&b, mem, sizeof(mem), c->seq);
	pfw_put_hello(&b, (uint32_t)getpid(), (uint32_t)getppid(), flags, exe, strlen(exe));
	return send_buf(c, &b);
}

int pfc_map(struct pfc *c, const void *addr, size_t len, const char *tag)
{
	uint64_t mem[64];
	struct pfw_buf b;

	pfw_buf_init(&b, mem, sizeof(mem), c->seq);
	if (pfw_put_region_map(&b, (uintptr_t)addr, len, PFW_KIND_ANON, 3, tag, strlen(tag), "t", 1,
			       0x1234, NULL, 0))
		return -EINVAL;
	return send_buf(c, &b);
}

int pfc_unmap(struct pfc *c, const void *addr, size_t len)
{
	uint64_t mem[16];
	struct pfw_buf b;

	pfw_buf_init(&b, mem, sizeof(mem), c->seq);
	pfw_put_range(&b, PFW_REGION_UNMAP, (uintptr_t)addr, len);
	return send_buf(c, &b);
}

void pfc_close(struct pfc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * The agent's log from byte `from` on, once, on stderr: all of a short one,
 * the last 40 lines of a long one (a BPF verifier log is thousands of lines;
 * the file itself is kept, as a failed start leaves the agent's dir alone).
 */
static void print_log_tail(const struct pfa_agent *a, off_t from)
{
	FILE *f = fopen(a->log, "r");
	size_t cap = 1 << 16, len = 0, lines = 0, n;
	char *buf = malloc(cap), *p;

	if (!f || !buf || fseeko(f, from, SEEK_SET)) {
		fprintf(stderr, "--- (no pageflexd log at %s)\n", a->log);
		goto out;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				break;
			buf = nb;
		}
	}
	buf[len] = 0;
	for (p = buf; *p; p++)
		lines += *p == '\n';
	if (len && buf[len - 1] != '\n')
		lines++;
	p = buf;
	if (lines <= 60) {
		fprintf(stderr, "--- pageflexd log (%s):\n", a->log);
	} else {
		size_t skip = lines - 40;

		fprintf(stderr, "--- pageflexd log: the last 40 of %zu lines (all of it: %s):\n",
			lines, a->log);
		while (skip && (p = strchr(p, '\n'))) {
			p++;
			skip--;
		}
	}
	fprintf(stderr, "%s%s---\n", p ? p : "", len && buf[len - 1] != '\n' ? "\n" : "");
out:
	if (f)
		fclose(f);
	free(buf);
}

/*
 * Starts the agent and waits (30 s at most) until its control socket
 * answers: pageflexd opens it only once its BPF programs are loaded. If the
 * agent exits first or never answers (it is then stopped), prints its log
 * once and one line saying why, and returns -ECHILD or -ETIMEDOUT.
 */
static int spawn(struct pfa_agent *a, const char *const *args)
{
	char bin[512];
	const char *argv[32];
	struct stat sb;
	off_t from = stat(a->log, &sb) ? 0 : sb.st_size; /* a restart appends */
	uint64_t t0;
	int i = 0, k, st = 0;

	snprintf(bin, sizeof(bin), "%s/bin/pageflexd", tu_build_dir());
	argv[i++] = bin;
	argv[i++] = "--socket";
	argv[i++] = a->sock;
	argv[i++] = "-v";
	for (k = 0; args && args[k] && i < 30; k++)
		argv[i++] = args[k];
	argv[i] = NULL;
	a->pid = fork();
	if (a->pid < 0)
		return -errno;
	if (a->pid == 0) {
		int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/* A failed assertion ends the test process: take the agent with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);

		dup2(fd, 2);
		dup2(fd, 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	/* Wait until the control socket answers. */
	for (t0 = now_ms(); now_ms() - t0 < AGENT_READY_MS; usleep(20000)) {
		char *r = agent_query(a, "status");
		bool ok = r && !strncmp(r, "ok", 2);

		free(r);
		if (ok)
			return 0;
		if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
			a->pid = 0;
			print_log_tail(a, from);
			if (WIFSIGNALED(st))
				fprintf(stderr,
					"FAIL: pageflexd did not become ready: it was killed by signal "
					"%d before answering on %s\n",
					WTERMSIG(st), a->ctl);
			else
				fprintf(stderr,
					"FAIL: pageflexd did not become ready: it exited with status %d "
					"before answering on %s\n",
					WEXITSTATUS(st), a->ctl);
			return -ECHILD;
		}
	}
	/* No answer in time: stop it, so that its log is complete. */
	kill(a->pid, SIGTERM);
	for (i = 0; i < 20 && waitpid(a->pid, &st, WNOHANG) != a->pid; i++)
		usleep(100000);
	if (i == 20) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, &st, 0);
	}
	a->pid = 0;
	print_log_tail(a, from);
	fprintf(stderr,
		"FAIL: pageflexd did not become ready: no answer on %s within %d s (stopped it)\n",
		a->ctl, AGENT_READY_MS / 1000);
	return -ETIMEDOUT;
}

int agent_start(struct pfa_agent *a, const char *const *args)
{
	snprintf(a->dir, sizeof(a->dir), "/tmp/pfagent-test.XXXXXX");
	if (!mkdtemp(a->dir))
		return -errno;
	snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", a->dir);
	snprintf(a->ctl, sizeof(a->ctl), "%s/control.sock", a->dir);
	snprintf(a->log, sizeof(a->log), "%s/agent.log", a->dir);
	return spawn(a, args);
}

int agent_restart(struct pfa_agent *a, const char *const *args)
{
	return spawn(a, args);
}

int agent_stop(struct pfa_agent *a)
{
	int st = -1;

	if (a->pid <= 0)
		return -1;
	kill(a->pid, SIGTERM);
	waitpid(a->pid, &st, 0);
	a->pid = 0;
	if (st == 0) {
		/* Keep the log of a failed run; the agent removed its sockets. */
		unlink(a->log);
		rmdir(a->dir);
	}
	return st;
}

void agent_kill9(struct pfa_agent *a)
{
	if (a->pid <= 0)
		return;
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	a->pid = 0;
}

char *agent_query(struct pfa_agent *a, const char *cmd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = 0, cap = 1 << 16;
	char *buf;
	ssize_t n;
	int fd;

	if (strlen(a->ctl) >= sizeof(sa.sun_path))
		return NULL;
	memcpy(sa.sun_path, a->ctl, strlen(a->ctl) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write(fd, cmd, strlen(cmd)) < 0 ||
	    write(fd, "\n", 1) < 0) {
		close(fd);
		return NULL;
	}
	buf = malloc(cap);
	while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	if (buf)
		buf[len] = 0;
	return buf;
}

long long agent_stat_field(struct pfa_agent *a, const char *field)
{
	char key[128], *r = agent_query(a, "stats"), *p;
	long long v = -1;

	snprintf(key, sizeof(key), "\"%s\":", field);
	if (r && !strncmp(r, "ok\n", 3) && (p = strstr(r, key)))
		v = strtoll(p + strlen(key), NULL, 10);
	free(r);
	return v;
}

long long agent_region_field(struct pfa_agent *a, pid_t pid, const char *tag, const char *field)
{
	char cmd[64], key[128], *r, *p, *end;
	long long v = -1;

	snprintf(cmd, sizeof(cmd), "regions %d --json", pid);
	r = agent_query(a, cmd);
	if (!r || strncmp(r, "ok\n", 3))
		goto out;
	snprintf(key, sizeof(key), "\"tag\":\"%s\"", tag);
	p = strstr(r, key);
	if (!p)
		goto out;
	end = strchr(p, '}');
	while (p > r && *p != '{')
		p--;
	snprintf(key, sizeof(key), "\"%s\":", field);
	p = strstr(p, key);
	if (!p || (end && p > end))
		goto out;
	p += strlen(key);
	v = strncmp(p, "null", 4) ? strtoll(p, NULL, 10) : AGENT_FIELD_NULL;
out:
	free(r);
	return v;
}

bool agent_wait_region(struct pfa_agent *a, pid_t pid, const char *tag, int ms)
{
	uint64_t t0 = now_ms();

	while (now_ms() - t0 < (uint64_t)ms) {
		if (agent_region_field(a, pid, tag, "id") >= 0)
			return true;
		usleep(5000);
	}
	return false;
}

char *agent_log(struct pfa_agent *a)
{
	FILE *f = fopen(a->log, "r");
	char *buf;
	size_t n;

	if (!f)
		return strdup("");
	buf = calloc(1, 1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

size_t pagemap_wait_swapped(const void *p, size_t len, unsigned ms)
{
	size_t present, swapped;
	uint64_t t0 = now_ms();

	for (;;) {
		pagemap_count(p, len, &present, &swapped);
		if (swapped == len / 4096 || now_ms() - t0 > ms)
			return swapped;
		usleep(50000);
	}
}

void pagemap_count(const void *p, size_t len, size_t *present, size_t *swapped)
{
	size_t npages = len / 4096, i, chunk = 4096;
	uint64_t *e = malloc(chunk * sizeof(*e));
	int fd = open("/proc/self/pagemap", O_RDONLY);

	*present = *swapped = 0;
	for (i = 0; i < npages; i += chunk) {
		size_t n = npages - i < chunk ? npages - i : chunk, j;
		off_t off = (off_t)(((uintptr_t)p / 4096 + i) * 8);

		if (pread(fd, e, n * 8, off) != (ssize_t)(n * 8))
			break;
		for (j = 0; j < n; j++) {
			*present += e[j] >> 63;
			*swapped += (e[j] >> 62) & 1;
		}
	}
	close(fd);
	free(e);
}

void *tc_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		abort();
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

uint64_t tc_checksum(const unsigned char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i += 64)
		h = (h ^ *(const uint64_t *)(p + i)) * 1099511628211ull;
	return h;
}

void tc_fill(unsigned char *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i += 64)
		*(uint64_t *)(p + i) = (i / 64) * 2654435761u + seed;
}

void tc_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

bool agent_wait_log(struct pfa_agent *a, const char *needle, int ms)
{
	uint64_t t0 = now_ms();

	for (;;) {
		char *r = agent_log(a);
		bool found = r && strstr(r, needle);

		free(r);
		if (found)
			return true;
		if (now_ms() - t0 >= (uint64_t)ms)
			return false;
		usleep(100000);
	}
}

void *tc_touch_loop(void *arg)
{
	struct tc_toucher *t = arg;
	uint64_t last = now_ms(), now;

	while (!t->stop) {
		for (size_t i = 0; i < t->len; i += 4096)
			t->sum += t->p[i];
		now = now_ms();
		if (now - last > t->max_gap_ms)
			t->max_gap_ms = now - last;
		last = now;
		/* In 10 ms steps: a stop is seen within one. */
		for (unsigned k = 0; k < (t->period_ms + 9) / 10 && !t->stop; k++)
			usleep(10000);
	}
	return NULL;
}
