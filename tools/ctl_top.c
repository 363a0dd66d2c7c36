// SPDX-License-Identifier: MIT
/*
 * `pageflexctl top [--interval SECS] [--iterations N]`: polls the agent's
 * `stats --json` every interval and draws one frame per poll: a header (the
 * agent's uptime, CPU in % of one core over the last interval, processes,
 * regions, memory paged out, scan time) and a row per process and per
 * region (resident and swapped MiB, refaults per second over the last
 * interval, reclaim/prefetch policy, threshold or objective). Rates are
 * deltas between two polls on the agent's own clock (uptime_ms), so the
 * first frame shows "-" for them. On a terminal each frame replaces the
 * last (ANSI clear, cursor hidden and restored on Ctrl-C); otherwise frames
 * follow each other separated by a blank line, for pipes and tests.
 */
#include "ctl_top.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_query.h"
#include "json.h"

#define MIB (1024.0 * 1024.0)

void ctl_top_usage(FILE *f)
{
	fprintf(f, "  top [--interval SECS] [--iterations N]\n"
		   "                         a live view, refreshed every SECS (default 2): the\n"
		   "                         agent's uptime, CPU (%% of a core), paged out, scan\n"
		   "                         time; per process and region: resident and swapped\n"
		   "                         MiB, refaults/s over the last interval, policy,\n"
		   "                         threshold or objective. Exits after N frames; on a\n"
		   "                         terminal it redraws the screen (Ctrl-C ends it),\n"
		   "                         otherwise frames are separated by a blank line\n");
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* A region's refault count at the previous poll, to compute rates. */
struct prev_count {
	long long pid, id;
	double refaults; /* < 0: unknown */
};

struct top_state {
	struct prev_count *prev;
	size_t nprev;
	double prev_uptime_ms, prev_cpu_ms;
	bool have_prev;
};

/* A region (or a process total) as one row. */
struct row {
	const struct pj_value *r; /* the region's JSON (NULL: a process row) */
	double resident, swapped, size, rate; /* rate < 0: unknown, NAN: no previous poll */
};

static int cmp_prev(const void *a, const void *b)
{
	const struct prev_count *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double dx = x->resident + x->swapped, dy = y->resident + y->swapped;

	return dx < dy ? 1 : dx > dy ? -1 : 0;
}

/* Copies s into out (w + 1 bytes), printable ASCII only, cut to w; "-" if empty. */
static const char *clean(const char *s, char *out, size_t w)
{
	size_t i;

	for (i = 0; s && s[i] && i < w; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = 0;
	return i ? out : "-";
}

static void fmt_uptime(double ms, char *out, size_t len)
{
	unsigned long long s = (unsigned long long)(ms / 1000);

	if (s >= 3600)
		snprintf(out, len, "%lluh%02llum%02llus", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(out, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(out, len, "%.1fs", ms / 1000);
}

static void fmt_rate(double rate, char *out, size_t len)
{
	if (isnan(rate))
		snprintf(out, len, "-");
	else if (rate < 0)
		snprintf(out, len, "?");
	else
		snprintf(out, len, "%.1f", rate);
}

/* The region's threshold: what makes its pages cold. */
static void fmt_threshold(const struct pj_value *r, char *out, size_t len)
{
	const char *mode = pj_str(pj_get(r, "threshold"), "none");
	double age = pj_num(pj_get(r, "cold_age_ms"), 0) / 1000;

	if (!strcmp(mode, "none"))
		snprintf(out, len, "-");
	else if (!strcmp(mode, "cold-age"))
		snprintf(out, len, "cold age %.3g s", age);
	else if (!strcmp(mode, "budget"))
		snprintf(out, len, "budget %.1f MiB",
			 pj_num(pj_get(r, "budget_pages"), 0) * 4096 / MIB);
	else if (!strcmp(mode, "promotion"))
		snprintf(out, len, "promotion %.0f ppm", pj_num(pj_get(r, "promotion_ppm"), 0));
	else if (!strcmp(mode, "objective"))
		snprintf(out, len, "objective, age %.3g s", age);
	else
		snprintf(out, len, "%.40s", mode);
}

/* A process's objectives, "; "-separated; "" when it has none. */
static void fmt_objectives(const struct pj_value *p, char *out, size_t len)
{
	const struct pj_value *objs = pj_get(p, "objectives");
	size_t i, off = 0;

	out[0] = 0;
	for (i = 0; i < pj_len(objs) && off + 1 < len; i++) {
		const struct pj_value *o = pj_at(objs, i);
		const char *kind = pj_str(pj_get(o, "kind"), "");
		double v = pj_num(pj_get(o, "value"), 0);
		char now[48], d[48];
		int n;

		if (!strcmp(kind, "budget"))
			snprintf(now, sizeof(now), "%.0f MiB resident", v * 4096 / MIB);
		else if (!strcmp(kind, "pressure"))
			snprintf(now, sizeof(now), "%.3f%% stall", v / 1e4);
		else
			snprintf(now, sizeof(now), "%.3f%%/min", v / 1e4);
		n = snprintf(out + off, len - off, "%s%s: now %s, age %.1f s%s", i ? "; " : "",
			     clean(pj_str(pj_get(o, "objective"), ""), d, 40), now,
			     pj_num(pj_get(o, "age_ms"), 0) / 1000,
			     pj_get(o, "unreachable") && pj_get(o, "unreachable")->b ?
				     " UNREACHABLE" :
				     "");
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static double refaults_of(const struct pj_value *r)
{
	const struct pj_value *v = pj_get(r, "refaults");

	return v && v->type == PJ_NUMBER ? v->num : -1;
}

static double prev_refaults(const struct top_state *st, long long pid, long long id)
{
	struct prev_count key = {.pid = pid, .id = id}, *hit;

	if (!st->have_prev || !st->nprev)
		return NAN;
	hit = bsearch(&key, st->prev, st->nprev, sizeof(key), cmp_prev);
	return hit ? hit->refaults : NAN;
}

/* Terminal rows, or 0 when not a terminal (no limit). */
static int screen_rows(bool tty)
{
	struct winsize ws;

	if (!tty || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_row)
		return 0;
	return ws.ws_row;
}

#define ROW_FMT "%9s  %-24s %-8s %10s %10s %10s %11s  %-16s %s\n"

/* Draws one frame from the parsed stats; updates st for the next one. */
static void draw(const struct pj_value *j, struct top_state *st, double interval, bool tty)
{
	const struct pj_value *a = pj_get(j, "agent"), *procs = pj_get(j, "processes");
	double up = pj_num(pj_get(a, "uptime_ms"), 0);
	double cpu = pj_num(pj_get(a, "cpu_user_ms"), 0) + pj_num(pj_get(a, "cpu_sys_ms"), 0);
	double scans = pj_num(pj_get(a, "scans"), 0), scan_ms = pj_num(pj_get(a, "scan_ms"), 0);
	double dt_s = st->have_prev ? (up - st->prev_uptime_ms) / 1000 : 0;
	struct prev_count *next = NULL;
	size_t nnext = 0, cap = 0, i, k;
	int lines = 0, max_lines = screen_rows(tty);
	char upt[32], cpus[64];

	fmt_uptime(up, upt, sizeof(upt));
	if (st->have_prev && dt_s > 0)
		snprintf(cpus, sizeof(cpus), "%.1f%% of a core (last %.1f s)",
			 100 * (cpu - st->prev_cpu_ms) / (up - st->prev_uptime_ms), dt_s);
	else
		snprintf(cpus, sizeof(cpus), "%.1f%% of a core (since start)",
			 up > 0 ? 100 * cpu / up : 0);
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("pageflexd pid %.0f, up %s, cpu %s, refresh %g s\n", pj_num(pj_get(a, "pid"), 0),
	       upt, cpus, interval);
	printf("%.0f processes, %.0f regions, paged out %.1f MiB, scans %.0f (%.2f ms each, "
	       "every %.0f ms)%s\n\n",
	       pj_num(pj_get(a, "processes"), (double)pj_len(procs)),
	       pj_num(pj_get(a, "regions"), 0), pj_num(pj_get(a, "pages_out"), 0) * 4096 / MIB,
	       scans, scans > 0 ? scan_ms / scans : 0, pj_num(pj_get(a, "scan_interval_ms"), 0),
	       pj_get(a, "scanning") && !pj_get(a, "scanning")->b ? ", scanning OFF" : "");
	printf(ROW_FMT, "PID/ID", "PROCESS / REGION TAG", "KIND", "SIZE MiB", "RESID MiB",
	       "SWAP MiB", "REFAULTS/s", "POLICY", "THRESHOLD / OBJECTIVE");
	lines = 4;
	for (i = 0; i < pj_len(procs); i++) {
		const struct pj_value *p = pj_at(procs, i), *regs = pj_get(p, "regions");
		long long pid = (long long)pj_num(pj_get(p, "pid"), 0);
		size_t nr = pj_len(regs);
		struct row *rows = calloc(nr ? nr : 1, sizeof(*rows)), tot = {0};
		bool any_known = false, any_prev = false;
		char exe[64], phase[48], sz[3][24], rate[24], obj[512], name[80];
		const char *base = pj_str(pj_get(p, "exe"), "");

		if (!rows)
			break;
		for (k = 0; k < nr; k++) {
			const struct pj_value *r = pj_at(regs, k);
			long long id = (long long)pj_num(pj_get(r, "id"), -1);
			double now = refaults_of(r), before = prev_refaults(st, pid, id);

			rows[k].r = r;
			rows[k].size = pj_num(pj_get(r, "size"), 0) / MIB;
			rows[k].resident = pj_num(pj_get(r, "resident"), 0) / MIB;
			rows[k].swapped = pj_num(pj_get(r, "swapped"), 0) / MIB;
			if (now < 0)
				rows[k].rate = -1;
			else if (isnan(before) || before < 0 || dt_s <= 0)
				rows[k].rate = NAN;
			else
				rows[k].rate = now >= before ? (now - before) / dt_s : 0;
			tot.size += rows[k].size;
			tot.resident += rows[k].resident;
			tot.swapped += rows[k].swapped;
			if (rows[k].rate >= 0) {
				tot.rate += rows[k].rate;
				any_prev = true;
			}
			if (now >= 0)
				any_known = true;
			if (nnext == cap) {
				struct prev_count *nn;

				cap = cap ? cap * 2 : 64;
				nn = realloc(next, cap * sizeof(*nn));
				if (!nn) {
					cap = nnext;
					continue;
				}
				next = nn;
			}
			next[nnext++] = (struct prev_count){pid, id, now};
		}
		if (!any_known)
			tot.rate = -1;
		else if (!any_prev)
			tot.rate = NAN;
		qsort(rows, nr, sizeof(*rows), cmp_row);
		if (strrchr(base, '/'))
			base = strrchr(base, '/') + 1;
		fmt_objectives(p, obj, sizeof(obj));
		snprintf(name, sizeof(name), "%s [%s]", clean(base, exe, 16),
			 clean(pj_str(pj_get(p, "phase"), ""), phase, 16));
		snprintf(sz[0], sizeof(sz[0]), "%.1f", tot.size);
		snprintf(sz[1], sizeof(sz[1]), "%.1f", tot.resident);
		snprintf(sz[2], sizeof(sz[2]), "%.1f", tot.swapped);
		fmt_rate(tot.rate, rate, sizeof(rate));
		if (!max_lines || lines < max_lines - 1) {
			char pids[24];

			snprintf(pids, sizeof(pids), "%lld", pid);
			printf(ROW_FMT, pids, name, "process", sz[0], sz[1], sz[2], rate, "",
			       obj[0] ? obj : "-");
		}
		lines++; /* a row not shown on a full screen counts for the "more" line */
		for (k = 0; k < nr; k++) {
			const struct pj_value *r = rows[k].r;
			char id[24], tag[40], pol[48], thr[64], a1[24], a2[24];

			if (max_lines && lines >= max_lines - 1) {
				lines++;
				continue;
			}
			snprintf(id, sizeof(id), "%.0f", pj_num(pj_get(r, "id"), -1));
			snprintf(name, sizeof(name), "  %s",
				 clean(pj_str(pj_get(r, "tag"), ""), tag, 22));
			snprintf(sz[0], sizeof(sz[0]), "%.1f", rows[k].size);
			snprintf(sz[1], sizeof(sz[1]), "%.1f", rows[k].resident);
			snprintf(sz[2], sizeof(sz[2]), "%.1f", rows[k].swapped);
			fmt_rate(rows[k].rate, rate, sizeof(rate));
			snprintf(pol, sizeof(pol), "%s/%s",
				 clean(pj_str(pj_get(r, "policy"), "none"), a1, 12),
				 clean(pj_str(pj_get(r, "prefetch"), "none"), a2, 12));
			fmt_threshold(r, thr, sizeof(thr));
			printf(ROW_FMT, id, name, clean(pj_str(pj_get(r, "kind"), ""), a1, 8),
			       sz[0], sz[1], sz[2], rate, pol, thr);
			lines++;
		}
		free(rows);
	}
	if (max_lines && lines >= max_lines)
		printf("... %d more rows (a larger terminal, or pipe the output)\n",
		       lines - max_lines + 1);
	if (!pj_len(procs))
		printf("%9s  (no managed processes: start one under LD_PRELOAD=libpageflex.so)\n",
		       "");
	fflush(stdout);
	qsort(next, nnext, sizeof(*next), cmp_prev);
	free(st->prev);
	st->prev = next;
	st->nprev = nnext;
	st->prev_uptime_ms = up;
	st->prev_cpu_ms = cpu;
	st->have_prev = true;
}

/* Sleeps s seconds unless a signal stops it first. */
static void nap(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ctl_top_main(int argc, char **argv, const char *path)
{
	static const struct option lo[] = {
		{"interval", required_argument, NULL, 'i'},
		{"iterations", required_argument, NULL, 'n'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: wake nap() */
	struct top_state st = {0};
	double interval = 2;
	long iterations = 0, frame;
	bool tty = isatty(STDOUT_FILENO);
	int c, rc = 0;
	char *e;

	optind = 0; /* a fresh scan of top's own arguments (argv[0] is "top") */
	while ((c = getopt_long(argc, argv, "+i:n:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			errno = 0;
			interval = strtod(optarg, &e);
			if (errno || e == optarg || *e || !(interval >= 0.1) || interval > 3600) {
				fprintf(stderr,
					"pageflexctl: top: --interval wants seconds, 0.1..3600, got "
					"'%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			errno = 0;
			iterations = strtol(optarg, &e, 10);
			if (errno || e == optarg || *e || iterations < 1) {
				fprintf(stderr,
					"pageflexctl: top: --iterations wants a count >= 1, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			path = optarg;
			break;
		case 'h':
			printf("Usage: pageflexctl [--socket PATH] top [--interval SECS] "
			       "[--iterations N]\n\n");
			ctl_top_usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"pageflexctl: usage: top [--interval SECS] [--iterations N]\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"pageflexctl: top: unexpected '%s' (usage: top [--interval SECS] "
			"[--iterations N])\n",
			argv[optind]);
		return 2;
	}
	if (!socket_path_ok(path))
		return 2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty)
		fputs("\033[?25l", stdout); /* hide the cursor while drawing */
	for (frame = 0; !stop && (!iterations || frame < iterations); frame++) {
		char *reply = NULL, err[160];
		struct pj_value *j;
		int q;

		if (frame)
			nap(interval);
		if (stop)
			break;
		q = query(path, "stats --json\n", 10000, &reply);
		if (q != Q_OK && stop) /* Ctrl-C during the request */
			break;
		if (q != Q_OK) {
			if (tty)
				fputs("\033[?25h", stdout);
			fflush(stdout);
			no_agent(path, q);
			rc = 1;
			break;
		}
		if (!strncmp(reply, "error: ", 7)) {
			if (tty)
				fputs("\033[?25h", stdout);
			fflush(stdout);
			fprintf(stderr, "pageflexctl: %s", reply + 7);
			free(reply);
			rc = 1;
			break;
		}
		if (strncmp(reply, "ok\n", 3) || !(j = pj_parse(reply + 3, err, sizeof(err)))) {
			if (stop) { /* a read cut short by Ctrl-C */
				free(reply);
				break;
			}
			if (tty)
				fputs("\033[?25h", stdout);
			fflush(stdout);
			fprintf(stderr, "pageflexctl: top: unreadable reply from the agent: %s\n",
				strncmp(reply, "ok\n", 3) ? "no \"ok\"" : err);
			free(reply);
			rc = 1;
			break;
		}
		if (!tty && frame)
			putchar('\n');
		draw(j, &st, interval, tty);
		pj_free(j);
		free(reply);
	}
	if (tty && !rc)
		fputs("\033[?25h\n", stdout); /* restore the cursor (also after Ctrl-C) */
	fflush(stdout);
	free(st.prev);
	return rc;
}
