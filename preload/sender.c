// SPDX-License-Identifier: MIT
/*
 * The sender thread: drains the event ring, keeps the region table, encodes
 * the wire protocol (common/pageflex_wire.h) and talks to the agent over a
 * non-blocking SOCK_SEQPACKET socket. Application threads never wait for
 * it: when the agent is absent, slow or gone, events only update the table,
 * and the table is replayed (HELLO with PFW_HELLO_REPLAY) on the next
 * successful connect. Batching: after a busy cycle the thread sleeps 20 ms
 * (or until the ring is half full) before the next one, and takes only
 * events from before its previous cycle, so short-lived regions can be
 * withdrawn (withdraw.c) and events travel in few, full packets; phases and
 * flushes wake it at once. Each wake-up costs: in a paravirtual guest ~25 us
 * of CPU, and while this thread's CPU holds the process's address space,
 * munmap() in the program sends it TLB-shootdown interrupts.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pf_internal.h"

#define BATCH_MS 20
#define RETRY_MS 200
#define SEND_WAIT_MS 100
#define FD_FLOOR 200 /* keep our socket out of the way of the program's fds */

_Atomic uint64_t pf_phase_seq;

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static _Atomic bool running;
static _Atomic bool stop_req; /* the thread returns at its next cycle */

static int sock = -1;
static dev_t sock_dev;
static ino_t sock_ino;
static _Atomic bool connected;
static _Atomic bool attempted; /* the first connection attempt was made */
static bool resync;
static uint32_t pkt_seq;
static uint64_t dropped_total; /* events lost while nobody was told */
static uint64_t last_resync_ms;

static _Alignas(8) unsigned char pkt[PFW_MAX_PACKET];
static struct pfw_buf buf;
static size_t last_map_at = SIZE_MAX; /* offset of the last MAP record, for peephole */
static uint64_t last_map_start, last_map_len;

static char phase_name[PF_TAG_MAX];
static size_t phase_len;
static uint64_t phase_seq;

static _Atomic uint64_t flush_done; /* ring position sent (or dropped) */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void disconnect(const char *why)
{
	if (sock >= 0) {
		pfs_debug("agent connection closed: %s", why);
		close(sock);
	}
	sock = -1;
	atomic_store(&connected, false);
	pfw_buf_init(&buf, pkt, sizeof(pkt), 0);
	last_map_at = SIZE_MAX;
}

/* True if our fd still is our socket (a program may close or reuse fds). */
static bool sock_is_ours(void)
{
	struct stat st;

	return fstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == sock_dev &&
	       st.st_ino == sock_ino;
}

