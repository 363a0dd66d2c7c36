// SPDX-License-Identifier: MIT
/* The objectives of each managed process (see objectives.h). */
#include "objectives.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "grow.h"
#include "log.h"

bool pf_agent_psi_total_us(uint64_t *out)
{
	FILE *f = fopen("/proc/pressure/memory", "re");
	char line[256];
	bool ok = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		const char *t = strstr(line, "total=");

		if (!strncmp(line, "some ", 5) && t) {
			*out = strtoull(t + 6, NULL, 10);
			ok = true;
			break;
		}
	}
	fclose(f);
	return ok;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * What a swap-in costs here now (ns, the median of 64): the agent pages out
 * 64 pages of its own, 16 pages apart (no readahead between them), and
 * times reading each back. 0 if they would not all go out.
 */
static uint64_t measure_swapin_ns(void)
{
	enum { N = 64, GAP = 16 };
	size_t len = (size_t)N * GAP * 4096;
	unsigned char *p =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char vec[N * GAP];
	uint64_t ns[N], r = 0;
	int tries;

	if (p == MAP_FAILED)
		return 0;
	madvise(p, len, MADV_NOHUGEPAGE);
	for (int i = 0; i < N; i++)
		p[(size_t)i * GAP * 4096] = (unsigned char)(i + 1);
	for (tries = 0; tries < 50; tries++) {
		int left = 0;

		madvise(p, len, MADV_PAGEOUT);
		if (mincore(p, len, vec))
			break;
		for (int i = 0; i < N; i++)
			left += vec[i * GAP] & 1;
		if (!left)
			break;
		usleep(10000);
	}
	if (tries < 50) {
		for (int i = 0; i < N; i++) {
			volatile unsigned char *q = p + (size_t)i * GAP * 4096;
			uint64_t t0 = mono_ns();

			r += *q;
			ns[i] = mono_ns() - t0;
		}
		qsort(ns, N, sizeof(ns[0]), cmp_u64);
	}
	munmap(p, len);
	return tries < 50 && r ? ns[N / 2] : 0;
}

static bool follows(const struct pf_rinfo *ri)
{
	return pf_engine_active(&ri->eng) && ri->eng.b.threshold.mode == PF_THRESH_OBJECTIVE;
}

/* Whether ri appears in p's table before piece i (pieces of one region). */
static bool seen_before(const struct pf_proc *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (p->rt.p[j].ri == p->rt.p[i].ri)
			return true;
	return false;
}

/* The age a sweep holds the objective at, in s (objective.h, sweeps). */
static double sweep_floor_s(const struct pf_objective_group *g)
{
	uint64_t f = g->o.sweep_floor_ms;

	return (f < g->o.cfg.max_age_ms ? f : g->o.cfg.max_age_ms) / 1e3;
}

