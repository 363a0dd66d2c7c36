// SPDX-License-Identifier: MIT
/*
 * Calls that must not see the shim's sender thread, exported so the thread
 * can be stopped around them and started again afterwards (it then inherits
 * the caller's new credentials; the agent connection stays open):
 *
 * - unshare into a user namespace, and setns into any namespace: the kernel
 *   refuses them to a multi-threaded process (EINVAL for user and mount
 *   namespaces, whose fs context the threads share; EUSERS for time).
 * - set*id and setgroups/initgroups: glibc applies them to every thread and
 *   aborts the process if one thread fails, and a program that kept its
 *   capabilities in the calling thread only (capset is per thread, as
 *   setpriv does) would make our thread fail.
 *
 * The set*id family goes to libc's own functions (dlsym RTLD_NEXT), so the
 * program's other threads are still updated as POSIX wants.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pf_internal.h"

/* Threads of this process, from /proc/self/stat (field 20), or -1. */
long pf_thread_count(void)
{
	char buf[512];
	long n;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC);
	char *p;

	if (fd < 0)
		return -1;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may contain anything */
	for (int field = 2; p && field < 20; field++)
		p = strchr(p + 1, ' ');
	return p ? strtol(p + 1, NULL, 10) : -1;
}

static void sleep_100us(void)
{
	struct timespec ts = {0, 100000};

	nanosleep(&ts, NULL);
}

/*
 * Runs a namespace system call with the sender thread stopped.
 * pthread_join returns when the thread clears its tid, a moment before the
 * kernel removes it from the thread group (release_task), and until then the
 * kernel still answers EINVAL. So: wait (at most 20 ms) until the thread
 * count has dropped by the one thread we stopped, then call; an EINVAL is
 * still retried a few times (2 ms at most), since the count and the thread
 * group are not updated in one step. A program with threads of its own gets
 * its genuine EINVAL after those retries.
 */
static long single_threaded(long nr, long a, long b)
{
	long before = pf_thread_count();
	bool paused = pf_sender_pause();
	long r;
	int i;

	for (i = 0; paused && before > 1 && i < 200 && pf_thread_count() >= before; i++)
		sleep_100us();
	for (i = 0;; i++) {
		r = syscall(nr, a, b);
		if (r == 0 || errno != EINVAL || !paused || i == 20)
			break;
		sleep_100us();
	}
	{
		int saved = errno;

		pf_sender_resume();
		errno = saved;
	}
	return r;
}

PF_EXPORT int unshare(int flags)
{
	if (!(flags & (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)))
		return (int)syscall(SYS_unshare, flags);
	return (int)single_threaded(SYS_unshare, flags, 0);
}

PF_EXPORT int setns(int fd, int nstype)
{
	/* Rare, and several types want a single-threaded caller: always solo. */
	return (int)single_threaded(SYS_setns, fd, nstype);
}

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* Defines name(args) that calls libc's name with the sender thread stopped. */
#define SOLO(name, params, args)                      \
	PF_EXPORT int name params                     \
	{                                             \
		static int(*real) params;             \
		int ret_, saved;                      \
		if (!real) {                          \
			void *f = next(#name);        \
			memcpy(&real, &f, sizeof(f)); \
		}                                     \
		if (!real) {                          \
			errno = ENOSYS;               \
			return -1;                    \
		}                                     \
		pf_sender_pause();                    \
		ret_ = real args;                     \
		saved = errno;                        \
		pf_sender_resume();                   \
		errno = saved;                        \
		return ret_;                          \
	}

SOLO(setuid, (uid_t u), (u))
SOLO(setgid, (gid_t g), (g))
SOLO(seteuid, (uid_t u), (u))
SOLO(setegid, (gid_t g), (g))
SOLO(setreuid, (uid_t ru, uid_t eu), (ru, eu))
SOLO(setregid, (gid_t rg, gid_t eg), (rg, eg))
SOLO(setresuid, (uid_t ru, uid_t eu, uid_t su), (ru, eu, su))
SOLO(setresgid, (gid_t rg, gid_t eg, gid_t sg), (rg, eg, sg))
SOLO(setgroups, (size_t n, const gid_t *list), (n, list))
SOLO(initgroups, (const char *user, gid_t group), (user, group))
