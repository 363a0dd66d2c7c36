// SPDX-License-Identifier: MIT
/*
 * What `stats --json` reports, as Prometheus metrics (text format 0.0.4):
 * the agent (CPU, scans, actions, errors, ring drops, features), each
 * managed process, each of its regions (resident, swapped, faults,
 * refaults, actions, cold age) and each of its objectives (target, value,
 * cold age, saved). The same fields, read through region_view.h, so that a
 * scrape and `pageflexctl stats --json` agree (test/root/service checks it).
 * Served three ways, all opt-in: `pageflexctl metrics`, a file for
 * node_exporter's textfile collector (metrics_serve.c), and HTTP.
 */
#include "metrics.h"

#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "actuator.h"
#include "agent.h"
#include "leap_live.h"
#include "objectives.h"
#include "prom.h"
#include "region_view.h"
#include "scanner.h"

#define PAGE 4096ull

/* One metric of each region. */
enum region_metric {
	RM_SIZE,
	RM_RESIDENT,
	RM_SWAPPED,
	RM_ACCESSED,
	RM_HUGE,
	RM_SCANS,
	RM_PAGED_OUT,
	RM_COOLED,
	RM_PREFETCHED,
	RM_FIRST_TOUCH,
	RM_REFAULTS,
	RM_SWAPINS,
	RM_SWAPCACHE_HITS,
	RM_OTHER_MAJOR,
	RM_COLD_AGE,
	RM_COUNT,
};

static const struct {
	const char *name, *type, *help;
} region_meta[RM_COUNT] = {
	[RM_SIZE] = {"pageflex_region_size_bytes", "gauge", "Size of the region."},
	[RM_RESIDENT] = {"pageflex_region_resident_bytes", "gauge",
			 "Resident memory of the region at the last scan."},
	[RM_SWAPPED] = {"pageflex_region_swapped_bytes", "gauge",
			"Memory of the region in swap at the last scan."},
	[RM_ACCESSED] = {"pageflex_region_accessed_bytes", "gauge",
			 "Memory of the region accessed in the last scan interval."},
	[RM_HUGE] = {"pageflex_region_huge_bytes", "gauge",
		     "Resident memory of the region in transparent huge pages."},
	[RM_SCANS] = {"pageflex_region_scans_total", "counter", "Scans of the region."},
	[RM_PAGED_OUT] = {"pageflex_region_paged_out_bytes_total", "counter",
			  "Memory of the region the agent paged out (MADV_PAGEOUT)."},
	[RM_COOLED] = {"pageflex_region_cooled_bytes_total", "counter",
		       "Memory of the region the agent deactivated (MADV_COLD)."},
	[RM_PREFETCHED] = {"pageflex_region_prefetched_bytes_total", "counter",
			   "Memory of the region the agent prefetched (MADV_WILLNEED)."},
	[RM_FIRST_TOUCH] = {"pageflex_region_first_touch_faults_total", "counter",
			    "First-touch page faults in the region (absent: not counted)."},
	[RM_REFAULTS] = {"pageflex_region_refaults_total", "counter",
			 "Faults on swapped-out pages of the region (absent: not counted)."},
	[RM_SWAPINS] = {"pageflex_region_swapins_total", "counter",
			"Refaults of the region that read from swap (absent: not counted)."},
	[RM_SWAPCACHE_HITS] = {"pageflex_region_swapcache_hits_total", "counter",
			       "Refaults of the region found in the swap cache (absent: not "
			       "counted)."},
	[RM_OTHER_MAJOR] = {"pageflex_region_other_major_faults_total", "counter",
			    "Major faults of the region that were not swap-ins (absent: not "
			    "counted)."},
	[RM_COLD_AGE] = {"pageflex_region_cold_age_seconds", "gauge",
			 "Cold age of the region's policy (0: it has none)."},
};

struct region_ctx {
	FILE *f;
	enum region_metric m;
	pid_t pid;
};

