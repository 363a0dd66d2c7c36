// SPDX-License-Identifier: MIT
/*
 * The control socket, for pageflexctl: a unix stream socket with mode 0600
 * whose peers must also be uid 0 (SO_PEERCRED). One command line per
 * connection; the reply starts with "ok" or "error: <problem>", then the
 * body, then the agent closes the connection.
 *
 *   status [--json]          processes and their regions
 *   regions PID [--json]     the regions of one process
 *   stats [--json]           everything, as JSON (the same as status --json)
 *   reload                   re-read the rules file (kept if it has an error)
 *   metrics                  everything, as Prometheus text (metrics.c)
 *   record PID FILE SECONDS [--first-touch]
 *                            write PID's paging as a pageflex-sim trace (first
 *                            touches too with --first-touch); record --stop
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "actuator.h"
#include "agent.h"
#include "binding.h"
#include "leap_live.h"
#include "log.h"
#include "metrics.h"
#include "objectives.h"
#include "region_view.h"
#include "scanner.h"

static struct pf_listener listener = PF_LISTENER_INIT;

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Printable copy of an untrusted string for the text tables. */
static const char *plain(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = 0;
	return i ? buf : "-";
}

/* The threshold in force: the budget (MiB) or the promotion target, and the
 * last cut (weight bucket, pages it took). */
static void threshold_text(FILE *f, const struct pf_rinfo *ri)
{
	if (ri->eng.b.threshold.mode == PF_THRESH_BUDGET)
		fprintf(f, " budget=%.1fM", ri->eng.thr.cfg.budget_pages * 4096 / 1048576.0);
	else
		fprintf(f, " %s=%uppm", pf_threshold_mode_name(ri->eng.b.threshold.mode),
			ri->eng.b.threshold.promotion_ppm);
	fprintf(f, " cut=b%u/%llu", ri->eng.cut_bucket, (unsigned long long)ri->eng.cut_pages);
}

/* A region's fault counts as text, or `unknown` where no program counts
 * them (region_view.h): unknown is not zero. */
struct fault_counts {
	char first_touch[24], refaults[24], swapins[24], hits[24], other[24], present[24],
		unclassified[24];
};

static void count_str(char out[24], bool known, uint64_t v, const char *unknown)
{
	if (known)
		snprintf(out, 24, "%llu", (unsigned long long)v);
	else
		snprintf(out, 24, "%s", unknown);
}

static void fault_counts(uint32_t id, const char *unknown, struct fault_counts *c)
{
	struct pf_region_faults r;

	pf_region_faults(id, &r);
	count_str(c->first_touch, r.faults, r.first_touch, unknown);
	count_str(c->refaults, r.faults, r.refaults, unknown);
	count_str(c->swapins, r.majors, r.swapins, unknown);
	count_str(c->hits, r.majors, r.hits, unknown);
	count_str(c->other, r.majors, r.other, unknown);
	count_str(c->present, r.faults, r.present, unknown);
	count_str(c->unclassified, r.faults, r.unclassified, unknown);
}

static void region_text(void *arg, struct pf_rinfo *ri, int k)
{
	FILE *f = arg;
	struct fault_counts c;
	char tag[PFW_MAX_TAG + 1];

	(void)k;
	fault_counts(ri->id, "-", &c);
	fprintf(f, "  %6u %-20s %-6s %10.1f %10.1f %10.1f %10s %9s %9s %8s", ri->id,
		plain(ri->tag, tag, sizeof(tag)), pfw_kind_name(ri->kind), ri->size / 1048576.0,
		ri->resident * 4096 / 1048576.0, ri->swapped * 4096 / 1048576.0, c.first_touch,
		c.refaults, c.swapins, c.hits);
	fprintf(f, " %6llu  %s/%s", (unsigned long long)ri->scans, pf_region_policy_name(ri),
		pf_region_prefetch_name(ri));
	if (ri->eng.bound && ri->eng.b.threshold.mode == PF_THRESH_COLD_AGE &&
	    ri->eng.b.reclaim->victim)
		fprintf(f, " T=%.3gs", ri->eng.b.params.cold_age_ms / 1000.0);
	else if (ri->eng.bound && !(ri->eng.b.reclaim->flags & PF_RECLAIM_PASSIVE))
		threshold_text(f, ri);
	if (ri->prefetched)
		fprintf(f, " prefetched=%llu", (unsigned long long)ri->prefetched);
	fputc('\n', f);
}

