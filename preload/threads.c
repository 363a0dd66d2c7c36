// SPDX-License-Identifier: MIT
/*
 * pthread_create, exported so that each new thread gives its automatic
 * jemalloc arena our extent hooks before its start routine runs. jemalloc
 * creates automatic arenas only when threads need them; hooking them all at
 * start-up would create them all (hundreds of page faults per process).
 * The wrapper runs the thread through a small trampoline and otherwise
 * behaves exactly like libc's pthread_create (found with dlsym RTLD_NEXT).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pf_internal.h"

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static create_fn real_create;

struct start {
	void *(*fn)(void *);
	void *arg;
};

static create_fn resolve(void)
{
	void *f = dlsym(RTLD_NEXT, "pthread_create");
	create_fn c;

	memcpy(&c, &f, sizeof(f));
	return c;
}

void pf_threads_init(void)
{
	if (!real_create)
		real_create = resolve();
}

_Atomic bool pf_main_exited;

/*
 * The main thread may end with pthread_exit and leave the process to its
 * other threads; glibc exits the process when the last of them ends. Our
 * sender thread must then not be the one that keeps it alive: it notices
 * this flag and ends itself when it is the only thread left (sender.c).
 */
PF_EXPORT void pthread_exit(void *ret)
{
	static void (*real_exit)(void *);

	if (!real_exit) {
		void *f = dlsym(RTLD_NEXT, "pthread_exit");

		memcpy(&real_exit, &f, sizeof(f));
	}
	if (gettid() == getpid()) {
		atomic_store(&pf_main_exited, true);
		pf_ring_kick();
	}
	real_exit(ret);
	__builtin_unreachable();
}

static void *trampoline(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	pf_arenas_hook_thread();
	return s.fn(s.arg);
}

PF_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	create_fn c = real_create ? real_create : resolve();
	struct start *s;
	int err;

	if (!c)
		return EAGAIN;
	if (atomic_load_explicit(&pf_state, memory_order_relaxed) != PF_READY || pf_in_hook)
		return c(t, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return c(t, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	err = c(t, attr, trampoline, s);
	if (err)
		free(s);
	return err;
}
