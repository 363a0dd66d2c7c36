// SPDX-License-Identifier: MIT
/*
 * pf_shim_prog: small programs that the shim tests run under
 * LD_PRELOAD=libpageflex.so. Each mode prints what it did (addresses and
 * sizes) so the test can compare with what the recorder received.
 *
 *   mmap      anon, file, shared, small maps; mremap; madvise; munmap
 *   scope     allocations inside pageflex_tag_scope "testscope"
 *   large     large allocations from two call sites
 *   phase     four phase changes
 *   fork      a child that maps 1 MiB and exits
 *   exec      a child that execs "pf_shim_prog mmap1"
 *   mmap1     one 1 MiB mapping
 *   hold      maps 3 regions, prints "ready", waits for a line on stdin
 *   output    deterministic output from mallocs, threads, a fork, a signal
 *             handler that allocates, and a dlopen'ed library (zlib)
 *   early     prints the 1 MiB mapping made by a constructor, before main()
 *   stack     one MAP_STACK|MAP_GROWSDOWN mapping of 256 KiB
 *   userns    unshare(CLONE_NEWUSER) (the kernel wants a single-threaded
 *             process), then one 1 MiB mapping
 *   setid     as root: keep capabilities in this thread only (capset), drop
 *             to uid 65534, then setresgid (glibc applies it to all threads)
 *   thread    a new thread allocates 1000 x 4000 bytes and prints them
 *   spawn     a posix_spawn child and a vfork child, each running "mmap1"
 *   churn N   N mmap/munmap pairs of 64 KiB
 *   longtext  1200 mappings of a file with a ~200-byte path, in a tag scope
 *             with a 63-byte name (events that span several ring slots, and
 *             wrap around the ring), between phases "long1", "long2", "long3"
 *   withdraw  short-lived mappings, each with something in its range before
 *             the munmap (a MAP_FIXED, a partial unmap refilled, a shrinking
 *             mremap, a pageflex_tag, another thread's MAP_FIXED or munmap),
 *             200 rounds; then prints the mappings it keeps ("live"), phase
 *             "withdrawn", "ready", and waits for a line on stdin
 *   stress    4 threads mapping, remapping, discarding and allocating (large
 *             allocations from 20 call sites), 5 forked children doing the
 *             same, and a signal handler that allocates
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pageflex.h"

#define MiB (1ul << 20)
#define KiB (1ul << 10)

static void *early_map;

static void *map_anon(size_t len);

/* Runs before main(): the shim must cope (and report it). */
__attribute__((constructor)) static void early(void)
{
	early_map = map_anon(1 * MiB);
}