static void region_json(void *arg, struct pf_rinfo *ri, int k)
{
	FILE *f = arg;
	struct fault_counts c;

	fault_counts(ri->id, "null", &c);
	fprintf(f, "%s{\"id\":%u,\"tag\":", k ? "," : "", ri->id);
	json_str(f, ri->tag);
	fprintf(f, ",\"kind\":\"%s\",\"module\":", pfw_kind_name(ri->kind));
	json_str(f, ri->module);
	fprintf(f,
		",\"callsite\":%llu,\"size\":%llu,\"resident\":%llu,\"swapped\":%llu,"
		"\"accessed\":%llu,\"huge\":%llu,\"scans\":%llu,\"first_touch\":%s,"
		"\"refaults\":%s,\"swapin_major\":%s,\"swapcache_hits\":%s,"
		"\"other_major\":%s,\"present_faults\":%s,\"unclassified\":%s,"
		"\"paged_out\":%llu,\"cooled\":%llu,\"policy\":\"%s\",\"cold_age_ms\":%llu,"
		"\"threshold\":\"%s\",\"prefetch\":\"%s\",\"prefetched\":%llu,\"rule\":",
		(unsigned long long)ri->callsite, (unsigned long long)ri->size,
		(unsigned long long)ri->resident * 4096, (unsigned long long)ri->swapped * 4096,
		(unsigned long long)ri->accessed * 4096, (unsigned long long)ri->huge * 4096,
		(unsigned long long)ri->scans, c.first_touch, c.refaults, c.swapins, c.hits,
		c.other, c.present, c.unclassified, (unsigned long long)ri->paged_out * 4096,
		(unsigned long long)ri->cooled * 4096, pf_region_policy_name(ri),
		(unsigned long long)(ri->eng.bound ? ri->eng.b.params.cold_age_ms : 0),
		ri->eng.bound ? pf_threshold_mode_name(ri->eng.b.threshold.mode) : "none",
		pf_region_prefetch_name(ri), (unsigned long long)ri->prefetched * 4096);
	json_str(f, ri->eng.bound ? ri->eng.b.rule : "");
	fprintf(f,
		",\"budget_pages\":%llu,\"promotion_ppm\":%u,\"cut_bucket\":%u,\"cut_pages\":%llu,"
		"\"pt_walk\":%d}",
		(unsigned long long)(ri->eng.bound ? ri->eng.thr.cfg.budget_pages : 0),
		ri->eng.bound ? ri->eng.b.threshold.promotion_ppm : 0, ri->eng.cut_bucket,
		(unsigned long long)ri->eng.cut_pages,
		!!(pf_bpf_region_flags(ri->id) & PFA_RF_OUT));
}

static void proc_text(FILE *f, struct pf_proc *p)
{
	char exe[256], phase[PFW_MAX_TAG + 1];

	fprintf(f, "pid %d  %s  phase %s  regions %zu%s\n", p->pid, plain(p->exe, exe, sizeof(exe)),
		plain(p->phase, phase, sizeof(phase)), p->rt.n,
		p->replayed ? "  (replayed after reconnect)" : "");
	pf_agent_objectives_text(f, p);
	fprintf(f, "  %6s %-20s %-6s %10s %10s %10s %10s %9s %9s %8s %6s  %s\n", "id", "tag",
		"kind", "size MiB", "resid MiB", "swap MiB", "1st-touch", "refaults", "swap-ins",
		"pf-hits", "scans", "reclaim/prefetch threshold");
	pf_each_region(p, region_text, f);
}

static void proc_json(FILE *f, struct pf_proc *p, int k)
{
	fprintf(f, "%s{\"pid\":%d,\"exe\":", k ? "," : "", p->pid);
	json_str(f, p->exe);
	fprintf(f, ",\"phase\":");
	json_str(f, p->phase);
	fprintf(f,
		",\"replayed\":%s,\"packets\":%llu,\"records\":%llu,\"lost_packets\":%llu,"
		"\"shim_dropped\":%llu,\"refused_maps\":%llu,\"ev_swap_faults\":%llu,"
		"\"ev_swapins\":%llu,\"objectives\":",
		p->replayed ? "true" : "false", (unsigned long long)p->packets,
		(unsigned long long)p->records, (unsigned long long)p->lost_packets,
		(unsigned long long)p->shim_dropped, (unsigned long long)p->refused_maps,
		(unsigned long long)p->ev_swap_faults, (unsigned long long)p->ev_swapins);
	pf_agent_objectives_json(f, p);
	fprintf(f, ",\"regions\":[");
	pf_each_region(p, region_json, f);
	fprintf(f, "]}");
}