void pf_agent_objectives_tick(struct pf_proc *p, struct pf_piece *const *pcs, size_t npcs,
			      uint64_t now, uint64_t interval_ms)
{
	static struct pf_objective_member *m;
	static size_t cap;
	static long long last_oom;
	static uint64_t swapin_ns; /* measured at the first pressure objective */
	static bool measured;
	bool was[64] = {0}, pressure = false;
	uint64_t floor_was[64] = {0};
	uint64_t stall = UINT64_MAX;
	size_t i, n = 0, nold = p->objs.n;

	if (PF_GROW(m, cap, npcs, 64))
		return;
	for (i = 0; i < npcs; i++) {
		struct pf_rinfo *ri = pcs[i]->ri;

		/* The pieces of a region are next to each other: it counts once. */
		if (!follows(ri) || (i && pcs[i - 1]->ri == ri))
			continue;
		m[n++] = (struct pf_objective_member){.er = &ri->eng,
						      .pages = ri->hull_len / 4096,
						      .refaults = ri->tick_refaults};
		pressure |= ri->eng.b.objective.kind == PF_OBJ_PRESSURE;
	}
	if (!n)
		return;
	if (pressure && !measured) {
		measured = true;
		swapin_ns = measure_swapin_ns();
		if (swapin_ns)
			pf_info("a swap-in costs %.1f us here: pressure objectives count that per "
				"refault of their regions as stall",
				swapin_ns / 1e3);
		else
			pf_warn("could not time a swap-in (no swap?): pressure objectives see the "
				"machine's stall only");
	}
	/* Each region's own stall: its swap-ins at what one costs here. */
	for (i = 0; i < n; i++)
		m[i].stall_us = m[i].refaults * swapin_ns / 1000;
	if (pressure && !pf_agent_psi_total_us(&stall))
		stall = UINT64_MAX;
	for (i = 0; i < nold && i < 64; i++) {
		was[i] = p->objs.g[i].o.unreachable;
		floor_was[i] = p->objs.g[i].o.sweep_floor_ms;
	}
	if (pf_objective_set_tick(&p->objs, m, n, now, interval_ms, stall))
		pf_log_limited(&last_oom, PF_LOG_WARN, "pid %d: no memory for an objective",
			       p->pid);
	for (i = 0; i < p->objs.n; i++) {
		const struct pf_objective_group *g = &p->objs.g[i];
		char d[64];

		pf_objective_describe(&g->cfg, d, sizeof(d));
		if (i >= nold)
			pf_info("pid %d: rule %s: objective %s%s", p->pid, g->rule, d,
				g->cfg.kind == PF_OBJ_PRESSURE && stall == UINT64_MAX ?
					" (no /proc/pressure/memory: it sees no stall)" :
					"");
		if (i < 64 && i < nold && g->o.unreachable && !was[i])
			pf_warn("pid %d: rule %s: objective %s is unreachable: its pages come "
				"back as fast as they go out, or none idle longer than %.1f s are "
				"left; holding at a cold age of %.1f s",
				p->pid, g->rule, d, g->o.cfg.min_age_ms / 1e3, g->o.age_ms / 1e3);
		else if (i < 64 && i < nold && was[i] && !g->o.unreachable)
			pf_info("pid %d: rule %s: objective %s met again", p->pid, g->rule, d);
		if (i < 64 && i < nold && g->o.sweep_floor_ms &&
		    g->o.sweep_floor_ms != floor_was[i])
			pf_info("pid %d: rule %s: a pass over its data read back pages idle for "
				"%.0f s: cold age held >= %.0f s until no pass comes for a while",
				p->pid, g->rule, g->o.sweep_ms / 1e3, sweep_floor_s(g));
		else if (i < 64 && i < nold && !g->o.sweep_floor_ms && floor_was[i])
			pf_info("pid %d: rule %s: no pass over its data for %.0f s: the cold age "
				"is free again",
				p->pid, g->rule, 2 * floor_was[i] / 1e3);
	}
}

uint64_t pf_agent_objective_saved_pages(const struct pf_proc *p, const struct pf_objective_group *g)
{
	uint64_t s = 0;

	for (size_t i = 0; i < p->rt.n; i++) {
		const struct pf_rinfo *ri = p->rt.p[i].ri;

		if (follows(ri) && !strcmp(ri->eng.b.rule, g->rule) && !seen_before(p, i))
			s += ri->swapped;
	}
	return s;
}

/*
 * What each cold age would save and cost (by-histogram promotion
 * objectives): bucket b's age, the pages idle at least that long at the
 * last tick, and the promotion rate the histograms predict for it (false:
 * not seen for long enough yet). The buckets within the objective's ages.
 */
static bool frontier_at(const struct pf_objective_group *g, unsigned b, uint64_t *idle,
			uint64_t *ppm)
{
	*idle = 0;
	for (unsigned j = b; j < PF_REUSE_BUCKETS; j++)
		*idle += g->idle[j];
	return pf_objective_predict(&g->o, b, ppm);
}

static bool in_range(const struct pf_objective_group *g, unsigned b)
{
	uint64_t t = pf_reuse_bound_ms(b);

	return b && t >= g->o.cfg.min_age_ms && t <= g->o.cfg.max_age_ms;
}

static void frontier_json(FILE *f, const struct pf_objective_group *g)
{
	bool first = true;

	fputs(",\"frontier\":[", f);
	for (unsigned b = 1; g->o.by_hist && b < PF_REUSE_BUCKETS; b++) {
		uint64_t idle, ppm;
		bool known;

		if (!in_range(g, b))
			continue;
		known = frontier_at(g, b, &idle, &ppm);
		fprintf(f,
			"%s{\"age_ms\":%" PRIu64 ",\"idle_bytes\":%" PRIu64 ",\"promotion_ppm\":",
			first ? "" : ",", pf_reuse_bound_ms(b), idle * 4096);
		if (known)
			fprintf(f, "%" PRIu64 "}", ppm);
		else
			fputs("null}", f);
		first = false;
	}
	fputc(']', f);
}