static void send_packet(void)
{
	size_t len;
	ssize_t n;

	if (!buf.nrec || sock < 0)
		goto reset;
	((struct pfw_packet *)pkt)->seq = pkt_seq;
	len = pfw_buf_finish(&buf);
	if (!sock_is_ours()) {
		sock = -1; /* not ours to close any more */
		disconnect("socket fd was closed or reused by the program");
		resync = true;
		goto reset;
	}
	n = send(sock, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		struct pollfd p = {.fd = sock, .events = POLLOUT};

		if (poll(&p, 1, SEND_WAIT_MS) == 1)
			n = send(sock, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (n != (ssize_t)len) {
		/* The agent is gone or too slow: start over with a replay later. */
		disconnect(n < 0 ? strerror(errno) : "short send");
		return;
	}
	pkt_seq++;
reset:
	pfw_buf_init(&buf, pkt, sizeof(pkt), 0);
	last_map_at = SIZE_MAX;
}

/* Encoders: on a full packet, send it and retry once in a fresh one. */
#define PUT(call)                                    \
	do {                                         \
		if (!atomic_load(&connected))        \
			break;                       \
		if ((call) == -ENOSPC) {             \
			send_packet();               \
			if (atomic_load(&connected)) \
				(void)(call);        \
		}                                    \
	} while (0)

static void put_region(const struct pf_region *r)
{
	size_t tl, ml, pl;
	const char *tag = pf_table_str(r->tag, &tl);
	const char *mod = pf_table_str(r->module, &ml);
	const char *path = pf_table_str(r->path, &pl);

	PUT(pfw_put_region_map(&buf, r->start, r->end - r->start, r->kind, r->prot, tag, tl, mod,
			       ml, r->off, path, pl));
}

static void put_region_cb(const struct pf_region *r, void *arg)
{
	(void)arg;
	put_region(r);
}

static void put_range_cb(uint64_t s, uint64_t e, void *arg)
{
	PUT(pfw_put_range(&buf, (enum pfw_type)(uintptr_t)arg, s, e - s));
}

static void apply_map(const struct pf_msg *m)
{
	const struct pf_event *ev = &m->ev;
	size_t rl =
		(sizeof(struct pfw_region_map) + ev->tag_len + ev->module_len + ev->path_len + 7) &
		~(size_t)7;
	size_t before = buf.len;

	pf_table_map(m);
	last_map_at = SIZE_MAX;
	if (!atomic_load(&connected))
		return;
	PUT(pfw_put_region_map(&buf, ev->start, ev->len, ev->kind, ev->prot, m->tag, ev->tag_len,
			       m->module, ev->module_len, ev->off, m->path, ev->path_len));
	if (buf.len != before && buf.len >= rl + sizeof(struct pfw_packet)) {
		last_map_at = buf.len - rl;
		last_map_start = ev->start;
		last_map_len = ev->len;
	}
}

static void apply_unmap(uint64_t start, uint64_t len)
{
	if (!pf_table_overlaps(start, start + len, NULL, NULL))
		return;
	pf_table_unmap(start, start + len);
	if (!atomic_load(&connected))
		return;
	/* A region that lived and died inside one packet never reaches the agent. */
	if (last_map_at != SIZE_MAX && last_map_start == start && last_map_len == len &&
	    buf.nrec > 0 && last_map_at + ((struct pfw_rec *)(pkt + last_map_at))->len == buf.len) {
		buf.len = last_map_at;
		buf.nrec--;
		last_map_at = SIZE_MAX;
		return;
	}
	last_map_at = SIZE_MAX;
	PUT(pfw_put_range(&buf, PFW_REGION_UNMAP, start, len));
}

static void log_event(const struct pf_msg *m)
{
	const struct pf_event *ev = &m->ev;

	switch (ev->type) {
	case PF_EV_MAP:
		pfs_log(PFS_LOG_DEBUG, "map 0x%lx +%lu %s tag=%s site=%s+0x%lx%s%s",
			(unsigned long)ev->start, (unsigned long)ev->len, pfw_kind_name(ev->kind),
			m->tag, m->module, (unsigned long)ev->off, ev->path_len ? " path=" : "",
			m->path);
		break;
	case PF_EV_UNMAP:
	case PF_EV_DISCARD:
		if (pf_table_overlaps(ev->start, ev->start + ev->len, NULL, NULL))
			pfs_log(PFS_LOG_DEBUG, "%s 0x%lx +%lu",
				ev->type == PF_EV_UNMAP ? "unmap" : "discard",
				(unsigned long)ev->start, (unsigned long)ev->len);
		break;
	case PF_EV_REMAP:
		pfs_log(PFS_LOG_DEBUG, "remap 0x%lx +%lu -> 0x%lx +%lu", (unsigned long)ev->start,
			(unsigned long)ev->len, (unsigned long)ev->start2, (unsigned long)ev->len2);
		break;
	case PF_EV_RETAG:
		pfs_log(PFS_LOG_DEBUG, "arena %u retagged %s", ev->arena, m->tag);
		break;
	default:
		break;
	}
}

static void apply(const struct pf_msg *msg)
{
	const struct pf_event *ev = &msg->ev;

	if (unlikely(pf_cfg.log >= PFS_LOG_DEBUG))
		log_event(msg);
	switch (ev->type) {
	case PF_EV_MAP:
		apply_map(msg);
		break;
	case PF_EV_UNMAP:
		apply_unmap(ev->start, ev->len);
		break;
	case PF_EV_DISCARD:
		last_map_at = SIZE_MAX;
		pf_table_overlaps(ev->start, ev->start + ev->len,
				  atomic_load(&connected) ? put_range_cb : NULL,
				  (void *)(uintptr_t)PFW_REGION_DISCARD);
		break;
	case PF_EV_REMAP: {
		const struct pf_region *r = pf_table_find(ev->start);
		struct pf_msg m;
		const char *tag = msg->tag, *mod = msg->module, *path = "";
		size_t l;

		if (!r && ev->len2 < pf_cfg.min_region)
			break;
		memset(&m.ev, 0, sizeof(m.ev));
		m.ev.type = PF_EV_MAP;
		m.ev.start = ev->start2;
		m.ev.len = ev->len2;
		m.ev.arena = PF_NO_ARENA;
		m.ev.kind = ev->kind;
		m.ev.prot = ev->prot;
		m.ev.off = ev->off;
		if (r) {
			m.ev.kind = r->kind;
			m.ev.prot = r->prot;
			m.ev.off = r->off;
			tag = pf_table_str(r->tag, &l);
			mod = pf_table_str(r->module, &l);
			path = pf_table_str(r->path, &l);
		}
		m.ev.tag_len = pf_strlcpy(m.tag, tag, sizeof(m.tag));
		m.ev.module_len = pf_strlcpy(m.module, mod, sizeof(m.module));
		m.ev.path_len = pf_strlcpy(m.path, path, sizeof(m.path));
		if (ev->len) /* old_size 0 duplicates a shared mapping: the old one stays */
			apply_unmap(ev->start, ev->len);
		apply_map(&m);
		break;
	}
	case PF_EV_PHASE:
		phase_len = pf_strlcpy(phase_name, msg->tag, sizeof(phase_name));
		phase_seq = ev->off;
		last_map_at = SIZE_MAX;
		PUT(pfw_put_phase(&buf, phase_seq, phase_name, phase_len));
		break;
	case PF_EV_RETAG:
		last_map_at = SIZE_MAX;
		pf_table_retag(ev->arena, msg, put_region_cb, NULL);
		break;
	default:
		break;
	}
}

static void replay(void)
{
	size_t n = pf_table_count();
	uint32_t flags = n || phase_seq ? PFW_HELLO_REPLAY : 0;
	const char *exe = pf_exe_path();

	PUT(pfw_put_hello(&buf, (uint32_t)getpid(), (uint32_t)getppid(), flags, exe, strlen(exe)));
	for (size_t i = 0; i < n; i++)
		put_region(pf_table_at(i));
	if (phase_seq)
		PUT(pfw_put_phase(&buf, phase_seq, phase_name, phase_len));
	if (dropped_total)
		PUT(pfw_put_dropped(&buf, dropped_total));
	dropped_total = 0;
	pfs_debug("connected to %s: replayed %zu regions", pf_cfg.socket, n);
}

static bool try_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, hi;

	memcpy(sa.sun_path, pf_cfg.socket, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return false;
	}
	hi = fcntl(fd, F_DUPFD_CLOEXEC, FD_FLOOR);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	sock = fd;
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	pkt_seq = 0;
	resync = false; /* the replay below covers everything lost so far */
	pfw_buf_init(&buf, pkt, sizeof(pkt), 0);
	last_map_at = SIZE_MAX;
	atomic_store(&connected, true);
	replay();
	return true;
}

/*
 * One cycle: apply what was published before the previous cycle (younger
 * events may still be withdrawn by their producer, see ring.c), then send.
 * Returns events applied.
 */
static unsigned cycle(uint64_t *next_try)
{
	static uint64_t young_from;
	uint64_t limit = young_from, lost;
	struct pf_event *ev;
	struct pf_msg msg;
	unsigned n = 0;

	young_from = pf_ring_head();
	pthread_mutex_lock(&table_mu);
	/* Bounded, so a steady stream cannot keep a fork() waiting for the table. */
	while (n < 4096 && (ev = pf_ring_peek(limit))) {
		pf_ring_read(ev, &msg);
		pf_ring_release();
		apply(&msg);
		n++;
	}
	lost = pf_ring_take_dropped();
	if (lost) {
		/* The agent missed events: a replay from the table repairs that. */
		dropped_total += lost;
		pfs_debug("%lu events lost (ring full)", (unsigned long)lost);
		if (atomic_load(&connected))
			resync = true;
	}
	lost = pf_table_take_lost();
	if (lost) {
		/* Sent live, but not kept for replay: a replay cannot repair that. */
		dropped_total += lost;
		pfs_debug("%lu regions not kept (table full)", (unsigned long)lost);
	}
	/* At most one resynchronisation a second: a replay costs the agent too. */
	if (atomic_load(&connected) && resync && now_ms() - last_resync_ms >= 1000) {
		last_resync_ms = now_ms();
		disconnect("resynchronising after lost events");
	}
	if (atomic_load(&connected) && !n) {
		/* Idle: notice an agent that went away, to reconnect and replay. */
		struct pollfd p = {.fd = sock, .events = 0};

		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
			disconnect("agent hung up");
	}
	if (!atomic_load(&connected) && now_ms() >= *next_try) {
		if (!try_connect())
			*next_try = now_ms() + RETRY_MS;
		atomic_store(&attempted, true);
	}
	if (atomic_load(&connected))
		send_packet();
	pthread_mutex_unlock(&table_mu);
	return n;
}

static void *sender_main(void *arg)
{
	uint64_t next_try = now_ms() + RETRY_MS;

	(void)arg;
	pf_in_hook = 1; /* this thread's own allocations are not the program's */
	while (!atomic_load(&stop_req)) {
		unsigned n = cycle(&next_try);
		uint64_t head = pf_ring_tail();

		atomic_store(&flush_done, head);
		syscall(SYS_futex, &flush_done, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
		/*
		 * The main thread has pthread_exit'ed and only its zombie and
		 * we are left: return, so that glibc ends the process (exit(0)
		 * by the last thread) instead of us keeping it alive.
		 */
		if (atomic_load(&pf_main_exited) && pf_thread_count() <= 2)
			break;
		if (n || !pf_ring_empty())
			pf_ring_wait(1, BATCH_MS);
		else if (!atomic_load(&stop_req))
			pf_ring_wait(2, atomic_load(&connected) ? 1000 : RETRY_MS);
	}
	return NULL;
}

static int start_thread(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int err;

	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 << 10);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pf_in_hook++; /* no arena hooking for our own thread (threads.c) */
	err = pthread_create(&thread, &attr, sender_main, NULL);
	pf_in_hook--;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		return -err;
	pthread_setname_np(thread, "pageflex");
	atomic_store(&running, true);
	return 0;
}

/* Serialises pause/resume between threads; recursive for nested calls. */
static pthread_mutex_t pause_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static unsigned pause_depth;
static bool paused_thread;

bool pf_sender_pause(void)
{
	pthread_mutex_lock(&pause_mu);
	if (pause_depth++)
		return paused_thread;
	paused_thread = atomic_load(&running);
	if (paused_thread) {
		atomic_store(&stop_req, true);
		pf_ring_kick();
		pthread_join(thread, NULL);
		atomic_store(&running, false);
		atomic_store(&stop_req, false);
	}
	return paused_thread;
}

void pf_sender_resume(void)
{
	if (!--pause_depth && paused_thread && start_thread() < 0)
		pfs_debug("cannot restart the sender thread");
	pthread_mutex_unlock(&pause_mu);
}

int pf_sender_start(void)
{
	/*
	 * First attempt right here, before main(): with an agent listening,
	 * everything the program does from now on reaches it as it happens.
	 */
	pthread_mutex_lock(&table_mu);
	/* Registered at once, even if the process _exit()s before the thread runs. */
	if (try_connect())
		send_packet();
	atomic_store(&attempted, true);
	pthread_mutex_unlock(&table_mu);
	return start_thread();
}

void pf_sender_flush(long timeout_ms)
{
	uint64_t target = pf_ring_head(), deadline;

	/*
	 * Nothing to wait for without an agent (unless the first try is
	 * pending, or debug logging wants the last events printed).
	 */
	bool quiet = pf_cfg.log < PFS_LOG_DEBUG;

	if (!atomic_load(&running) ||
	    (quiet && !atomic_load(&connected) && atomic_load(&attempted)))
		return;
	deadline = now_ms() + (uint64_t)timeout_ms;
	pf_ring_hurry(target);
	for (;;) {
		uint64_t done = atomic_load(&flush_done);
		struct timespec ts = {0, 5000000};

		if (now_ms() >= deadline ||
		    (quiet && !atomic_load(&connected) && atomic_load(&attempted)))
			break;
		if ((int64_t)(done - target) >= 0 && atomic_load(&attempted))
			break;
		pf_ring_kick();
		/* flush_done is 64-bit; wait on its low word. */
		syscall(SYS_futex, (uint32_t *)&flush_done, FUTEX_WAIT_PRIVATE, (uint32_t)done, &ts,
			NULL, 0);
	}
}

void pf_sender_atfork_prepare(void)
{
	pthread_mutex_lock(&table_mu);
}

void pf_sender_atfork_parent(void)
{
	pthread_mutex_unlock(&table_mu);
}

void pf_sender_atfork_child(void)
{
	pthread_mutexattr_t ma;
	struct pf_event *ev;
	struct pf_msg msg;

	pthread_mutex_init(&table_mu, NULL);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&pause_mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pause_depth = 0;
	/* The parent's socket: not ours to use (nor to shut down). */
	if (sock >= 0)
		close(sock);
	sock = -1;
	atomic_store(&connected, false);
	pfw_buf_init(&buf, pkt, sizeof(pkt), 0);
	last_map_at = SIZE_MAX;
	/* Take in what the parent had published; the rest died with its threads. */
	while ((ev = pf_ring_peek_nowait())) {
		pf_ring_read(ev, &msg);
		pf_ring_release();
		apply(&msg);
	}
	pf_ring_reset_child();
	atomic_store(&running, false);
	atomic_store(&attempted, false);
	atomic_store(&flush_done, pf_ring_tail());
	if (pf_sender_start() < 0)
		pfs_debug("child: cannot start the sender thread");
}