static double tv_ms(struct timeval tv)
{
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

/* "features":{NAME:{"state":..,"program":..,"verified_insns":..,"why":..,"lost":..},...} */
static void features_json(FILE *f)
{
	int i;

	fprintf(f, "\"features\":{");
	for (i = 0; i < PF_FEAT_COUNT; i++) {
		const struct pf_feature *ft = pf_bpf_feature((enum pf_feat_id)i);

		fprintf(f, "%s\"%s\":{\"state\":\"%s\",\"program\":", i ? "," : "", ft->name,
			pf_feat_state_name(ft->state));
		json_str(f, pf_feature_on(ft) ? ft->progs[ft->variant][0] : "");
		fprintf(f, ",\"verified_insns\":%u,\"why\":", ft->verified_insns);
		json_str(f, ft->why);
		fprintf(f, ",\"lost\":");
		json_str(f, pf_feature_on(ft) ? "" : ft->lost);
		fputc('}', f);
	}
	fprintf(f, "},");
}

/* One line per feature for `status`: on ones in a row, the others with why. */
static void features_text(FILE *f)
{
	int i;

	fprintf(f, "features:");
	for (i = 0; i < PF_FEAT_COUNT; i++) {
		const struct pf_feature *ft = pf_bpf_feature((enum pf_feat_id)i);

		fprintf(f, " %s %s%s", ft->name, pf_feat_state_name(ft->state),
			pf_feature_on(ft) && ft->variant ? " (fallback)" : "");
		fputc(i + 1 < PF_FEAT_COUNT ? ',' : '\n', f);
	}
	for (i = 0; i < PF_FEAT_COUNT; i++) {
		const struct pf_feature *ft = pf_bpf_feature((enum pf_feat_id)i);

		if (!pf_feature_on(ft))
			fprintf(f, "  %s %s: %s; %s\n", ft->name, pf_feat_state_name(ft->state),
				ft->why, ft->lost);
		else if (ft->variant)
			fprintf(f, "  %s: %s\n", ft->name, ft->why);
	}
}

static void agent_json(FILE *f)
{
	struct rusage ru;
	int a;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(f,
		"\"agent\":{\"pid\":%d,\"uptime_ms\":%llu,\"cpu_user_ms\":%.1f,"
		"\"cpu_sys_ms\":%.1f,\"processes\":%zu,\"regions\":%u,\"scan_interval_ms\":%llu,"
		"\"direct_map\":\"%#llx\",\"page_table_levels\":%d,\"scanning\":%s,",
		getpid(), (unsigned long long)pf_now_ms(), tv_ms(ru.ru_utime), tv_ms(ru.ru_stime),
		pf_proc_count(), pf_regions_live(),
		(unsigned long long)pf_agent_reclaim_interval_ms(),
		(unsigned long long)pf_bpf_dmap_base(), pf_bpf_pt_levels(),
		pf_bpf_scan_ok() ? "true" : "false");
	features_json(f);
	fprintf(f, "\"scan_disabled_reason\":");
	json_str(f, pf_bpf_scan_ok() ? "" : pf_bpf_scan_error());
	fprintf(f,
		",\"slots_used\":%llu,\"slots_capacity\":%llu,\"scans\":%llu,\"scan_failures\":%llu,"
		"\"scan_ms\":%.3f,\"scan_pages\":%llu,\"scan_errors\":%llu,\"pages_out\":%llu,"
		"\"pages_cooled\":%llu,\"ringbuf_dropped\":%llu,\"shim_connections\":%llu,"
		"\"shim_bad_packets\":%llu,\"prefetch_calls\":%llu,\"prefetch_pages\":%llu",
		(unsigned long long)pf_slots_used(), (unsigned long long)pf_slots_capacity(),
		(unsigned long long)pf_scan_totals.scans,
		(unsigned long long)pf_scan_totals.failures, pf_scan_totals.ns / 1e6,
		(unsigned long long)pf_scan_totals.pages, (unsigned long long)pf_bpf_scan_errors(),
		(unsigned long long)pf_agent_reclaim_pages_out,
		(unsigned long long)pf_agent_reclaim_pages_cooled,
		(unsigned long long)pf_bpf_rb_dropped(), (unsigned long long)pf_shim_connections,
		(unsigned long long)pf_shim_bad_packets,
		(unsigned long long)pf_agent_prefetch_calls,
		(unsigned long long)pf_agent_prefetch_pages);
	{
		uint64_t on, off;

		pf_bpf_fault_switches(&on, &off);
		fprintf(f,
			",\"fault_program\":{\"attached\":%s,\"on_demand\":%s,\"attaches\":%llu,"
			"\"detaches\":%llu}",
			pf_bpf_fault_attached() ? "true" : "false",
			pf_bpf_fault_on_demand() ? "true" : "false", (unsigned long long)on,
			(unsigned long long)off);
	}
	pf_leap_live_json(f); /* Leap on the fault path (leap_live.c) */
	for (a = 0; a < PF_ADV_MAX; a++)
		fprintf(f,
			",\"madvise_%s\":{\"calls\":%llu,\"bytes\":%llu,\"errors\":%llu,"
			"\"split_retries\":%llu,\"cpu_ms\":%.3f}",
			pf_advice_name(a), (unsigned long long)pf_act_stats[a].calls,
			(unsigned long long)pf_act_stats[a].bytes,
			(unsigned long long)pf_act_stats[a].errors,
			(unsigned long long)pf_act_stats[a].splits, pf_act_stats[a].ns / 1e6);
	fputc('}', f);
}

/* Parses a pid argument; 0 if malformed. */
static pid_t parse_pid(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	return (errno || *end || v <= 0 || v > 4194304) ? 0 : (pid_t)v;
}

/* The managed process named by the argument s, or NULL with the reason in err. */
static struct pf_proc *managed_proc(const char *s, char *err, size_t errlen)
{
	pid_t pid = parse_pid(s);
	struct pf_proc *p;

	if (!pid) {
		snprintf(err, errlen, "'%s' is not a pid", s);
		return NULL;
	}
	p = pf_proc_find(pid);
	if (!p)
		snprintf(err, errlen, "pid %d is not managed by this agent", pid);
	return p;
}

/* Writes the reply for one command line into f (body) and returns NULL or an error. */
static const char *run(char *line, FILE *f, char *err, size_t errlen)
{
	char *argv[7] = {0}, *save, *s;
	bool json = false;
	int argc = 0;
	size_t i;

	for (s = strtok_r(line, " \t\r\n", &save); s; s = strtok_r(NULL, " \t\r\n", &save)) {
		if (!strcmp(s, "--json"))
			json = true;
		else if (argc < 6)
			argv[argc++] = s;
		else
			return "too many arguments";
	}
	if (!argc)
		return "empty command (want status, regions PID, stats, metrics or reload)";
	if (!strcmp(argv[0], "stats") || (!strcmp(argv[0], "status") && json)) {
		if (argc != 1)
			return "stats takes no arguments";
		fputc('{', f);
		agent_json(f);
		fprintf(f, ",\"processes\":[");
		for (i = 0; i < pf_proc_count(); i++)
			proc_json(f, pf_proc_at(i), (int)i);
		fprintf(f, "]}\n");
		return NULL;
	}
	if (!strcmp(argv[0], "status")) {
		struct rusage ru;

		if (argc != 1)
			return "status takes no arguments";
		getrusage(RUSAGE_SELF, &ru);
		fprintf(f,
			"pageflexd pid %d, up %.1f s, cpu %.0f ms, %zu processes, %u regions, scan "
			"every %llu ms, scanning %s\n",
			getpid(), pf_now_ms() / 1e3, tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime),
			pf_proc_count(), pf_regions_live(),
			(unsigned long long)pf_agent_reclaim_interval_ms(),
			pf_bpf_scan_ok() ? "on" : pf_bpf_scan_error());
		fprintf(f, "paged out %.1f MiB, %llu scans (%.1f ms)\n",
			pf_agent_reclaim_pages_out * 4096 / 1048576.0,
			(unsigned long long)pf_scan_totals.scans, pf_scan_totals.ns / 1e6);
		fprintf(f, "fault program: %s\n",
			!pf_bpf_fault_on_demand() ?
				(pf_bpf_fault_attached() ? "attached (always)" : "not attached") :
			pf_bpf_fault_attached() ?
				"attached (a managed region may hold swapped pages)" :
				"detached (no managed region holds swapped pages; first touches "
				"not counted)");
		features_text(f);
		for (i = 0; i < pf_proc_count(); i++)
			proc_text(f, pf_proc_at(i));
		return NULL;
	}
	if (!strcmp(argv[0], "record")) {
		const char *pos[3];
		struct pf_proc *p;
		unsigned long long secs;
		bool first_touch = false, bad = false;
		char *end;
		pid_t pid;
		int k, npos = 0;

		if (argc == 2 && !strcmp(argv[1], "--stop")) {
			pf_record_stop("stopped by pageflexctl");
			fprintf(f, "recording stopped\n");
			return NULL;
		}
		for (k = 1; k < argc; k++) {
			if (!strcmp(argv[k], "--first-touch") && !first_touch)
				first_touch = true;
			else if (argv[k][0] == '-' || npos == 3)
				bad = true; /* an unknown option, a repeated one, or too many */
			else
				pos[npos++] = argv[k];
		}
		if (bad || npos != 3)
			return "usage: record PID FILE SECONDS [--first-touch] | record --stop";
		p = managed_proc(pos[0], err, errlen);
		if (!p)
			return err;
		pid = p->pid;
		errno = 0;
		secs = strtoull(pos[2], &end, 10);
		if (errno || *end || !secs || secs > 86400) {
			snprintf(err, errlen, "bad duration '%.20s': want seconds, 1..86400",
				 pos[2]);
			return err;
		}
		if (pos[1][0] != '/') {
			snprintf(err, errlen, "the trace file must be an absolute path");
			return err;
		}
		if (pf_record_start(p, pos[1], secs, first_touch, err, errlen))
			return err;
		fprintf(f, "recording pid %d to %s for %llu s%s\n", pid, pos[1], secs,
			first_touch ? ", first touches too" : "");
		return NULL;
	}
	if (!strcmp(argv[0], "metrics")) {
		if (argc != 1)
			return "metrics takes no arguments";
		pf_metrics_write(f);
		return NULL;
	}
	if (!strcmp(argv[0], "reload")) {
		if (argc != 1)
			return "reload takes no arguments";
		if (pf_reload_rules(err, errlen))
			return err;
		fprintf(f, "rules reloaded from %s\n", pf_opts.config);
		return NULL;
	}
	if (!strcmp(argv[0], "regions")) {
		struct pf_proc *p;

		if (argc != 2)
			return "usage: regions PID";
		p = managed_proc(argv[1], err, errlen);
		if (!p)
			return err;
		if (json) {
			proc_json(f, p, 0);
			fputc('\n', f);
		} else {
			proc_text(f, p);
		}
		return NULL;
	}
	snprintf(err, errlen,
		 "unknown command '%.40s' (want status, regions PID, stats, metrics or reload)",
		 argv[0]);
	return err;
}