static void region_labels(char *buf, size_t len, pid_t pid, const struct pf_rinfo *ri)
{
	char tag[2 * PFW_MAX_TAG + 1];

	pf_prom_escape(tag, sizeof(tag), ri->tag);
	snprintf(buf, len, "pid=\"%d\",region=\"%u\",tag=\"%s\"", pid, ri->id, tag);
}

/* ri's value of metric m; false if no program counts it. */
static bool region_value(const struct pf_rinfo *ri, enum region_metric m, uint64_t *v)
{
	struct pf_region_faults c;

	if (m >= RM_FIRST_TOUCH && m <= RM_OTHER_MAJOR) {
		pf_region_faults(ri->id, &c);
		*v = m == RM_FIRST_TOUCH    ? c.first_touch :
		     m == RM_REFAULTS	    ? c.refaults :
		     m == RM_SWAPINS	    ? c.swapins :
		     m == RM_SWAPCACHE_HITS ? c.hits :
					      c.other;
		return m == RM_FIRST_TOUCH || m == RM_REFAULTS ? c.faults : c.majors;
	}
	switch (m) {
	case RM_SIZE:
		*v = ri->size;
		break;
	case RM_RESIDENT:
		*v = ri->resident * PAGE;
		break;
	case RM_SWAPPED:
		*v = ri->swapped * PAGE;
		break;
	case RM_ACCESSED:
		*v = ri->accessed * PAGE;
		break;
	case RM_HUGE:
		*v = ri->huge * PAGE;
		break;
	case RM_SCANS:
		*v = ri->scans;
		break;
	case RM_PAGED_OUT:
		*v = ri->paged_out * PAGE;
		break;
	case RM_COOLED:
		*v = ri->cooled * PAGE;
		break;
	case RM_PREFETCHED:
		*v = ri->prefetched * PAGE;
		break;
	default:
		*v = 0;
		break;
	}
	return true;
}

static void region_sample(void *arg, struct pf_rinfo *ri, int k)
{
	struct region_ctx *c = arg;
	char labels[512];
	uint64_t v;

	(void)k;
	region_labels(labels, sizeof(labels), c->pid, ri);
	if (c->m == RM_COLD_AGE) {
		pf_prom_sample(c->f, region_meta[c->m].name, labels,
			       ri->eng.bound ? ri->eng.b.params.cold_age_ms / 1e3 : 0);
		return;
	}
	if (region_value(ri, c->m, &v))
		pf_prom_sample_u64(c->f, region_meta[c->m].name, labels, (unsigned long long)v);
}

/* pageflex_region_info: the region's kind, module and what is bound to it. */
static void region_info(void *arg, struct pf_rinfo *ri, int k)
{
	struct region_ctx *c = arg;
	char labels[2048], module[512], rule[256];
	size_t n;

	(void)k;
	region_labels(labels, sizeof(labels), c->pid, ri);
	pf_prom_escape(module, sizeof(module), ri->module);
	pf_prom_escape(rule, sizeof(rule), ri->eng.bound ? ri->eng.b.rule : "");
	n = strlen(labels);
	snprintf(labels + n, sizeof(labels) - n,
		 ",kind=\"%s\",module=\"%s\",policy=\"%s\",prefetch=\"%s\",threshold=\"%s\","
		 "rule=\"%s\"",
		 pfw_kind_name(ri->kind), module, pf_region_policy_name(ri),
		 pf_region_prefetch_name(ri),
		 ri->eng.bound ? pf_threshold_mode_name(ri->eng.b.threshold.mode) : "none", rule);
	pf_prom_sample_u64(c->f, "pageflex_region_info", labels, 1);
}

static void regions(FILE *f)
{
	struct region_ctx c = {.f = f};
	size_t i;

	pf_prom_family(f, "pageflex_region_info", "gauge",
		       "A managed region: its kind, module and the policies bound to it.");
	for (i = 0; i < pf_proc_count(); i++) {
		c.pid = pf_proc_at(i)->pid;
		pf_each_region(pf_proc_at(i), region_info, &c);
	}
	for (c.m = 0; c.m < RM_COUNT; c.m++) {
		pf_prom_family(f, region_meta[c.m].name, region_meta[c.m].type,
			       region_meta[c.m].help);
		for (i = 0; i < pf_proc_count(); i++) {
			c.pid = pf_proc_at(i)->pid;
			pf_each_region(pf_proc_at(i), region_sample, &c);
		}
	}
}