/* A private anonymous mapping, at hint if that range is free (not MAP_FIXED). */
static char *map_hint(char *hint, size_t len)
{
	char *p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void *map_anon(size_t len)
{
	return map_hint(NULL, len);
}

static int mode_mmap(void)
{
	char path[] = "/tmp/pf_shim_prog.XXXXXX";
	int fd = mkstemp(path);
	void *a, *f, *s, *small, *r;

	if (fd < 0 || ftruncate(fd, 256 * KiB))
		return 1;
	a = map_anon(1 * MiB);
	printf("anon %p %lu\n", a, 1 * MiB);
	f = mmap(NULL, 256 * KiB, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("file %p %lu %s\n", f, 256 * KiB, path);
	s = mmap(NULL, 128 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("shm %p %lu\n", s, 128 * KiB);
	small = map_anon(16 * KiB);
	printf("small %p %lu\n", small, 16 * KiB);
	memset(a, 1, 1 * MiB);
	madvise((char *)a + 256 * KiB, 128 * KiB, MADV_DONTNEED);
	printf("discard %p %lu\n", (void *)((char *)a + 256 * KiB), 128 * KiB);
	r = mremap(a, 1 * MiB, 3 * MiB, MREMAP_MAYMOVE);
	printf("remap %p %lu %p %lu\n", a, 1 * MiB, r, 3 * MiB);
	/* Keeps the new mapping's MAP from meeting its UNMAP in one packet. */
	pageflex_phase("remapped");
	munmap(r, 3 * MiB);
	printf("unmap %p %lu\n", r, 3 * MiB);
	munmap(f, 256 * KiB);
	printf("unmap %p %lu\n", f, 256 * KiB);
	munmap(small, 16 * KiB);
	close(fd);
	unlink(path);
	fflush(stdout);
	return 0;
}

static int mode_scope(void)
{
	enum { N = 300 };
	static void *p[N];

	pageflex_tag_scope_begin("testscope");
	for (int i = 0; i < N; i++) {
		size_t sz = i % 100 == 99 ? 2 * MiB : 4000;

		p[i] = malloc(sz);
		memset(p[i], 7, sz);
		printf("alloc %p %zu\n", p[i], sz);
	}
	pageflex_tag_scope_end();
	fflush(stdout);
	for (int i = 0; i < N; i++)
		free(p[i]);
	return 0;
}

static __attribute__((noinline)) void *site_a(void)
{
	void *p = malloc(4 * MiB);

	memset(p, 1, 4096);
	return p;
}

static __attribute__((noinline)) void *site_b(void)
{
	void *p = calloc(1, 3 * MiB);

	return p;
}

static int mode_large(void)
{
	void *a = site_a(), *b = site_b();

	printf("site_a %p %lu\nsite_b %p %lu\n", a, 4 * MiB, b, 3 * MiB);
	fflush(stdout);
	free(a);
	free(b);
	return 0;
}

static int mode_phase(void)
{
	pageflex_phase("load");
	pageflex_phase("build");
	pageflex_phase("query");
	pageflex_phase("load");
	return 0;
}

static int mode_longtext(void)
{
	static const char tag[] = "a-scope-name-of-63-bytes-0123456789-0123456789-0123456789-01234";
	static char *maps[1200];
	char dir[] = "/tmp/pf_shim_prog.XXXXXX", path[256];
	int fd;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/%0*d", dir, 200 - (int)strlen(dir) - 1, 7);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 64 * KiB))
		return 1;
	printf("path %s\ntag %s\n", path, tag);
	pageflex_tag_scope_begin(tag);
	for (int i = 0; i < 1200; i++) {
		if (i % 400 == 0) {
			char name[8];

			snprintf(name, sizeof(name), "long%d", i / 400 + 1);
			pageflex_phase(name);
			usleep(50000); /* lets the sender drain the ring */
		}
		maps[i] = mmap(NULL, 64 * KiB, PROT_READ, MAP_SHARED, fd, 0);
		if (maps[i] == MAP_FAILED)
			return 1;
	}
	pageflex_tag_scope_end();
	pageflex_phase("mapped");
	for (int i = 0; i < 1200; i++)
		munmap(maps[i], 64 * KiB);
	close(fd);
	unlink(path);
	rmdir(dir);
	printf("longtext ok\n");
	fflush(stdout);
	return 0;
}

static int mode_mmap1(void)
{
	void *p = map_anon(1 * MiB);

	printf("pid %d anon %p %lu\n", getpid(), p, 1 * MiB);
	fflush(stdout);
	return 0;
}

static int mode_fork(void)
{
	pid_t c;
	int st;

	printf("parent %d\n", getpid());
	fflush(stdout);
	c = fork();
	if (c == 0) {
		void *p = map_anon(1 * MiB);

		printf("child %d anon %p %lu\n", getpid(), p, 1 * MiB);
		fflush(stdout);
		exit(0);
	}
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int mode_exec(const char *self)
{
	pid_t c;
	int st;

	printf("parent %d\n", getpid());
	fflush(stdout);
	c = fork();
	if (c == 0) {
		execl(self, self, "mmap1", (char *)NULL);
		_exit(127);
	}
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void *thread_allocs(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(4000);

		memset(p, 1, 4000);
		printf("alloc %p %d\n", p, 4000);
	}
	return NULL;
}

static int mode_setid(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (geteuid() != 0) {
		printf("not root\n");
		return 0;
	}
	if (prctl(PR_SET_KEEPCAPS, 1) || setresuid(65534, 65534, 65534))
		return 1;
	/* Effective capabilities back, in this thread only (as setpriv does). */
	if (syscall(SYS_capget, &h, d))
		return 1;
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	if (syscall(SYS_capset, &h, d))
		return 1;
	if (setresgid(65534, 65534, 65534))
		return 1;
	printf("uid %d gid %d\n", (int)getuid(), (int)getgid());
	fflush(stdout);
	return mode_mmap1();
}

extern char **environ;

static int mode_spawn(const char *self)
{
	char *const argv[] = {(char *)self, "mmap1", NULL};
	pid_t a, b;
	int sa, sb;

	printf("parent %d\n", getpid());
	fflush(stdout);
	if (posix_spawn(&a, self, NULL, NULL, argv, environ))
		return 1;
	waitpid(a, &sa, 0);
	b = vfork();
	if (b == 0) {
		execve(self, argv, environ);
		_exit(127);
	}
	waitpid(b, &sb, 0);
	return !(WIFEXITED(sa) && !WEXITSTATUS(sa) && WIFEXITED(sb) && !WEXITSTATUS(sb));
}

static int mode_hold(void)
{
	char line[16];

	for (int i = 1; i <= 3; i++) {
		void *p = map_anon((size_t)i * MiB);

		printf("anon %p %lu\n", p, (size_t)i * MiB);
	}
	pageflex_phase("holding");
	printf("ready\n");
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) ? 0 : 0;
}

struct other_op {
	char *addr;
	size_t len;
	bool fixed; /* map anon MAP_FIXED over it; else munmap it */
};

static void *other_thread(void *arg)
{
	struct other_op *op = arg;

	if (op->fixed)
		mmap(op->addr, op->len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		munmap(op->addr, op->len);
	return NULL;
}

static void in_other_thread(char *addr, size_t len, bool fixed)
{
	struct other_op op = {addr, len, fixed};
	pthread_t t;

	pthread_create(&t, NULL, other_thread, &op);
	pthread_join(t, NULL);
}

/*
 * Each mapping below dies before the shim's sender is likely to have taken
 * its MAP, so the shim may withdraw it -- except that something else
 * happened inside its range first, which must then still reach the agent as
 * gone. What the agent ends up believing must be exactly what is mapped.
 */
static int mode_withdraw(void)
{
	char line[16], *p, *q, *k[4];

	for (int round = 0; round < 200; round++) {
		/*
		 * Non-fixed mmaps with a hint: each round in fresh address
		 * space, so a stale range left behind is never covered later.
		 */
		char *area = (char *)0x200000000000ul + (size_t)round * 64 * MiB;

		p = map_hint(area, 1 * MiB); /* plain: may be withdrawn */
		munmap(p, 1 * MiB);
		p = map_hint(area + 4 * MiB, 1 * MiB); /* a fixed mapping replaces part of it */
		mmap(p + 256 * KiB, 256 * KiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		     -1, 0);
		munmap(p, 1 * MiB);
		p = map_hint(area + 8 * MiB,
			     1 * MiB); /* part unmapped, then refilled (not fixed) */
		munmap(p + 512 * KiB, 512 * KiB);
		q = mmap(p + 512 * KiB, 512 * KiB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (q != MAP_FAILED && q != p + 512 * KiB)
			munmap(q, 512 * KiB);
		munmap(p, 1 * MiB);
		p = map_hint(area + 12 * MiB, 1 * MiB); /* shrunk in place, old size unmapped */
		mremap(p, 1 * MiB, 512 * KiB, 0);
		munmap(p, 1 * MiB);
		p = map_hint(area + 16 * MiB, 1 * MiB); /* part of it tagged */
		pageflex_tag(p + 128 * KiB, 128 * KiB, "wtag");
		munmap(p, 1 * MiB);
		p = map_hint(area + 20 * MiB, 1 * MiB); /* another thread maps over part of it */
		in_other_thread(p + 128 * KiB, 256 * KiB, true);
		munmap(p, 1 * MiB);
		p = map_hint(area + 24 * MiB, 1 * MiB); /* another thread unmaps it */
		in_other_thread(p, 1 * MiB, false);
	}
	printf("live %p %lu\n", early_map, 1 * MiB);
	k[0] = map_anon(1 * MiB);
	k[1] = map_anon(1 * MiB);
	madvise(k[1], 256 * KiB, MADV_DONTNEED);
	k[2] = map_anon(2 * MiB);
	munmap(k[2] + 512 * KiB, 512 * KiB);
	p = map_anon(1 * MiB);
	munmap(p, 1 * MiB);
	k[3] = map_anon(1 * MiB); /* likely where p was */
	printf("live %p %lu\nlive %p %lu\n", k[0], 1 * MiB, k[1], 1 * MiB);
	printf("live %p %lu\nlive %p %lu\n", k[2], 512 * KiB, k[2] + MiB, 1 * MiB);
	printf("live %p %lu\n", k[3], 1 * MiB);
	pageflex_phase("withdrawn");
	printf("ready\n");
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) ? 0 : 0;
}

static volatile sig_atomic_t sig_sum;

static void on_usr1(int sig)
{
	/* Not async-signal-safe in general; programs do it, the shim must cope. */
	char *p = malloc(64 + (size_t)sig);

	if (p) {
		p[0] = 1;
		sig_sum += p[0];
		free(p);
	}
}

static void *thread_main(void *arg)
{
	uintptr_t id = (uintptr_t)arg, sum = 0;

	for (int i = 0; i < 20000; i++) {
		char *p = malloc((size_t)(i % 512) + 1);

		p[0] = (char)i;
		sum += (unsigned char)p[0];
		free(p);
	}
	return (void *)(sum + id);
}

/* Compresses 1 MiB with a dlopen'ed zlib (which allocates through malloc). */
static void zlib_check(void)
{
	typedef int (*compress2_fn)(unsigned char *, unsigned long *, const unsigned char *,
				    unsigned long, int);
	typedef unsigned long (*bound_fn)(unsigned long);
	void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
	compress2_fn c2;
	bound_fn bound;
	unsigned char *src, *dst;
	unsigned long dlen;

	if (!h) {
		printf("zlib not found\n");
		return;
	}
	*(void **)&c2 = dlsym(h, "compress2");
	*(void **)&bound = dlsym(h, "compressBound");
	src = malloc(1 * MiB);
	for (size_t i = 0; i < 1 * MiB; i++)
		src[i] = (unsigned char)((i * 7) ^ (i >> 9));
	dlen = bound(1 * MiB);
	dst = malloc(dlen);
	printf("zlib %d %lu\n", c2(dst, &dlen, src, 1 * MiB, 6), dlen);
	free(src);
	free(dst);
	dlclose(h);
}

static int mode_output(void)
{
	pthread_t t[4];
	uintptr_t total = 0;
	char *big;
	pid_t c;
	int st;

	signal(SIGUSR1, on_usr1);
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)i);
	for (int i = 0; i < 50; i++)
		raise(SIGUSR1);
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(t[i], &r);
		total += (uintptr_t)r;
	}
	big = malloc(8 * MiB);
	memset(big, 3, 8 * MiB);
	big = realloc(big, 16 * MiB);
	printf("threads %lu signals %d big %d\n", (unsigned long)total, (int)sig_sum,
	       big[8 * MiB - 1]);
	free(big);
	zlib_check();
	fflush(stdout);
	c = fork();
	if (c == 0) {
		char *p = strdup("child says hello");

		printf("%s\n", p);
		free(p);
		exit(0);
	}
	waitpid(c, &st, 0);
	printf("child exit %d\n", WEXITSTATUS(st));
	return 0;
}

#define SITE(n)                                                   \
	static __attribute__((noinline)) void *site##n(size_t sz) \
	{                                                         \
		void *p = malloc(sz);                             \
		__asm__ volatile("" : : "r"(p) : "memory");       \
		return p;                                         \
	}
SITE(0)
SITE(1)
SITE(2)
SITE(3)
SITE(4)
SITE(5)
SITE(6)
SITE(7)
SITE(8)
SITE(9) SITE(10) SITE(11) SITE(12) SITE(13) SITE(14) SITE(15) SITE(16) SITE(17) SITE(18) SITE(19)

	static void *(*const sites[20])(size_t) = {
		site0,	site1,	site2,	site3,	site4,	site5,	site6,	site7,	site8,	site9,
		site10, site11, site12, site13, site14, site15, site16, site17, site18, site19,
};

static void *stress_thread(void *arg)
{
	unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;

	for (int i = 0; i < 1500; i++) {
		x = x * 1103515245u + 12345u;
		switch ((x >> 8) % 4) {
		case 0: {
			size_t len = (64 * KiB) << ((x >> 12) % 5);
			char *p = map_anon(len);

			p[0] = 1;
			madvise(p, len / 2, MADV_DONTNEED);
			munmap(p, len);
			break;
		}
		case 1: {
			char *p = sites[(x >> 12) % 20](1 * MiB + (x >> 16) % (3 * MiB));

			p[0] = 1;
			free(p);
			break;
		}
		case 2: {
			void *v[64];

			for (int k = 0; k < 64; k++)
				v[k] = malloc((size_t)k * 16 + 1);
			for (int k = 0; k < 64; k++)
				free(v[k]);
			break;
		}
		default: {
			char *p = map_anon(128 * KiB), *q;

			q = mremap(p, 128 * KiB, 512 * KiB, MREMAP_MAYMOVE);
			munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? 128 * KiB : 512 * KiB);
			break;
		}
		}
	}
	return NULL;
}