static void ctl_ready(struct pf_watch *w, uint32_t events)
{
	struct timeval tv = {.tv_sec = 1};
	char line[512], err[160];
	const char *e;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	char *body = NULL;
	size_t blen = 0, off = 0;
	ssize_t n;
	FILE *f;
	int fd;

	(void)events;
	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) || uc.uid != 0) {
		static const char msg[] = "error: the control socket is for root only\n";

		if (write(fd, msg, sizeof(msg) - 1) < 0)
			pf_dbg("control: reply lost");
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = 0;
	while ((size_t)n < sizeof(line) - 1) {
		ssize_t r = read(fd, line + n, sizeof(line) - 1 - (size_t)n);

		if (r <= 0)
			break;
		n += r;
		if (memchr(line, '\n', (size_t)n))
			break;
	}
	line[n > 0 ? n : 0] = 0;
	f = open_memstream(&body, &blen);
	if (!f) {
		close(fd);
		return;
	}
	fprintf(f, "ok\n");
	e = run(line, f, err, sizeof(err));
	fclose(f);
	if (e) {
		free(body);
		body = NULL;
		blen = (size_t)asprintf(&body, "error: %s\n", e);
		if (!body) {
			close(fd);
			return;
		}
	}
	while (off < blen) {
		n = write(fd, body + off, blen - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(body);
	close(fd);
}

int pf_control_listen(const char *path)
{
	int fd = pf_unix_listen(path, SOCK_STREAM, 0600);

	return fd < 0 ? fd : pf_listener_add(&listener, fd, path, ctl_ready);
}

void pf_control_close(void)
{
	pf_listener_close(&listener);
}