/* One metric of each managed process. */
enum proc_metric {
	PM_REGIONS,
	PM_PACKETS,
	PM_RECORDS,
	PM_LOST_PACKETS,
	PM_SHIM_DROPPED,
	PM_REFUSED_MAPS,
	PM_SWAP_FAULT_EVENTS,
	PM_SWAPIN_EVENTS,
	PM_COUNT,
};

static const struct {
	const char *name, *type, *help;
} proc_meta[PM_COUNT] = {
	[PM_REGIONS] = {"pageflex_process_regions", "gauge",
			"Pieces of address space the agent tracks for the process."},
	[PM_PACKETS] = {"pageflex_process_shim_packets_total", "counter",
			"Packets received from the process's shim."},
	[PM_RECORDS] = {"pageflex_process_shim_records_total", "counter",
			"Records received from the process's shim."},
	[PM_LOST_PACKETS] = {"pageflex_process_shim_lost_packets_total", "counter",
			     "Packets of the process's shim the agent found missing."},
	[PM_SHIM_DROPPED] = {"pageflex_process_shim_dropped_total", "counter",
			     "Records the process's shim dropped (its queue was full)."},
	[PM_REFUSED_MAPS] = {"pageflex_process_refused_maps_total", "counter",
			     "Regions of the process the agent could not track."},
	[PM_SWAP_FAULT_EVENTS] = {"pageflex_process_swap_fault_events_total", "counter",
				  "Refault events of the process streamed to the agent."},
	[PM_SWAPIN_EVENTS] = {"pageflex_process_swapin_events_total", "counter",
			      "Swap-in events of the process streamed to the agent."},
};

static uint64_t proc_value(const struct pf_proc *p, enum proc_metric m)
{
	switch (m) {
	case PM_REGIONS:
		return p->rt.n;
	case PM_PACKETS:
		return p->packets;
	case PM_RECORDS:
		return p->records;
	case PM_LOST_PACKETS:
		return p->lost_packets;
	case PM_SHIM_DROPPED:
		return p->shim_dropped;
	case PM_REFUSED_MAPS:
		return p->refused_maps;
	case PM_SWAP_FAULT_EVENTS:
		return p->ev_swap_faults;
	default:
		return p->ev_swapins;
	}
}

static void processes(FILE *f)
{
	char labels[1024], exe[512], phase[2 * PFW_MAX_TAG + 1];
	size_t i;
	int m;

	pf_prom_family(f, "pageflex_process_info", "gauge",
		       "A process managed by the agent: its executable and phase.");
	for (i = 0; i < pf_proc_count(); i++) {
		const struct pf_proc *p = pf_proc_at(i);

		pf_prom_escape(exe, sizeof(exe), p->exe);
		pf_prom_escape(phase, sizeof(phase), p->phase);
		snprintf(labels, sizeof(labels), "pid=\"%d\",exe=\"%s\",phase=\"%s\"", p->pid, exe,
			 phase);
		pf_prom_sample_u64(f, "pageflex_process_info", labels, 1);
	}
	for (m = 0; m < PM_COUNT; m++) {
		pf_prom_family(f, proc_meta[m].name, proc_meta[m].type, proc_meta[m].help);
		for (i = 0; i < pf_proc_count(); i++) {
			const struct pf_proc *p = pf_proc_at(i);

			snprintf(labels, sizeof(labels), "pid=\"%d\"", p->pid);
			pf_prom_sample_u64(f, proc_meta[m].name, labels,
					   (unsigned long long)proc_value(p, (enum proc_metric)m));
		}
	}
}

