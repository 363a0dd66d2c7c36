// SPDX-License-Identifier: MIT
/*
 * pageflex-sim: replays a trace (a file from `pageflexctl record` or a
 * synthetic workload) through reclaim and prefetch policies under a memory
 * budget and prints faults, refaults, prefetch accuracy and coverage and the
 * memory saved, per region and in total.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "params.h"
#include "parse.h"
#include "sim.h"

static void usage(FILE *f)
{
	char rn[256], pn[256], params[512];

	pf_reclaim_names(rn, sizeof(rn));
	pf_prefetch_names(pn, sizeof(pn));
	pf_params_names(params, sizeof(params));
	fprintf(f,
		"Usage: pageflex-sim (--trace FILE | --gen SPEC) [OPTIONS]\n"
		"Replays page accesses through a reclaim and a prefetch policy under a\n"
		"per-region memory budget, with the policy code pageflexd runs.\n"
		"\n"
		"  -t, --trace FILE      replay a trace file (pageflexctl record, --write)\n"
		"  -g, --gen SPEC        synthetic workload NAME[:key=value,...]; NAME is\n"
		"                        seq, loop, stride, zipf, phases or mix; keys pages,\n"
		"                        loops, stride, s, accesses, seed, phase_len, access_ns\n"
		"  -w, --write FILE      write the generated workload as a trace file and exit\n"
		"  -r, --reclaim NAME    %s, or min (Belady, the optimum) [kernel]\n"
		"  -p, --prefetch NAME   %s [none]\n"
		"  -b, --budget PCT      resident budget per region, %% of its pages [100]\n"
		"  -m, --mode MODE       threshold: budget, promotion or cold-age [budget]\n"
		"      --promotion-ppm N promotion target: refaults/min per 10^6 WS pages [2000]\n"
		"  -P, --param K=V       policy parameter (%s)\n"
		"  -R, --rules FILE      bind policies per region and phase from a rules file\n"
		"  -s, --scan-ms N       scan period in trace milliseconds [10]; per-page\n"
		"                        times are kept in these units (tick_ms) unless set.\n"
		"                        A live recording (version 2, 3) replays at the agent's\n"
		"                        own recorded scans, with its clock, unless -s is given\n"
		"      --batch N         pages per reclaim batch [budget / 64]\n"
		"      --phase-hot       prefetch each phase's last hot set on phase entry\n"
		"      --hot-window-ms N pages used this long before a phase ends are hot [20]\n"
		"      --ticks-only      decide at scan ticks only, as pageflexd does; by\n"
		"                        default a budget is also a memory limit, held at\n"
		"                        every access\n"
		"      --no-fold         recorded traces: count a fault and the next scan's\n"
		"                        accessed bit of the same page as two accesses\n"
		"      --compare         live recordings: the live run and the replay side\n"
		"                        by side (paged out, refaults, resident over time)\n"
		"      --fresh-states    live recordings: start every policy's per-page\n"
		"                        states at the first tick, even where the recording\n"
		"                        holds the live policy's (same policy and parameters)\n"
		"      --csv             one CSV line per region and a total line\n"
		"      --label TEXT      first CSV column [workload]\n"
		"  -h, --help            this help\n"
		"\n"
		"Examples:\n"
		"  pageflex-sim --gen stride:pages=65536,stride=7 --budget 50 --prefetch leap\n"
		"  pageflex-sim --gen zipf:pages=65536,s=0.9,accesses=2000000 --budget 30 -r min\n"
		"  pageflex-sim --trace app.pftrace --rules rules/example.yaml\n"
		"  pageflex-sim --trace app.pftrace --rules live.yaml --compare\n",
		rn, pn, params);
}

static void print_human(const struct sim_result *res)
{
	printf("%-4s %-10s %-10s %-9s %-8s %9s %9s %10s %10s %9s %8s %8s %7s\n", "id", "tag",
	       "reclaim", "prefetch", "rule", "pages", "budget", "accesses", "refaults", "prefetch",
	       "accur", "cover", "saved");
	for (size_t i = 0; i < res->nregions; i++) {
		const struct sim_region_report *r = &res->regions[i];

		printf("%-4u %-10.10s %-10s %-9s %-8.8s %9llu %9llu %10llu %10llu %9llu %7.1f%% "
		       "%7.1f%% %6.1f%%\n",
		       r->id, r->tag, r->reclaim, r->prefetch, r->rule,
		       (unsigned long long)r->npages, (unsigned long long)r->budget,
		       (unsigned long long)r->st.accesses, (unsigned long long)r->st.swapins,
		       (unsigned long long)r->st.prefetch_issued, 100 * sim_accuracy(&r->st),
		       100 * sim_coverage(&r->st), 100 * sim_saved(&r->st));
	}
	const struct sim_stats *t = &res->total;

	printf("total: accesses %llu, faults %llu (first touch %llu, refaults %llu), "
	       "prefetched %llu (hits %llu, wasted %llu, phase-entry %llu), "
	       "accuracy %.1f%%, coverage %.1f%%, evictions %llu (demoted %llu), "
	       "avg resident %.0f of %.0f pages, saved %.1f%%",
	       (unsigned long long)t->accesses, (unsigned long long)(t->first_touch + t->swapins),
	       (unsigned long long)t->first_touch, (unsigned long long)t->swapins,
	       (unsigned long long)t->prefetch_issued, (unsigned long long)t->prefetch_hits,
	       (unsigned long long)t->prefetch_wasted, (unsigned long long)t->phase_prefetched,
	       100 * sim_accuracy(t), 100 * sim_coverage(t), (unsigned long long)t->evictions,
	       (unsigned long long)t->demoted, t->avg_resident, t->avg_footprint,
	       100 * sim_saved(t));
	if (res->memo_bytes)
		printf(", phase memory %llu bytes", (unsigned long long)res->memo_bytes);
	if (t->bad_events)
		printf(", %llu accesses outside known regions", (unsigned long long)t->bad_events);
	if (res->folded)
		printf(", %llu scan bits folded into faults", (unsigned long long)res->folded);
	printf("\n");
}

static void csv_line(const char *label, const char *region, const char *reclaim,
		     const char *prefetch, const struct sim_stats *s)
{
	printf("%s,%s,%s,%s,%llu,%llu,%llu,%llu,%llu,%llu,%.4f,%.4f,%.1f,%.1f,%.4f\n", label,
	       region, reclaim, prefetch, (unsigned long long)s->accesses,
	       (unsigned long long)(s->first_touch + s->swapins), (unsigned long long)s->swapins,
	       (unsigned long long)s->prefetch_issued, (unsigned long long)s->prefetch_hits,
	       (unsigned long long)s->phase_prefetched, sim_accuracy(s), sim_coverage(s),
	       s->avg_resident, s->avg_footprint, sim_saved(s));
}

static void print_csv(const struct sim_result *res, const char *label, const char *reclaim,
		      const char *prefetch)
{
	for (size_t i = 0; i < res->nregions; i++)
		csv_line(label, res->regions[i].tag, res->regions[i].reclaim,
			 res->regions[i].prefetch, &res->regions[i].st);
	csv_line(label, "total", reclaim, prefetch, &res->total);
}

/* Which parts of a trace replay come from the recording and which are modelled. */
static void print_replay(const struct pf_trace_header *h, const struct sim_cfg *cfg,
			 const struct sim_result *res)
{
	const struct sim_stats *t = &res->total;
	size_t nrec = 0, nclr = 0;

	if (!(h->flags & PF_TRACE_F_LIVE)) {
		printf("replay: version %u trace%s: ticks modelled every %llu ms; no residency at "
		       "the start (pages idle since before the trace began are unknown to the "
		       "replay), no live policy states, no record of the agent's actions%s\n",
		       h->version, h->version == 1 ? " (a version-1 recording)" : "",
		       (unsigned long long)cfg->scan_ms,
		       h->version == 1 ? "; record again with this pageflexctl for all three" : "");
		return;
	}
	for (size_t i = 0; i < res->nregions; i++) {
		nrec += res->regions[i].state_recorded;
		nclr += res->regions[i].clears_recorded;
	}
	printf("replay: live recording of pid %u (%.16s), agent scan period %u ms\n", h->pid,
	       h->comm, h->scan_ms);
	printf("  from the recording: residency at the start (%llu pages present, %llu "
	       "swapped), %llu scans of present/swapped/accessed bits, %s, swap faults (%llu), "
	       "%s; the agent's actions (%llu records: %llu pages paged out, %llu prefetched); "
	       "%llu pages swapped by others (kernel, DAMON), followed\n",
	       (unsigned long long)t->snap_resident, (unsigned long long)t->snap_swapped,
	       (unsigned long long)res->pages_records,
	       cfg->recorded_ticks ? "the agent's ticks" : "(ticks are modelled, -s)",
	       (unsigned long long)t->live_refaults,
	       h->flags & PF_TRACE_F_FIRST_TOUCH ? "first touches" :
						   "first touches seen by scans only",
	       (unsigned long long)res->actions, (unsigned long long)t->live_out,
	       (unsigned long long)t->live_prefetched, (unsigned long long)t->external_out);
	printf("  policy states at the start: recorded for %zu of %zu regions (the others: "
	       "another policy%s, states begin at the first tick); accessed-bit clear "
	       "segments for %zu%s\n",
	       nrec, res->nregions, cfg->fresh_states ? " or --fresh-states" : "", nclr,
	       h->version < 3 ? " (a version 2 recording has none)" : "");
	printf("  modelled: the replayed policy's decisions and their effect on residency and "
	       "refaults (a page the replay keeps is not refaulted); prefetch%s\n",
	       cfg->ticks_only ? "" : "; the memory limit between ticks");
}

