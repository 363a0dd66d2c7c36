// SPDX-License-Identifier: MIT
/*
 * pf-rogue: a hostile (or merely unusual) shim client for the isolation,
 * limits and fault-injection tests. It speaks the wire protocol directly
 * with the real encoder, so it can say what libpageflex.so never would:
 * forged pids, ranges outside its own mappings, floods of regions and
 * packets, garbage, a registration kept across exec. It also plays the
 * victim: a process with checksummed memory that reports its own swap.
 * Each command prints one KEY=value line that the test scripts read.
 */
#include "pattern.h"
#include "pageflex_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static const char *sock_path;
static _Alignas(8) unsigned char pkt[PFW_MAX_PACKET];
static uint32_t seq;

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
	fprintf(stderr, "pf-rogue: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "pf-rogue: not a number: '%s'\n", s);
		exit(2);
	}
	return v;
}

static int connect_agent(bool nonblock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect to the agent");
	return fd;
}

/* Sends the packet in b; returns 0, or -errno (EAGAIN when the socket is full). */
static int send_buf(int fd, struct pfw_buf *b)
{
	size_t n = pfw_buf_finish(b);

	return send(fd, b->data, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -errno;
}

static void pkt_start(struct pfw_buf *b)
{
	pfw_buf_init(b, pkt, sizeof(pkt), seq++);
}

static void hello(int fd, uint32_t pid)
{
	struct pfw_buf b;
	static char exe[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	pkt_start(&b);
	pfw_put_hello(&b, pid, (uint32_t)getppid(), 0, exe, n > 0 ? (size_t)n : 0);
	if (send_buf(fd, &b))
		die("send HELLO");
}

/* Sends one REGION_MAP; 0 or -errno (EPIPE: the agent dropped us). */
static int map_range(int fd, uint64_t start, uint64_t len, const char *tag)
{
	struct pfw_buf b;

	pkt_start(&b);
	if (pfw_put_region_map(&b, start, len, PFW_KIND_ANON, PROT_READ | PROT_WRITE, tag,
			       strlen(tag), "rogue", 5, 0, NULL, 0))
		die("encode REGION_MAP");
	return send_buf(fd, &b);
}

/* Did the agent close the connection? Waits up to s seconds. */
static bool dropped(int fd, double s)
{
	char c;
	double end = now_s() + s;

	do {
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
		sleep_s(0.05);
	} while (now_s() < end);
	return false;
}

static uint64_t swap_kib(void)
{
	char line[256];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSwap: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* Checksummed memory of our own, at addr if given (MAP_FIXED_NOREPLACE). */
static unsigned char *own_memory(uint64_t addr, size_t len)
{
	unsigned char *p =
		mmap((void *)addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	for (size_t u = 0; u < len / PAGE; u++) {
		struct pat_id id = {.seed = 7, .region = 1, .unit = (uint32_t)u, .version = 1};

		pat_fill(p + u * PAGE, PAGE, &id, 50);
	}
	return p;
}

static size_t bad_units(const unsigned char *p, size_t len)
{
	size_t bad = 0;

	for (size_t u = 0; u < len / PAGE; u++) {
		struct pat_id id = {.seed = 7, .region = 1, .unit = (uint32_t)u, .version = 1};

		bad += pat_check(p + u * PAGE, PAGE, &id, 50, NULL) != PAT_OK;
	}
	return bad;
}

/* victim MIB SECONDS [ADDR]: memory nobody registered; reports its swap. */
static int cmd_victim(int argc, char **argv)
{
	size_t len = num(argv[0]) << 20;
	double secs = (double)num(argv[1]);
	unsigned char *p = own_memory(argc > 2 ? num(argv[2]) : 0, len);
	uint64_t peak = 0;

	printf("READY pid=%d addr=%p len=%zu euid=%d\n", getpid(), (void *)p, len, geteuid());
	fflush(stdout);
	for (double end = now_s() + secs; now_s() < end;) {
		uint64_t s = swap_kib();

		peak = s > peak ? s : peak;
		sleep_s(0.1);
	}
	size_t bad = bad_units(p, len);

	printf("VICTIM pid=%d swap_peak_kib=%llu bad_pages=%zu\n", getpid(),
	       (unsigned long long)peak, bad);
	return bad ? 1 : 0;
}

/* self MIB SECONDS [ADDR]: honest registration of our own memory (the
 * positive control: the agent must page it out). */
static int cmd_self(int argc, char **argv)
{
	size_t len = num(argv[0]) << 20;
	double secs = (double)num(argv[1]);
	unsigned char *p = own_memory(argc > 2 ? num(argv[2]) : 0, len);
	int fd = connect_agent(false);
	uint64_t peak = 0;

	hello(fd, (uint32_t)getpid());
	if (map_range(fd, (uint64_t)p, len, "rogue-self"))
		die("send REGION_MAP");
	printf("READY pid=%d addr=%p len=%zu\n", getpid(), (void *)p, len);
	fflush(stdout);
	for (double end = now_s() + secs; now_s() < end;) {
		uint64_t s = swap_kib();

		peak = s > peak ? s : peak;
		sleep_s(0.1);
	}
	size_t bad = bad_units(p, len);

	printf("SELF pid=%d swap_peak_kib=%llu bad_pages=%zu connected=%d\n", getpid(),
	       (unsigned long long)peak, bad, !dropped(fd, 0));
	return bad ? 1 : 0;
}

/* forge PID ADDR LEN: HELLO claiming another pid, then a region. */
static int cmd_forge(char **argv)
{
	int fd = connect_agent(false);

	hello(fd, (uint32_t)num(argv[0]));
	int rc = map_range(fd, num(argv[1]), num(argv[2]), "forged");

	printf("FORGE claimed_pid=%s dropped=%d\n", argv[0], rc == -EPIPE || dropped(fd, 2));
	return 0;
}

/* map ADDR LEN SECONDS [fork]: honest HELLO, a region we do not have
 * mapped. With "fork", a child keeps the connection open for SECONDS while
 * the registering process exits at once (so its pid can be reused). */
static int cmd_map(int argc, char **argv)
{
	int fd = connect_agent(false);

	hello(fd, (uint32_t)getpid());
	if (map_range(fd, num(argv[0]), num(argv[1]), "elsewhere"))
		die("send REGION_MAP");
	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	if (argc > 3 && !strcmp(argv[3], "fork")) {
		pid_t c = fork();

		if (c < 0)
			die("fork");
		if (c > 0)
			_exit(0);
		sleep_s((double)num(argv[2]));
		_exit(0);
	}
	bool d = dropped(fd, (double)num(argv[2]));

	printf("MAP pid=%d dropped=%d\n", getpid(), d);
	return 0;
}

/* regions N SECONDS: N one-page regions (every other page of an untouched
 * mapping of 2N pages, so none merge), as fast as the socket takes them. */
static int cmd_regions(char **argv)
{
	uint64_t n = num(argv[0]), sent = 0;
	unsigned char *base = mmap(NULL, 2 * n * PAGE, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int fd = connect_agent(false);
	double t0 = now_s();
	struct pfw_buf b;

	if (base == MAP_FAILED)
		die("mmap");
	hello(fd, (uint32_t)getpid());
	pkt_start(&b);
	while (sent < n) {
		if (pfw_put_region_map(&b, (uint64_t)base + 2 * sent * PAGE, PAGE, PFW_KIND_ANON,
				       PROT_READ, "flood", 5, "rogue", 5, sent, NULL, 0)) {
			if (send_buf(fd, &b))
				break;
			pkt_start(&b);
			continue;
		}
		sent++;
	}
	if (b.nrec)
		send_buf(fd, &b);
	printf("READY pid=%d sent=%llu seconds=%.2f\n", getpid(), (unsigned long long)sent,
	       now_s() - t0);
	fflush(stdout);
	bool d = dropped(fd, (double)num(argv[1]));

	printf("REGIONS pid=%d sent=%llu dropped=%d\n", getpid(), (unsigned long long)sent, d);
	return 0;
}

/* rate SECONDS: small packets (one PHASE each) as fast as possible, never
 * blocking; counts what the socket refused (EAGAIN). */
static int cmd_rate(char **argv)
{
	double secs = (double)num(argv[0]), t0;
	uint64_t sent = 0, full = 0, ph = 0;
	int fd = connect_agent(true);
	bool gone = false;
	struct pfw_buf b;

	hello(fd, (uint32_t)getpid());
	t0 = now_s();
	while (now_s() - t0 < secs) {
		for (int i = 0; i < 256; i++) {
			pkt_start(&b);
			pfw_put_phase(&b, ++ph, "flood", 5);
			int rc = send_buf(fd, &b);

			if (rc == -EAGAIN) {
				seq--; /* not sent: reuse the sequence number */
				full++;
			} else if (rc) {
				gone = true;
				break;
			} else {
				sent++;
			}
		}
		if (gone)
			break;
	}
	printf("RATE pid=%d sent=%llu eagain=%llu per_s=%.0f dropped=%d\n", getpid(),
	       (unsigned long long)sent, (unsigned long long)full, sent / (now_s() - t0),
	       gone || dropped(fd, 0.5));
	return 0;
}

/* garbage N: N connections, each sending one malformed packet. */
static int cmd_garbage(char **argv)
{
	uint64_t n = num(argv[0]), drops = 0, x = 0x243f6a8885a308d3ULL;

	for (uint64_t i = 0; i < n; i++) {
		int fd = connect_agent(false);
		struct pfw_buf b;
		size_t len;

		hello(fd, (uint32_t)getpid());
		pkt_start(&b);
		pfw_put_region_map(&b, 0x10000, PAGE, PFW_KIND_ANON, 0, "g", 1, "", 0, 0, NULL, 0);
		len = pfw_buf_finish(&b);
		/* Damage a header byte (magic, version, nrec, len) of a valid
		 * packet, or send random bytes: never a valid packet. */
		for (size_t k = 0; k < (i % 4 ? 1 : len); k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			pkt[i % 4 ? x % 12 : k] ^= (unsigned char)(x >> 32 | 1);
		}
		send(fd, pkt, len, MSG_NOSIGNAL);
		drops += dropped(fd, 3);
		close(fd);
	}
	printf("GARBAGE sent=%llu dropped=%llu\n", (unsigned long long)n,
	       (unsigned long long)drops);
	return 0;
}

/* exec-keep ADDR LEN PROG [ARGS]: register a range, keep the connection open
 * across exec (CLOEXEC cleared), and become PROG. */
static int cmd_exec_keep(int argc, char **argv)
{
	int fd = connect_agent(false);

	hello(fd, (uint32_t)getpid());
	if (map_range(fd, num(argv[0]), num(argv[1]), "before-exec"))
		die("send REGION_MAP");
	if (fcntl(fd, F_SETFD, 0))
		die("fcntl");
	sleep_s(0.3); /* let the agent take the region in */
	fprintf(stderr, "pf-rogue: pid %d keeps fd %d across exec of %s\n", getpid(), fd, argv[2]);
	(void)argc;
	execv(argv[2], argv + 2);
	die("execv");
	return 2;
}

static void usage(FILE *f)
{
	fputs("Usage: pf-rogue [-s SOCKET] COMMAND ARGS\n"
	      "A hostile shim client for the reliability tests (SOCKET: $PAGEFLEX_SOCKET).\n\n"
	      "  victim MIB SECONDS [ADDR]   unregistered checksummed memory; reports its swap\n"
	      "  self MIB SECONDS [ADDR]     the same, honestly registered (positive control)\n"
	      "  forge PID ADDR LEN          HELLO claiming PID, then a region\n"
	      "  map ADDR LEN SECONDS [fork] a region outside our own mappings; with fork, a\n"
	      "                             child holds the connection and we exit at once\n"
	      "  regions N SECONDS           N one-page regions, then hold the connection\n"
	      "  rate SECONDS                one-record packets as fast as possible\n"
	      "  garbage N                   N connections with one malformed packet each\n"
	      "  exec-keep ADDR LEN PROG...  register a range, then exec PROG keeping the socket\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int nargs;
	} cmds[] = {{"victim", 2},  {"self", 2}, {"forge", 3},	 {"map", 3},
		    {"regions", 2}, {"rate", 1}, {"garbage", 1}, {"exec-keep", 3}};
	int i = 1;

	sock_path = getenv("PAGEFLEX_SOCKET");
	if (argc > 2 && !strcmp(argv[1], "-s")) {
		sock_path = argv[2];
		i = 3;
	}
	if (!sock_path)
		sock_path = PFW_DEFAULT_SOCKET;
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		if (strcmp(argv[i], cmds[c].name))
			continue;
		if (argc - i - 1 < cmds[c].nargs) {
			usage(stderr);
			return 2;
		}
		char **a = argv + i + 1;
		int n = argc - i - 1;

		switch (c) {
		case 0:
			return cmd_victim(n, a);
		case 1:
			return cmd_self(n, a);
		case 2:
			return cmd_forge(a);
		case 3:
			return cmd_map(n, a);
		case 4:
			return cmd_regions(a);
		case 5:
			return cmd_rate(a);
		case 6:
			return cmd_garbage(a);
		default:
			return cmd_exec_keep(n, a);
		}
	}
	usage(stderr);
	return 2;
}