/* One metric of each objective of each process. */
enum objective_metric {
	OM_INFO,
	OM_TARGET,
	OM_VALUE,
	OM_PREDICTED,
	OM_COLD_AGE,
	OM_UNREACHABLE,
	OM_REGIONS,
	OM_RESIDENT,
	OM_SAVED,
	OM_WORKING_SET,
	OM_TIGHTENS,
	OM_LOOSENS,
	OM_BACKOFFS,
	OM_COUNT,
};

static const struct {
	const char *name, *type, *help;
} objective_meta[OM_COUNT] = {
	[OM_INFO] = {"pageflex_objective_info", "gauge",
		     "An objective of a process, as the rule states it."},
	[OM_TARGET] = {"pageflex_objective_target", "gauge",
		       "The objective's target: promotion, refaults per minute per page of "
		       "the working set; pressure, stall per second; budget, resident bytes "
		       "(absent for a budget in %)."},
	[OM_VALUE] = {"pageflex_objective_value", "gauge",
		      "The objective's last measured value, in the target's unit."},
	[OM_PREDICTED] = {"pageflex_objective_predicted", "gauge",
			  "Promotion: the rate the promotion histogram predicts at the cold "
			  "age (absent until it does)."},
	[OM_COLD_AGE] = {"pageflex_objective_cold_age_seconds", "gauge",
			 "The cold age the objective chose for its regions."},
	[OM_UNREACHABLE] = {"pageflex_objective_unreachable", "gauge",
			    "1 if the objective cannot be met and the controller holds."},
	[OM_REGIONS] = {"pageflex_objective_regions", "gauge", "Regions under the objective."},
	[OM_RESIDENT] = {"pageflex_objective_resident_bytes", "gauge",
			 "Resident memory of the objective's regions."},
	[OM_SAVED] = {"pageflex_objective_saved_bytes", "gauge",
		      "Memory of the objective's regions in swap at the last scan."},
	[OM_WORKING_SET] = {"pageflex_objective_working_set_bytes", "gauge",
			    "The working set the promotion rate is measured against."},
	[OM_TIGHTENS] = {"pageflex_objective_tightens_total", "counter",
			 "Times the controller lowered the cold age."},
	[OM_LOOSENS] = {"pageflex_objective_loosens_total", "counter",
			"Times the controller raised the cold age."},
	[OM_BACKOFFS] = {"pageflex_objective_backoffs_total", "counter",
			 "Times the controller backed off at once (the objective was missed)."},
};

/* g's value of metric m in the metric's unit; false if it has none. */
static bool objective_value(const struct pf_proc *p, const struct pf_objective_group *g,
			    enum objective_metric m, double *v)
{
	bool budget = g->cfg.kind == PF_OBJ_BUDGET;

	switch (m) {
	case OM_TARGET:
		*v = budget			     ? (double)(g->cfg.budget_pages * PAGE) :
		     g->cfg.kind == PF_OBJ_PROMOTION ? g->cfg.promotion_ppm / 1e6 :
						       g->cfg.stall_ppm / 1e6;
		return !budget || g->cfg.budget_pages;
	case OM_VALUE:
		*v = budget ? (double)(g->o.value * PAGE) : g->o.value / 1e6;
		return true;
	case OM_PREDICTED:
		*v = g->o.predicted / 1e6;
		return g->cfg.kind == PF_OBJ_PROMOTION && g->o.by_hist;
	case OM_COLD_AGE:
		*v = g->o.age_ms / 1e3;
		return true;
	case OM_UNREACHABLE:
		*v = g->o.unreachable;
		return true;
	case OM_REGIONS:
		*v = (double)g->regions;
		return true;
	case OM_RESIDENT:
		*v = (double)(g->resident * PAGE);
		return true;
	case OM_SAVED:
		*v = (double)(pf_agent_objective_saved_pages(p, g) * PAGE);
		return true;
	case OM_WORKING_SET:
		*v = (double)(g->o.ws_max * PAGE);
		return g->cfg.kind == PF_OBJ_PROMOTION;
	case OM_TIGHTENS:
		*v = (double)g->o.tightens;
		return true;
	case OM_LOOSENS:
		*v = (double)g->o.loosens;
		return true;
	case OM_BACKOFFS:
		*v = (double)g->o.backoffs;
		return true;
	default:
		return false;
	}
}