/* The live run and the replay side by side (--compare). */
static double diff_pct(uint64_t live, uint64_t sim)
{
	return live ? 100.0 * ((double)sim - (double)live) / (double)live : (sim ? 100.0 : 0.0);
}

static void print_compare(const struct sim_result *res)
{
	const struct sim_stats *t = &res->total;
	size_t n = res->nseries, step = n > 20 ? (n + 19) / 20 : 1;

	printf("\ncompare: live vs replay\n");
	printf("%-4s %-10s %12s %12s %8s %12s %12s %8s\n", "id", "tag", "out live", "out replay",
	       "diff", "ref live", "ref replay", "diff");
	for (size_t i = 0; i < res->nregions; i++) {
		const struct sim_stats *s = &res->regions[i].st;
		uint64_t sr = s->swapins + s->prefetch_hits;

		printf("%-4u %-10.10s %12llu %12llu %7.1f%% %12llu %12llu %7.1f%%\n",
		       res->regions[i].id, res->regions[i].tag, (unsigned long long)s->live_out,
		       (unsigned long long)s->evictions, diff_pct(s->live_out, s->evictions),
		       (unsigned long long)s->live_refaults, (unsigned long long)sr,
		       diff_pct(s->live_refaults, sr));
	}
	printf("%-4s %-10s %12llu %12llu %7.1f%% %12llu %12llu %7.1f%%\n", "", "total",
	       (unsigned long long)t->live_out, (unsigned long long)t->evictions,
	       diff_pct(t->live_out, t->evictions), (unsigned long long)t->live_refaults,
	       (unsigned long long)(t->swapins + t->prefetch_hits),
	       diff_pct(t->live_refaults, t->swapins + t->prefetch_hits));
	printf("\n%9s %12s %12s %12s %12s %10s %10s\n", "t (s)", "res live", "res replay",
	       "out live", "out replay", "ref live", "ref repl");
	for (size_t i = 0; i < n; i = i + step < n || i == n - 1 ? i + step : n - 1) {
		const struct sim_sample *x = &res->series[i];

		printf("%9.1f %10.1f M %10.1f M %12llu %12llu %10llu %10llu\n", x->t_ms / 1000.0,
		       x->live_resident / 256.0, x->sim_resident / 256.0,
		       (unsigned long long)x->live_out, (unsigned long long)x->sim_out,
		       (unsigned long long)x->live_refaults, (unsigned long long)x->sim_refaults);
	}
	printf("difference: paged out %+.1f%%, refaults %+.1f%%",
	       diff_pct(t->live_out, t->evictions),
	       diff_pct(t->live_refaults, t->swapins + t->prefetch_hits));
	if (n) {
		double dl = 0, ds = 0;

		for (size_t i = 0; i < n; i++) {
			dl += (double)res->series[i].live_resident;
			ds += (double)res->series[i].sim_resident;
		}
		printf(", mean resident %+.1f%% (%.1f vs %.1f MiB)", dl ? 100 * (ds - dl) / dl : 0,
		       ds / (double)n / 256, dl / (double)n / 256);
	}
	printf("\n");
}

