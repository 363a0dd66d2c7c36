// SPDX-License-Identifier: MIT
/*
 * pageflexd: the PageFlex agent. Runs in the foreground; loads the eBPF
 * programs once, calibrates the direct map, listens for shims and for
 * pageflexctl, and runs one event loop: shim packets, process exits
 * (pidfds), control commands, and a 20 ms timer that drains the fault ring
 * buffer (the BPF side never wakes us) and runs the reclaim loop when due.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "actuator.h"
#include "agent.h"
#include "binding.h"
#include "check.h"
#include "leap_live.h"
#include "log.h"
#include "metrics.h"
#include "sd_notify.h"

#define TICK_MS 20
#define PREFETCH_TICK_MS \
	10 /* while regions have a prefetch policy (a safety net: their refaults wake us) */

struct pf_opts pf_opts = {
	.scan_capacity_pages = 16ull << 18, /* 16 GiB */
};

static int epfd = -1;
static volatile int exiting;
static uint64_t t0_ms;

uint64_t pf_ms_of_mono_ns(uint64_t ns)
{
	return ns / 1000000 - t0_ms;
}

uint64_t pf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return pf_ms_of_mono_ns((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

int pf_loop_add(struct pf_watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

int pf_loop_mod(struct pf_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	return epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

void pf_loop_del(struct pf_watch *w)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pageflexd [OPTIONS]\n"
		"\n"
		"The PageFlex agent: learns the regions of processes running under\n"
		"libpageflex.so, watches their paging with eBPF and pages out cold memory\n"
		"with process_madvise. Runs in the foreground; stop it with Ctrl-C or SIGTERM.\n"
		"Under systemd (pageflexd.service, Type=notify) it reports READY when its BPF\n"
		"programs are loaded and its sockets listen, and a STATUS line.\n"
		"\n"
		"  -s, --socket PATH        shim socket (default $PAGEFLEX_SOCKET or %s)\n"
		"      --control PATH       control socket for pageflexctl (default: control.sock\n"
		"                           next to the shim socket)\n"
		"  -c, --config FILE        YAML rules file (rules/example.yaml); reloaded on\n"
		"                           SIGHUP and `pageflexctl reload`\n"
		"  -a, --cold-age TAG=SEC   page out pages of regions tagged TAG (a glob) idle\n"
		"                           for SEC seconds; repeatable, first match wins\n"
		"  -p, --policy TAG=NAME    bind another reclaim policy to regions tagged TAG\n"
		"                           (command-line rules come before the rules file)\n"
		"  -R, --prefetch TAG=NAME  prefetch policy (readahead, leap) on refaults of TAG\n"
		"  -o, --objective KIND=V   page out, by age, the regions nothing else binds, as\n"
		"                           far as an objective of each process allows:\n"
		"                           promotion=PCT (refaults per minute <= PCT%% of its\n"
		"                           working set; 0.2 is Google's far-memory SLO),\n"
		"                           pressure=PCT (memory stall <= PCT%% of the time,\n"
		"                           /proc/pressure/memory), budget=SIZE|PCT%% (resident\n"
		"                           at most that), none. Default: " PF_DEFAULT_OBJECTIVE
		" when\n"
		"                           no rules file and no other rule is given, else none\n"
		"  -i, --scan-interval MS   scan period (default: the smallest cold age / 4, or 1 s)\n"
		"      --scan-capacity GIB  memory whose pages can be tracked (default 16)\n"
		"      --max-procs N        managed processes (default 64, at most 1024)\n"
		"      --pageout-threads N  threads sharing a large PAGEOUT batch (default 1; more\n"
		"                           helps on an idle machine, compression is per thread)\n"
		"      --count-first-touch  count every first-touch fault: keeps the fault\n"
		"                           program attached (by default it is attached only\n"
		"                           while a managed region may hold swapped pages, so\n"
		"                           faults cost nothing until the agent pages out)\n"
		"      --stream-first-touch also stream first-touch faults to the agent (implies\n"
		"                           --count-first-touch)\n"
		"      --disable LIST       turn features off (comma-separated; also\n"
		"                           $PAGEFLEXD_DISABLE): calibration, scanner,\n"
		"                           fault-classifier, major-faults, exec-tracking, leap\n"
		"      --metrics-listen ADDR:PORT\n"
		"                           serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"                           (e.g. 127.0.0.1:9477; unauthenticated: keep it on\n"
		"                           loopback); also `pageflexctl metrics`\n"
		"      --metrics-file PATH  write them to PATH every 10 s, atomically, for\n"
		"                           node_exporter's textfile collector (a .prom file)\n"
		"      --check              probe the kernel and this machine (BPF programs,\n"
		"                           features, process_madvise, swap, ...), print a\n"
		"                           table and exit: 0 if the default configuration works\n"
		"  -v, --verbose            more log (repeat for libbpf's)\n"
		"  -q, --quiet              errors and warnings only\n"
		"  -h, --help               this text\n"
		"\n"
		"Examples:\n"
		"  pageflexd --cold-age '*=120'\n"
		"  pageflexd --objective promotion=0.2\n"
		"  pageflexd -s /tmp/pf/agent.sock --cold-age cold=2 --cold-age 'db.*=30' -v\n",
		PFW_DEFAULT_SOCKET);
}

static bool check; /* --check */

/* The agent's own region state; leap_live.c subscribes after it (regions.h). */
static const struct pf_region_events region_events = {
	.on_new = pf_bpf_region_reset, /* zeroed BPF counters and flags */
	.on_bind = pf_agent_prefetch_bind, /* prefetch state, Leap on the fault path */
	.on_free = pf_record_region_end, /* the trace being recorded */
};

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"socket", required_argument, NULL, 's'},
		{"control", required_argument, NULL, 'C'},
		{"config", required_argument, NULL, 'c'},
		{"cold-age", required_argument, NULL, 'a'},
		{"policy", required_argument, NULL, 'p'},
		{"prefetch", required_argument, NULL, 'R'},
		{"objective", required_argument, NULL, 'o'},
		{"scan-interval", required_argument, NULL, 'i'},
		{"scan-capacity", required_argument, NULL, 'K'},
		{"max-procs", required_argument, NULL, 'P'},
		{"pageout-threads", required_argument, NULL, 'T'},
		{"stream-first-touch", no_argument, NULL, 'F'},
		{"count-first-touch", no_argument, NULL, 'N'},
		{"disable", required_argument, NULL, 'D'},
		{"check", no_argument, NULL, 'k'},
		{"metrics-file", required_argument, NULL, 'm'},
		{"metrics-listen", required_argument, NULL, 'M'},
		{"test-corrupt-calibration", no_argument, NULL, 'X'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	char err[512], *end;
	unsigned long long v;
	int c;

	pf_opts.socket = getenv("PAGEFLEX_SOCKET");
	if (getenv("PAGEFLEXD_DISABLE") && *getenv("PAGEFLEXD_DISABLE") &&
	    pf_bpf_disable(getenv("PAGEFLEXD_DISABLE"), err, sizeof(err))) {
		fprintf(stderr, "pageflexd: PAGEFLEXD_DISABLE: %s\n", err);
		return -1;
	}
	while ((c = getopt_long(argc, argv, "s:c:a:p:R:o:i:vqh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			pf_opts.socket = optarg;
			break;
		case 'C':
			pf_opts.control = optarg;
			break;
		case 'c':
			pf_opts.config = optarg;
			break;
		case 'o':
			if (pf_binding_parse_objective(optarg, err, sizeof(err))) {
				fprintf(stderr, "pageflexd: --objective: %s\n", err);
				return -1;
			}
			break;
		case 'a':
		case 'p':
		case 'R':
			if ((c == 'a' ? pf_binding_parse_cold_age :
			     c == 'p' ? pf_binding_parse_policy :
					pf_binding_parse_prefetch)(optarg, err, sizeof(err))) {
				fprintf(stderr, "pageflexd: %s\n", err);
				return -1;
			}
			break;
		case 'i':
		case 'K':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || !v || v > (c == 'i' ? 3600000ull : 1ull << 20)) {
				fprintf(stderr,
					"pageflexd: bad %s '%s': want a positive number%s\n",
					c == 'i' ? "--scan-interval" : "--scan-capacity", optarg,
					c == 'i' ? " of ms" : " of GiB");
				return -1;
			}
			if (c == 'i')
				pf_opts.scan_interval_ms = v;
			else
				pf_opts.scan_capacity_pages = v << 18;
			break;
		case 'F':
			pf_opts.stream_first_touch = true;
			break;
		case 'N':
			pf_opts.count_first_touch = true;
			break;
		case 'D':
			if (pf_bpf_disable(optarg, err, sizeof(err))) {
				fprintf(stderr, "pageflexd: --disable: %s\n", err);
				return -1;
			}
			break;
		case 'k':
			check = true;
			break;
		case 'm':
			pf_opts.metrics_file = optarg;
			break;
		case 'M':
			pf_opts.metrics_listen = optarg;
			break;
		case 'T':
			pf_act_threads = atoi(optarg);
			if (pf_act_threads < 1 || pf_act_threads > 8) {
				fprintf(stderr,
					"pageflexd: bad --pageout-threads '%s': want 1..8\n",
					optarg);
				return -1;
			}
			break;
		case 'X': /* undocumented: tests of the calibration's validation */
			pf_opts.corrupt_calibration = true;
			break;
		case 'v':
			pf_log_verbosity++;
			break;
		case 'q':
			pf_log_verbosity = PF_LOG_WARN;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'pageflexd --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pageflexd: unexpected argument '%s'; try 'pageflexd --help'\n",
			argv[optind]);
		return -1;
	}
	if (!pf_opts.socket || !*pf_opts.socket)
		pf_opts.socket = PFW_DEFAULT_SOCKET;
	if (pf_opts.config && pf_binding_load_rules(pf_opts.config, err, sizeof(err))) {
		fprintf(stderr, "pageflexd: %s\n", err);
		return -1;
	}
	pf_opts.default_objective = pf_binding_default_objective(pf_opts.config != NULL);
	return 0;
}

static void on_event(const struct pfa_event *ev, void *arg)
{
	struct pf_proc *p = pf_proc_find((pid_t)ev->tgid);

	(void)arg;
	if (!p)
		return;
	if (ev->kind == PFA_EV_EXEC) {
		/* Unless the new image has registered since (its HELLO came later). */
		if (p->registered_ns < ev->ts_ns)
			pf_proc_free(p, "it exec'd another program: its regions are gone");
		return;
	}
	if (ev->kind == PFA_EV_SWAP_FAULT)
		p->ev_swap_faults++;
	else if (ev->kind == PFA_EV_SWAPIN_MAJOR)
		p->ev_swapins++;
	pf_agent_prefetch_event(ev);
	pf_record_event(ev);
}

/* Fault events lost to a full ring buffer: counted in BPF, said here (once a second). */
static void report_drops(void)
{
	static uint64_t reported, last_ms;
	uint64_t now = pf_now_ms(), d = pf_bpf_rb_dropped();

	if (d == reported || now - last_ms < 1000)
		return;
	pf_warn("ring buffer full: %llu fault events dropped in the last %.1f s (%llu in all)",
		(unsigned long long)(d - reported), (now - last_ms) / 1e3, (unsigned long long)d);
	reported = d;
	last_ms = now;
}

static void timer_ready(struct pf_watch *w, uint32_t events)
{
	static long period_ms = TICK_MS;
	long want = pf_agent_prefetch_active() ? PREFETCH_TICK_MS : TICK_MS;
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pf_dbg("timerfd read: %s", strerror(errno));
	pf_bpf_poll();
	pf_agent_reclaim_tick();
	pf_record_tick();
	report_drops();
	pf_metrics_tick();
	pf_sd_tick();
	if (want != period_ms) {
		struct itimerspec its = {.it_interval = {0, want * 1000000},
					 .it_value = {0, want * 1000000}};

		timerfd_settime(w->fd, 0, &its, NULL);
		period_ms = want;
	}
}

static void events_ready(struct pf_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	pf_bpf_poll();
}

static void signal_ready(struct pf_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		char err[512], msg[96];
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
			 (unsigned long long)ts.tv_sec * 1000000ull +
				 (unsigned long long)ts.tv_nsec / 1000);
		pf_sd_notify(msg);
		if (pf_reload_rules(err, sizeof(err)))
			pf_warn("SIGHUP: rules not reloaded, the old ones stay: %s", err);
		pf_sd_ready();
		return;
	}
	pf_info("%s: shutting down", strsignal((int)si.ssi_signo));
	exiting = 1;
}