static int mode_stress(void)
{
	pthread_t t[4];
	pid_t kids[5];
	int bad = 0;

	signal(SIGUSR1, on_usr1);
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, stress_thread, (void *)(i + 1));
	for (int i = 0; i < 5; i++) {
		raise(SIGUSR1);
		kids[i] = fork();
		if (kids[i] == 0) {
			stress_thread((void *)(uintptr_t)(100 + i));
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 5; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	printf("stress %s\n", bad ? "FAILED" : "ok");
	return bad != 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(m, "mmap"))
		return mode_mmap();
	if (!strcmp(m, "scope"))
		return mode_scope();
	if (!strcmp(m, "large"))
		return mode_large();
	if (!strcmp(m, "phase"))
		return mode_phase();
	if (!strcmp(m, "fork"))
		return mode_fork();
	if (!strcmp(m, "exec"))
		return mode_exec(argv[0]);
	if (!strcmp(m, "mmap1"))
		return mode_mmap1();
	if (!strcmp(m, "hold"))
		return mode_hold();
	if (!strcmp(m, "output"))
		return mode_output();
	if (!strcmp(m, "early")) {
		printf("early %p %lu\n", early_map, 1 * MiB);
		return 0;
	}
	if (!strcmp(m, "setid"))
		return mode_setid();
	if (!strcmp(m, "userns")) {
		int r = unshare(CLONE_NEWUSER);

		printf("unshare %d %s\n", r, r ? strerror(errno) : "ok");
		fflush(stdout);
		return mode_mmap1();
	}
	if (!strcmp(m, "thread")) {
		pthread_t t;

		pthread_create(&t, NULL, thread_allocs, NULL);
		pthread_join(t, NULL);
		return 0;
	}
	if (!strcmp(m, "spawn"))
		return mode_spawn(argv[0]);
	if (!strcmp(m, "stress"))
		return mode_stress();
	if (!strcmp(m, "withdraw"))
		return mode_withdraw();
	if (!strcmp(m, "longtext"))
		return mode_longtext();
	if (!strcmp(m, "churn")) {
		long n = argc > 2 ? atol(argv[2]) : 1000;

		for (long i = 0; i < n; i++)
			munmap(map_anon(64 * KiB), 64 * KiB);
		printf("churn %ld ok\n", n);
		return 0;
	}
	if (!strcmp(m, "stack")) {
		void *p = mmap(NULL, 256 * KiB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_GROWSDOWN, -1, 0);

		printf("stack %p %lu\n", p, 256 * KiB);
		return p == MAP_FAILED;
	}
	fprintf(stderr, "usage: pf_shim_prog "
			"mmap|scope|large|phase|fork|exec|mmap1|hold|output|early|stack|"
			"churn N|stress|spawn|thread|userns|setid|withdraw|longtext\n");
	return 2;
}