/* The frontier at each doubling of the age (1, 2, 4 ... s), one line. */
static void frontier_text(FILE *f, const struct pf_objective_group *g)
{
	const char *sep = "    idle now and predicted promotion, by cold age:";

	if (!g->o.by_hist)
		return;
	for (unsigned b = 1; b < PF_REUSE_BUCKETS; b += 4) {
		uint64_t idle, ppm;
		bool known;

		if (!in_range(g, b))
			continue;
		known = frontier_at(g, b, &idle, &ppm);
		fprintf(f, "%s %" PRIu64 " s %" PRIu64 " MiB ", sep, pf_reuse_bound_ms(b) / 1000,
			idle >> 8);
		if (known)
			fprintf(f, "%.3f%%/min", ppm / 1e4);
		else
			fputc('?', f);
		sep = ",";
	}
	if (*sep == ',')
		fputc('\n', f);
}

void pf_agent_objectives_json(FILE *f, const struct pf_proc *p)
{
	fputc('[', f);
	for (size_t i = 0; i < p->objs.n; i++) {
		const struct pf_objective_group *g = &p->objs.g[i];
		char d[64];

		pf_objective_describe(&g->cfg, d, sizeof(d));
		fprintf(f,
			"%s{\"rule\":\"%s\",\"objective\":\"%s\",\"kind\":\"%s\",\"value\":%" PRIu64
			",\"value_unit\":\"%s\",\"age_ms\":%" PRIu64 ",\"unreachable\":%s,"
			"\"regions\":%" PRIu64 ",\"resident_bytes\":%" PRIu64
			",\"saved_bytes\":%" PRIu64 ",\"tightens\":%" PRIu64 ",\"loosens\":%" PRIu64
			",\"backoffs\":%" PRIu64 ",\"by_histogram\":%s,\"predicted_ppm\":%" PRIu64
			",\"working_set_bytes\":%" PRIu64 ",\"sweeps\":%" PRIu64
			",\"sweep_ms\":%" PRIu64 ",\"sweep_floor_ms\":%" PRIu64,
			i ? "," : "", g->rule, d, pf_objective_kind_name(g->cfg.kind), g->o.value,
			g->cfg.kind == PF_OBJ_BUDGET ? "resident_pages" : "ppm", g->o.age_ms,
			g->o.unreachable ? "true" : "false", g->regions, g->resident * 4096,
			pf_agent_objective_saved_pages(p, g) * 4096, g->o.tightens, g->o.loosens,
			g->o.backoffs, g->o.by_hist ? "true" : "false", g->o.predicted,
			g->o.ws_max * 4096, g->o.sweeps, g->o.sweep_ms, g->o.sweep_floor_ms);
		frontier_json(f, g);
		fputc('}', f);
	}
	fputc(']', f);
}

void pf_agent_objectives_text(FILE *f, const struct pf_proc *p)
{
	for (size_t i = 0; i < p->objs.n; i++) {
		const struct pf_objective_group *g = &p->objs.g[i];
		char d[64], v[96];

		pf_objective_describe(&g->cfg, d, sizeof(d));
		if (g->cfg.kind == PF_OBJ_BUDGET)
			snprintf(v, sizeof(v), "%" PRIu64 " MiB resident", g->o.value >> 8);
		else if (g->cfg.kind == PF_OBJ_PROMOTION && g->o.by_hist)
			snprintf(v, sizeof(v), "%.3f%%/min (%.3f%% predicted at the age)",
				 g->o.value / 1e4, g->o.predicted / 1e4);
		else if (g->cfg.kind == PF_OBJ_PROMOTION)
			snprintf(v, sizeof(v), "%.3f%%/min", g->o.value / 1e4);
		else
			snprintf(v, sizeof(v), "%.3f%% stall", g->o.value / 1e4);
		fprintf(f,
			"  objective (rule %s): %s; now %s, cold age %.1f s, saved %" PRIu64
			" MiB%s\n",
			g->rule, d, v, g->o.age_ms / 1e3, pf_agent_objective_saved_pages(p, g) >> 8,
			g->o.unreachable ? "; UNREACHABLE: held instead of thrashing" : "");
		if (g->o.sweep_floor_ms)
			fprintf(f,
				"    passes over its data (%" PRIu64 " seen, up to %.0f s apart): "
				"cold age held >= %.0f s\n",
				g->o.sweeps, g->o.sweep_ms / 1e3, sweep_floor_s(g));
		frontier_text(f, g);
	}
}