/* mkdir -p of the directory holding path. */
static void make_parent(const char *path)
{
	char buf[4096], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	p = strrchr(buf, '/');
	if (!p || p == buf)
		return;
	*p = 0;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

int main(int argc, char **argv)
{
	static char ctl[4096];
	struct itimerspec its = {.it_interval = {0, TICK_MS * 1000000},
				 .it_value = {0, TICK_MS * 1000000}};
	struct pf_watch sig_w, tim_w, ev_w;
	struct pf_bpf_opts bo = {0};
	sigset_t mask;
	int rc = 1, i;

	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t0_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (parse_args(argc, argv))
		return 2;
	if (check)
		return pf_check();
	if (geteuid() != 0) {
		fprintf(stderr,
			"pageflexd: needs root: it loads eBPF programs (CAP_BPF, "
			"CAP_PERFMON), reads page tables and advises other processes' memory "
			"(process_madvise, CAP_SYS_NICE); run it as root\n");
		return 1;
	}
	if (!pf_opts.control) {
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s", pf_opts.socket);
		snprintf(ctl, sizeof(ctl), "%s/control.sock", dirname(tmp));
		pf_opts.control = ctl;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (pf_regions_init(pf_opts.scan_capacity_pages)) {
		pf_err("out of memory");
		return 1;
	}
	pf_region_events_subscribe(&region_events);
	bo.capacity_pages = pf_opts.scan_capacity_pages;
	bo.max_procs = pf_opts.max_procs;
	bo.stream_first_touch = pf_opts.stream_first_touch;
	bo.fault_on_demand = !pf_opts.count_first_touch && !pf_opts.stream_first_touch;
	bo.corrupt_calibration = pf_opts.corrupt_calibration;
	bo.on_event = on_event;
	if (pf_bpf_open(&bo))
		return 1;
	pf_leap_live_open(); /* Leap on the fault path; user-space Leap if it fails */
	if (!pf_swap_devices(NULL, NULL))
		pf_warn("no swap device (/proc/swaps is empty): paged-out anonymous memory has "
			"nowhere to go; scripts/swap-setup.sh sets up zram");
	if (!pf_bpf_scan_ok() && pf_binding_cli_count() + pf_binding_rules_count())
		pf_warn("rules that bind cold-age, lru, lfu or hyperbolic page out nothing: no "
			"scans (%s); the kernel policy and prefetch still work",
			pf_bpf_scan_error());
	make_parent(pf_opts.socket);
	make_parent(pf_opts.control);
	if (pf_shim_listen(pf_opts.socket) || pf_control_listen(pf_opts.control))
		goto out;
	if (pf_opts.metrics_file || pf_opts.metrics_listen) {
		char err[512];

		if ((pf_opts.metrics_listen &&
		     pf_metrics_listen(pf_opts.metrics_listen, err, sizeof(err))) ||
		    (pf_opts.metrics_file &&
		     pf_metrics_file_open(pf_opts.metrics_file, err, sizeof(err)))) {
			pf_err("%s", err);
			goto out;
		}
	}
	sig_w = (struct pf_watch){.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK),
				  .ready = signal_ready};
	tim_w = (struct pf_watch){.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
				  .ready = timer_ready};
	timerfd_settime(tim_w.fd, 0, &its, NULL);
	pf_loop_add(&sig_w);
	pf_loop_add(&tim_w);
	/* Woken only by refaults of regions with a prefetch policy. */
	ev_w = (struct pf_watch){.fd = pf_bpf_events_fd(), .ready = events_ready};
	if (ev_w.fd >= 0)
		pf_loop_add(&ev_w);
	pf_info("listening on %s (control %s); %zu command-line rules, %zu rules from %s",
		pf_opts.socket, pf_opts.control, pf_binding_cli_count(), pf_binding_rules_count(),
		pf_opts.config ? pf_opts.config : "no rules file");
	if (pf_opts.default_objective)
		pf_info("no rules given: default objective %s (refaults per minute <= 0.2%% of "
			"each process's working set; --objective none: kernel only)",
			pf_opts.default_objective);
	for (i = 0; i < (int)pf_binding_cli_count(); i++) {
		char buf[160];

		pf_info("rule %d: %s", i + 1, pf_binding_cli_describe((size_t)i, buf, sizeof(buf)));
	}
	pf_sd_ready();
	while (!exiting) {
		struct epoll_event ev;
		int n = epoll_wait(epfd, &ev, 1, 1000);

		if (n < 0 && errno != EINTR) {
			pf_err("epoll_wait: %s", strerror(errno));
			goto out;
		}
		if (n == 1) {
			struct pf_watch *w = ev.data.ptr;

			w->ready(w, ev.events);
		}
	}
	rc = 0;
out:
	pf_sd_notify("STOPPING=1");
	pf_metrics_close();
	pf_record_stop("agent stopping");
	while (pf_proc_count())
		pf_proc_free(pf_proc_at(0), "agent stopping");
	pf_shim_close();
	pf_control_close();
	pf_leap_live_close();
	pf_bpf_close();
	pf_info("stopped");
	return rc;
}