static void objectives(FILE *f)
{
	char labels[1024], rule[256], desc[128], d[64];
	size_t i, j;
	int m;

	for (m = 0; m < OM_COUNT; m++) {
		pf_prom_family(f, objective_meta[m].name, objective_meta[m].type,
			       objective_meta[m].help);
		for (i = 0; i < pf_proc_count(); i++) {
			const struct pf_proc *p = pf_proc_at(i);

			for (j = 0; j < p->objs.n; j++) {
				const struct pf_objective_group *g = &p->objs.g[j];
				double v;
				size_t n;

				pf_prom_escape(rule, sizeof(rule), g->rule);
				n = (size_t)snprintf(labels, sizeof(labels),
						     "pid=\"%d\",rule=\"%s\",kind=\"%s\"", p->pid,
						     rule, pf_objective_kind_name(g->cfg.kind));
				if (m == OM_INFO) {
					pf_objective_describe(&g->cfg, d, sizeof(d));
					pf_prom_escape(desc, sizeof(desc), d);
					snprintf(labels + n, sizeof(labels) - n,
						 ",objective=\"%s\"", desc);
					pf_prom_sample_u64(f, objective_meta[m].name, labels, 1);
				} else if (objective_value(p, g, (enum objective_metric)m, &v)) {
					pf_prom_sample(f, objective_meta[m].name, labels, v);
				}
			}
		}
	}
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void agent_u64(FILE *f, const char *name, const char *type, const char *help,
		      unsigned long long v)
{
	pf_prom_family(f, name, type, help);
	pf_prom_sample_u64(f, name, "", v);
}

static void agent(FILE *f)
{
	static const char *const fields[] = {"calls", "bytes", "errors"};
	struct rusage ru;
	char labels[128];
	uint64_t on, off;
	int a, i;

	getrusage(RUSAGE_SELF, &ru);
	pf_prom_family(f, "pageflex_agent_cpu_seconds_total", "counter",
		       "CPU time of pageflexd, by mode.");
	pf_prom_sample(f, "pageflex_agent_cpu_seconds_total", "mode=\"user\"", tv_s(ru.ru_utime));
	pf_prom_sample(f, "pageflex_agent_cpu_seconds_total", "mode=\"system\"", tv_s(ru.ru_stime));
	pf_prom_family(f, "pageflex_agent_uptime_seconds", "gauge",
		       "Time since pageflexd started.");
	pf_prom_sample(f, "pageflex_agent_uptime_seconds", "", pf_now_ms() / 1e3);
	agent_u64(f, "pageflex_agent_processes", "gauge", "Processes the agent manages.",
		  pf_proc_count());
	agent_u64(f, "pageflex_agent_regions", "gauge", "Regions the agent tracks.",
		  pf_regions_live());
	agent_u64(f, "pageflex_agent_scan_interval_milliseconds", "gauge",
		  "The agent's reclaim and scan period.", pf_agent_reclaim_interval_ms());
	agent_u64(f, "pageflex_agent_scanning", "gauge",
		  "1 if page-table scans work (0: see pageflexctl status).", pf_bpf_scan_ok());
	agent_u64(f, "pageflex_agent_scans_total", "counter", "Page-table scans of processes.",
		  pf_scan_totals.scans);
	agent_u64(f, "pageflex_agent_scan_failures_total", "counter", "Scans that failed.",
		  pf_scan_totals.failures);
	agent_u64(f, "pageflex_agent_scan_errors_total", "counter",
		  "Errors the scan program counted.", pf_bpf_scan_errors());
	pf_prom_family(f, "pageflex_agent_scan_seconds_total", "counter", "Time spent in scans.");
	pf_prom_sample(f, "pageflex_agent_scan_seconds_total", "", pf_scan_totals.ns / 1e9);
	agent_u64(f, "pageflex_agent_scan_pages_total", "counter", "Pages visited by scans.",
		  pf_scan_totals.pages);
	agent_u64(f, "pageflex_agent_slots_used", "gauge", "Page slots in use for scans.",
		  pf_slots_used());
	agent_u64(f, "pageflex_agent_slots_capacity", "gauge",
		  "Page slots for scans (--scan-capacity).", pf_slots_capacity());
	agent_u64(f, "pageflex_agent_paged_out_bytes_total", "counter",
		  "Memory the agent paged out.", pf_agent_reclaim_pages_out * PAGE);
	agent_u64(f, "pageflex_agent_cooled_bytes_total", "counter",
		  "Memory the agent deactivated.", pf_agent_reclaim_pages_cooled * PAGE);
	agent_u64(f, "pageflex_agent_ringbuf_dropped_total", "counter",
		  "Fault events lost to a full ring buffer.", pf_bpf_rb_dropped());
	agent_u64(f, "pageflex_agent_shim_connections_total", "counter",
		  "Shim connections accepted.", pf_shim_connections);
	agent_u64(f, "pageflex_agent_shim_bad_packets_total", "counter",
		  "Malformed packets from shims.", pf_shim_bad_packets);
	agent_u64(f, "pageflex_agent_prefetch_calls_total", "counter",
		  "Prefetch requests the agent made.", pf_agent_prefetch_calls);
	agent_u64(f, "pageflex_agent_prefetch_pages_total", "counter",
		  "Pages the agent asked to prefetch.", pf_agent_prefetch_pages);
	pf_bpf_fault_switches(&on, &off);
	agent_u64(f, "pageflex_agent_fault_program_attached", "gauge",
		  "1 while the fault program is attached.", pf_bpf_fault_attached());
	agent_u64(f, "pageflex_agent_fault_program_attaches_total", "counter",
		  "Times the fault program was attached on demand.", on);
	for (i = 0; i < 3; i++) {
		char name[96], help[96];

		snprintf(name, sizeof(name), "pageflex_agent_madvise_%s_total", fields[i]);
		snprintf(help, sizeof(help), "process_madvise %s, by advice.", fields[i]);
		pf_prom_family(f, name, "counter", help);
		for (a = 0; a < PF_ADV_MAX; a++) {
			const struct pf_act_stats *s = &pf_act_stats[a];

			snprintf(labels, sizeof(labels), "advice=\"%s\"",
				 pf_advice_name((enum pf_advice)a));
			pf_prom_sample_u64(f, name, labels,
					   (unsigned long long)(i == 0 ? s->calls :
								i == 1 ? s->bytes :
									 s->errors));
		}
	}
	pf_prom_family(f, "pageflex_agent_madvise_cpu_seconds_total", "counter",
		       "CPU time in process_madvise, by advice.");
	for (a = 0; a < PF_ADV_MAX; a++) {
		snprintf(labels, sizeof(labels), "advice=\"%s\"",
			 pf_advice_name((enum pf_advice)a));
		pf_prom_sample(f, "pageflex_agent_madvise_cpu_seconds_total", labels,
			       pf_act_stats[a].ns / 1e9);
	}
	pf_prom_family(f, "pageflex_agent_feature_enabled", "gauge",
		       "1 if a feature's BPF programs are loaded (its state as a label).");
	for (i = 0; i < PF_FEAT_COUNT; i++) {
		const struct pf_feature *ft = pf_bpf_feature((enum pf_feat_id)i);

		snprintf(labels, sizeof(labels), "feature=\"%s\",state=\"%s\"", ft->name,
			 pf_feat_state_name(ft->state));
		pf_prom_sample_u64(f, "pageflex_agent_feature_enabled", labels, pf_feature_on(ft));
	}
}

void pf_metrics_write(FILE *f)
{
	agent(f);
	processes(f);
	regions(f);
	objectives(f);
}