enum {
	OPT_BATCH = 256,
	OPT_PHASE_HOT,
	OPT_HOT_WINDOW,
	OPT_CSV,
	OPT_LABEL,
	OPT_PPM,
	OPT_NO_FOLD,
	OPT_TICKS_ONLY,
	OPT_COMPARE,
	OPT_FRESH_STATES
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"trace", required_argument, NULL, 't'},
		{"gen", required_argument, NULL, 'g'},
		{"write", required_argument, NULL, 'w'},
		{"reclaim", required_argument, NULL, 'r'},
		{"prefetch", required_argument, NULL, 'p'},
		{"budget", required_argument, NULL, 'b'},
		{"mode", required_argument, NULL, 'm'},
		{"param", required_argument, NULL, 'P'},
		{"rules", required_argument, NULL, 'R'},
		{"scan-ms", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"phase-hot", no_argument, NULL, OPT_PHASE_HOT},
		{"hot-window-ms", required_argument, NULL, OPT_HOT_WINDOW},
		{"promotion-ppm", required_argument, NULL, OPT_PPM},
		{"no-fold", no_argument, NULL, OPT_NO_FOLD},
		{"ticks-only", no_argument, NULL, OPT_TICKS_ONLY},
		{"compare", no_argument, NULL, OPT_COMPARE},
		{"fresh-states", no_argument, NULL, OPT_FRESH_STATES},
		{"csv", no_argument, NULL, OPT_CSV},
		{"label", required_argument, NULL, OPT_LABEL},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *trace = NULL, *spec = NULL, *out = NULL, *rules_path = NULL;
	const char *label = "workload", *rname = "kernel", *pname = "none";
	struct sim_cfg cfg = {.scan_ms = 10, .hot_window_ms = 20};
	struct pf_rules *rules = NULL;
	struct sim_source src;
	struct sim_result res;
	struct gen *g = NULL;
	struct file_source *fs = NULL;
	char err[1024], names[512];
	bool csv = false, compare = false, scan_given = false;
	const struct pf_trace_header *th = NULL;
	uint64_t u;
	int c, rc = 1;

	pf_policy_params_default(&cfg.def.params);
	pf_threshold_cfg_default(&cfg.def.threshold);
	cfg.def.threshold.budget_pct = 100;
	snprintf(cfg.def.rule, sizeof(cfg.def.rule), "cli");
	while ((c = getopt_long(argc, argv, "t:g:w:r:p:b:m:P:R:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = optarg;
			break;
		case 'g':
			spec = optarg;
			break;
		case 'w':
			out = optarg;
			break;
		case 'r':
			rname = optarg;
			break;
		case 'p':
			pname = optarg;
			break;
		case 'b':
			if (pf_parse_u64(optarg, &u) || u == 0 || u > 100) {
				fprintf(stderr, "pageflex-sim: --budget: '%s' is not 1..100\n",
					optarg);
				return 2;
			}
			cfg.def.threshold.budget_pct = (uint32_t)u;
			break;
		case 'm':
			if (pf_threshold_mode_parse(optarg, &cfg.def.threshold.mode)) {
				fprintf(stderr,
					"pageflex-sim: unknown mode '%s' (valid: budget, promotion, "
					"cold-age)\n",
					optarg);
				return 2;
			}
			break;
		case 'P': {
			char *kv = strdup(optarg), *eq = kv ? strchr(kv, '=') : NULL;

			if (!eq) {
				fprintf(stderr, "pageflex-sim: --param wants KEY=VALUE\n");
				free(kv);
				return 2;
			}
			*eq = '\0';
			if (pf_params_set(&cfg.def.params, kv, eq + 1, err, sizeof(err))) {
				fprintf(stderr, "pageflex-sim: %s\n", err);
				free(kv);
				return 2;
			}
			free(kv);
			break;
		}
		case 'R':
			rules_path = optarg;
			break;
		case 's':
			if (pf_parse_u64(optarg, &cfg.scan_ms) || !cfg.scan_ms) {
				fprintf(stderr, "pageflex-sim: --scan-ms: '%s' is not > 0\n",
					optarg);
				return 2;
			}
			scan_given = true;
			break;
		case OPT_COMPARE:
			compare = true;
			break;
		case OPT_FRESH_STATES:
			cfg.fresh_states = true;
			break;
		case OPT_BATCH:
			if (pf_parse_u64(optarg, &cfg.batch)) {
				fprintf(stderr, "pageflex-sim: --batch: bad number '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_PHASE_HOT:
			cfg.phase_hot = true;
			break;
		case OPT_TICKS_ONLY:
			cfg.ticks_only = true;
			break;
		case OPT_NO_FOLD:
			cfg.no_fold = true;
			break;
		case OPT_HOT_WINDOW:
			if (pf_parse_u64(optarg, &cfg.hot_window_ms)) {
				fprintf(stderr, "pageflex-sim: --hot-window-ms: bad number\n");
				return 2;
			}
			break;
		case OPT_PPM:
			if (pf_parse_u64(optarg, &u) || u > 1000000) {
				fprintf(stderr, "pageflex-sim: --promotion-ppm: bad number\n");
				return 2;
			}
			cfg.def.threshold.promotion_ppm = (uint32_t)u;
			break;
		case OPT_CSV:
			csv = true;
			break;
		case OPT_LABEL:
			label = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !!trace == !!spec) {
		fprintf(stderr, "pageflex-sim: give exactly one of --trace FILE or --gen SPEC\n");
		usage(stderr);
		return 2;
	}
	if (!strcmp(rname, "min")) {
		cfg.min = true;
		rname = "kernel";
	}
	cfg.def.reclaim = pf_reclaim_find(rname);
	cfg.def.prefetch = pf_prefetch_find(pname);
	if (!cfg.def.reclaim) {
		pf_reclaim_names(names, sizeof(names));
		fprintf(stderr, "pageflex-sim: unknown reclaim policy '%s' (valid: %s, min)\n",
			rname, names);
		return 2;
	}
	if (!cfg.def.prefetch) {
		pf_prefetch_names(names, sizeof(names));
		fprintf(stderr, "pageflex-sim: unknown prefetch policy '%s' (valid: %s)\n", pname,
			names);
		return 2;
	}
	if (trace) {
		fs = file_source_open(trace, err, sizeof(err));
		if (!fs) {
			fprintf(stderr, "pageflex-sim: %s\n", err);
			goto out;
		}
		th = file_source_header(fs);
	}
	if (th && (th->flags & PF_TRACE_F_LIVE) && !scan_given) {
		/* Replay at the agent's own scans, on its clock, with its units. */
		cfg.recorded_ticks = true;
		cfg.ticks_only = true;
		cfg.clear_per_s = PF_CLEAR_PER_S; /* real time: the agent's bound */
		cfg.clock_ms = th->clock_ms;
		if (th->scan_ms)
			cfg.scan_ms = th->scan_ms;
	} else {
		/* The sim's clock quantum for per-page times is the scan period. */
		if (cfg.def.params.tick_ms == 1000)
			cfg.def.params.tick_ms = cfg.scan_ms;
		if (cfg.def.threshold.mode == PF_THRESH_PROMOTION)
			cfg.def.threshold.period_ms = cfg.scan_ms * 2;
	}
	if (compare && !(th && (th->flags & PF_TRACE_F_LIVE))) {
		fprintf(stderr,
			"pageflex-sim: --compare needs a live recording (pageflexctl record, "
			"trace version 2 or 3); %s is not one\n",
			trace ? trace : "a generated workload");
		goto out;
	}
	if (rules_path) {
		rules = pf_rules_load(rules_path, err, sizeof(err));
		if (!rules) {
			fprintf(stderr, "pageflex-sim: %s\n", err);
			return 2;
		}
		cfg.rules = rules;
	}
	if (spec) {
		g = gen_new(spec, err, sizeof(err));
		if (!g) {
			fprintf(stderr, "pageflex-sim: %s\n", err);
			goto out;
		}
		if (out) {
			if (gen_write(g, out, err, sizeof(err))) {
				fprintf(stderr, "pageflex-sim: %s\n", err);
				goto out;
			}
			rc = 0;
			goto out;
		}
		src = gen_source(g);
	} else {
		src = file_source(fs);
	}
	if (sim_run(&cfg, &src, &res, err, sizeof(err))) {
		fprintf(stderr, "pageflex-sim: %s\n", err);
		goto out;
	}
	if (csv)
		print_csv(&res, label,
			  rules	  ? "per-rule" :
			  cfg.min ? "min" :
				    rname,
			  rules ? "per-rule" : pname);
	else
		print_human(&res);
	if (th && !csv)
		print_replay(th, &cfg, &res);
	if (compare)
		print_compare(&res);
	sim_result_free(&res);
	rc = 0;
out:
	gen_free(g);
	file_source_close(fs);
	pf_rules_free(rules);
	return rc;
}
