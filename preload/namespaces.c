// SPDX-License-Identifier: MIT
/*
 * unshare and setns, exported because the kernel refuses some of them to a
 * multi-threaded process (entering a new user namespace: EINVAL), and the
 * shim's sender thread would make every process multi-threaded. Around such
 * a call the sender thread is stopped and then started again (the agent
 * connection stays open); everything else goes straight to the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pf_internal.h"

/* Threads of this process, from /proc/self/stat (field 20), or -1. */
static long threads(void)
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

/*
 * Runs a namespace system call with the sender thread stopped. pthread_join
 * returns a moment before the kernel has removed the thread from the thread
 * group, so an EINVAL is retried briefly while the thread count says so.
 */
static long single_threaded(long nr, long a, long b)
{
	bool paused = pf_sender_pause();
	long r;

	for (int i = 0;; i++) {
		r = syscall(nr, a, b);
		if (r == 0 || errno != EINVAL || !paused || i == 200 || threads() <= 1)
			break;
		{
			struct timespec ts = {0, 100000};

			nanosleep(&ts, NULL);
		}
		if (threads() > 1 && i > 20)
			break; /* the program has threads of its own */
	}
	if (paused) {
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
	/* 0 means "any type": the fd may be a user namespace. */
	if (nstype && nstype != CLONE_NEWUSER)
		return (int)syscall(SYS_setns, fd, nstype);
	return (int)single_threaded(SYS_setns, fd, nstype);
}
