// SPDX-License-Identifier: MIT
/*
 * Loading and attaching bpf/pageflex_agent.bpf.c (see bpfview.h): the
 * agent's feature table, feature-by-feature loading (bpf_features.c), the
 * attachments, the fault event ring buffer, and the skeleton the other
 * bpfview files use. The direct-map calibration is in calibration.c, the
 * maps the running agent reads and writes in bpf_tables.c.
 */
#include "bpfview_impl.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "log.h"

static struct pageflex_agent_bpf *skel;
static struct bpf_link *fault_link, *exec_link;
/* The fault program on demand (pf_bpf_opts.fault_on_demand). */
static bool fault_on_demand;
static unsigned fault_holds;
static uint64_t fault_attaches, fault_detaches;
static int fault_set(bool on);
static struct bpf_link **major_links;
static int *major_fds;
static int ncpus;
static struct ring_buffer *rb;
static struct pf_bpf_opts opts;
static struct bpf_program *fault_prog; /* the fault classifier's loaded variant */

static struct pf_feature feats[PF_FEAT_COUNT] = {
	[PF_FEAT_CALIBRATION] =
		{
			.name = "calibration",
			.needs = "Linux >= 5.17: iter/task_vma, bpf_loop",
			.what = "finds the kernel's direct map so that BPF can read page tables",
			.lost = "no page-table reads: no scanner, not-present faults are counted as "
				"unclassified, Leap runs in user space",
			.progs = {{"pf_calib"}},
		},
	[PF_FEAT_SCANNER] =
		{
			.name = "scanner",
			.needs = "Linux >= 5.17: iter/task_vma, bpf_loop",
			.what = "reads the accessed, present and swapped bits of managed pages",
			.lost = "no accessed-bit policies: regions bound to cold-age, lru, lfu or "
				"hyperbolic are watched but nothing is paged out; faults are still "
				"counted, the kernel policy and prefetch still work",
			.progs = {{"pf_scan"}},
		},
	[PF_FEAT_FAULTS] =
		{
			.name = "fault-classifier",
			.needs =
				"Linux >= 5.11: tp_btf, task storage; 6.2 for bpf_rdonly_cast (pf_fault)",
			.what = "counts each fault of a managed region as first touch, swap-in or "
				"swap-cache hit",
			.lost = "no fault or refault counts: promotion-rate thresholds and readahead "
				"see no refaults; reclaim by scans still works",
			.progs = {{"pf_fault"}, {"pf_fault_compat"}},
			.variant_note = {NULL,
					 "page-table reads by helper calls (slower per fault)"},
		},
	[PF_FEAT_MAJOR] =
		{
			.name = "major-faults",
			.needs = "Linux >= 5.11: task storage",
			.what = "tells swap-ins (major faults) from swap-cache hits",
			.lost = "swap-ins and swap-cache hits are not told apart, and every "
				"not-present fault of a managed region takes a page-table walk",
			.progs = {{"pf_major"}},
		},
	[PF_FEAT_EXEC] =
		{
			.name = "exec-tracking",
			.needs = "Linux >= 5.5: tp_btf",
			.what = "drops a managed process the moment it execs",
			.lost = "a process that execs keeps its old regions until it exits or its "
				"shim reconnects",
			.progs = {{"pf_exec"}},
		},
	[PF_FEAT_LEAP] =
		{
			.name = "leap",
			.needs = "Linux >= 5.11: tp_btf; 6.2 for bpf_rdonly_cast (pf_leap)",
			.what = "runs Leap's prefetch decisions on the fault path (pf_leap)",
			.lost = "Leap runs in user space on polled refault events (its prefetches "
				"come later)",
			.progs = {{"pf_leap"}, {"pf_leap_compat"}},
			.variant_note = {NULL,
					 "page-table reads by helper calls (slower per fault)"},
		},
};

struct pf_feature *pf_bpf_feature(enum pf_feat_id id)
{
	return &feats[id];
}

int pf_bpf_disable(const char *list, char *err, size_t errlen)
{
	return pf_features_disable(feats, PF_FEAT_COUNT, list, err, errlen);
}

struct pageflex_agent_bpf *pf_bpf_skel(void)
{
	return skel;
}

int pf_bpf_ncpus(void)
{
	return ncpus;
}

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && pf_log_verbosity < PF_LOG_DEBUG + 1)
		return 0;
	if (level == LIBBPF_INFO && pf_log_verbosity < PF_LOG_DEBUG)
		return 0;
	/* A program the kernel refuses is said once, by its feature's line
	 * (bpf_features.c); libbpf's own lines (and the verifier log) at -v. */
	if (level == LIBBPF_WARN && pf_log_verbosity < PF_LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int ring_cb(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(struct pfa_event) && opts.on_event)
		opts.on_event(data, opts.arg);
	return 0;
}

int pf_bpf_run_iter(struct bpf_program *prog, pid_t tid)
{
	union bpf_iter_link_info li;
	struct bpf_iter_attach_opts io;
	struct bpf_link *link;
	char buf[256];
	int fd, rc = 0;
	ssize_t n;

	/*
	 * Not LIBBPF_OPTS(): its compound literal may leave the trailing padding
	 * non-zero (seen with ASan), which libbpf rejects.
	 */
	memset(&li, 0, sizeof(li));
	li.task.tid = tid;
	memset(&io, 0, sizeof(io));
	io.sz = sizeof(io);
	io.link_info = &li;
	io.link_info_len = sizeof(li);
	link = bpf_program__attach_iter(prog, &io);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		rc = -errno;
		bpf_link__destroy(link);
		return rc;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		rc = -errno;
	close(fd);
	bpf_link__destroy(link);
	return rc;
}

static int attach_major(void)
{
	struct perf_event_attr attr;
	int cpu, ok = 0;

	major_links = calloc(ncpus, sizeof(*major_links));
	major_fds = malloc(ncpus * sizeof(*major_fds));
	if (!major_links || !major_fds)
		return -ENOMEM;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_PAGE_FAULTS_MAJ;
	attr.sample_period = 1;
	for (cpu = 0; cpu < ncpus; cpu++) {
		major_fds[cpu] =
			(int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (major_fds[cpu] < 0)
			continue; /* CPU offline */
		major_links[cpu] =
			bpf_program__attach_perf_event(skel->progs.pf_major, major_fds[cpu]);
		if (!major_links[cpu]) {
			close(major_fds[cpu]);
			major_fds[cpu] = -1;
			continue;
		}
		ok++;
	}
	return ok ? 0 : -ENODEV;
}

/* True when the kernel's automatic NUMA balancing is on (or cannot be read). */
static bool numa_balancing(void)
{
	FILE *f = fopen("/proc/sys/kernel/numa_balancing", "re");
	int v = 0;

	if (!f)
		return errno != ENOENT; /* no file: a kernel without NUMA balancing */
	if (fscanf(f, "%d", &v) != 1)
		v = 1;
	fclose(f);
	return v != 0;
}

/* Opens the skeleton and sizes its maps (again for every load attempt). */
static int open_skel(const struct pf_bpf_opts *o)
{
	skel = pageflex_agent_bpf__open();
	if (!skel)
		return -errno;
	pf_bpf_tables_size(skel, o);
	skel->bss->stream_first_touch = o->stream_first_touch;
	return 0;
}

/* Loads every feature the kernel accepts (see bpf_features.h). */
static int load_features(const struct pf_bpf_opts *o)
{
	int rc, tries;

	/* Each retry turns one feature off or to its fallback: bounded. */
	for (tries = 0; tries <= 2 * PF_FEAT_COUNT; tries++) {
		rc = open_skel(o);
		if (rc) {
			pf_err("failed to open the BPF object: %s", strerror(-rc));
			return rc;
		}
		pf_features_apply(feats, PF_FEAT_COUNT, skel->obj);
		rc = pageflex_agent_bpf__load(skel);
		if (!rc) {
			pf_features_loaded(feats, PF_FEAT_COUNT, skel->obj);
			return 0;
		}
		if (pf_features_blame(feats, PF_FEAT_COUNT, skel->obj, rc)) {
			pf_err("failed to load the BPF object, and no single feature is to blame: "
			       "%s (run `pageflexd --check`; -v shows libbpf's log)",
			       strerror(-rc));
			pageflex_agent_bpf__destroy(skel);
			skel = NULL;
			return rc;
		}
		pageflex_agent_bpf__destroy(skel);
		skel = NULL;
	}
	pf_err("failed to load the BPF object after %d attempts", tries);
	return -ELOOP;
}

int pf_bpf_open(const struct pf_bpf_opts *o)
{
	struct pf_feature *ff = &feats[PF_FEAT_FAULTS];
	int rc;

	opts = *o;
	libbpf_set_print(print_fn);
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		rc = -errno;
		pf_err("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s): PageFlex's BPF programs "
		       "need a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's are)",
		       strerror(-rc));
		return rc;
	}
	/* Per-CPU map values and per-CPU perf events: sized once, here. */
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		pf_err("cannot read the number of possible CPUs: %s", strerror(-ncpus));
		return ncpus ? ncpus : -EINVAL;
	}
	pf_bpf_tables_init(o);
	rc = load_features(o);
	if (rc)
		return rc;
	if (pf_feature_on(&feats[PF_FEAT_EXEC])) {
		exec_link = bpf_program__attach(skel->progs.pf_exec);
		if (!exec_link)
			pf_feature_fail(&feats[PF_FEAT_EXEC], -errno,
					"cannot attach tp_btf/sched_process_exec: %s",
					strerror(errno));
	}
	if (pf_feature_on(&feats[PF_FEAT_MAJOR])) {
		rc = attach_major();
		if (rc)
			pf_feature_fail(&feats[PF_FEAT_MAJOR], rc,
					"cannot attach a perf_event program to major faults: %s",
					strerror(-rc));
	}
	/*
	 * First touches without a page-table walk need the major-fault program
	 * (it catches pages the kernel swapped out of unmarked regions) and no
	 * NUMA balancing (its hinting faults would look like first touches).
	 */
	skel->bss->fast_first_touch = pf_feature_on(&feats[PF_FEAT_MAJOR]) && !numa_balancing();
	if (!skel->bss->fast_first_touch && pf_feature_on(ff))
		pf_info("every fault of a managed region is classified with a page-table walk (%s)",
			pf_feature_on(&feats[PF_FEAT_MAJOR]) ? "NUMA balancing is on" :
							       "no major-fault program");
	/*
	 * The fault program: at once, or on demand (it then costs the faults
	 * of managed processes nothing until a region may hold swapped pages;
	 * the same conditions as the walk-free first touch: pf_major catches
	 * the swap-ins meanwhile).
	 */
	if (pf_feature_on(ff)) {
		fault_prog = pf_bpf_prog(skel->obj, ff->progs[ff->variant][0]);
		fault_on_demand = o->fault_on_demand && skel->bss->fast_first_touch;
		if (!fault_on_demand && fault_set(true))
			pf_feature_fail(ff, -errno, "cannot attach tp_btf/page_fault_user: %s",
					strerror(errno));
		if (o->fault_on_demand && !fault_on_demand)
			pf_info("the fault program stays attached (%s)",
				pf_feature_on(&feats[PF_FEAT_MAJOR]) ? "NUMA balancing is on" :
								       "no major-fault program");
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), ring_cb, NULL, NULL);
	rc = pf_bpf_tables_map();
	if (!rb || rc) {
		rc = -ENOMEM;
		pf_err("failed to map the BPF ring buffer or arrays");
		goto fail;
	}
	pf_bpf_calibrate(opts.corrupt_calibration);
	pf_features_log(feats, PF_FEAT_LEAP); /* Leap's own line comes with it */
	return 0;
fail:
	pf_bpf_close();
	return rc;
}

void pf_bpf_close(void)
{
	int cpu;

	if (major_links) {
		for (cpu = 0; cpu < ncpus; cpu++) {
			bpf_link__destroy(major_links[cpu]);
			if (major_fds[cpu] >= 0)
				close(major_fds[cpu]);
		}
		free(major_links);
		free(major_fds);
		major_links = NULL;
		major_fds = NULL;
	}
	bpf_link__destroy(fault_link);
	fault_link = NULL;
	fault_on_demand = false;
	fault_holds = 0;
	bpf_link__destroy(exec_link);
	exec_link = NULL;
	ring_buffer__free(rb);
	rb = NULL;
	pf_bpf_tables_unmap();
	pageflex_agent_bpf__destroy(skel);
	skel = NULL;
	fault_prog = NULL;
	pf_bpf_calibration_reset();
}

/*
 * Attaches, then tells pf_major; untells, then detaches: in between both
 * pf_fault and pf_major run, and pf_major's pending-page check counts the
 * swap-in once.
 */
static int fault_set(bool on)
{
	if (!on) {
		if (skel)
			skel->bss->fault_attached = 0;
		bpf_link__destroy(fault_link);
		fault_link = NULL;
		return 0;
	}
	if (fault_link)
		return 0;
	if (!fault_prog)
		return -ENOTSUP;
	fault_link = bpf_program__attach(fault_prog);
	if (!fault_link)
		return -errno;
	skel->bss->fault_attached = 1;
	return 0;
}

int pf_bpf_fault_attach(bool on)
{
	return fault_set(on);
}

void pf_bpf_fault_need(bool need)
{
	static long long last;
	int rc;

	if (!fault_on_demand || (need || fault_holds) == (fault_link != NULL))
		return;
	rc = fault_set(need || fault_holds);
	if (rc) {
		pf_log_limited(&last, PF_LOG_WARN,
			       "cannot attach the fault program: %s; refaults are counted by "
			       "the major-fault program alone",
			       strerror(-rc));
		return;
	}
	if (fault_link)
		fault_attaches++;
	else
		fault_detaches++;
}

void pf_bpf_fault_hold(bool on)
{
	if (on)
		fault_holds++;
	else if (fault_holds)
		fault_holds--;
	pf_bpf_fault_need(on);
}

bool pf_bpf_fault_attached(void)
{
	return fault_link != NULL;
}

bool pf_bpf_fault_on_demand(void)
{
	return fault_on_demand;
}

void pf_bpf_fault_switches(uint64_t *attaches, uint64_t *detaches)
{
	*attaches = fault_attaches;
	*detaches = fault_detaches;
}

int pf_bpf_fault_prog_stats(uint64_t *runs, uint64_t *ns)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (!fault_prog || bpf_obj_get_info_by_fd(bpf_program__fd(fault_prog), &info, &len))
		return -errno;
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

int pf_bpf_map_fd(const char *name)
{
	return skel ? bpf_object__find_map_fd_by_name(skel->obj, name) : -ENOENT;
}

int pf_bpf_poll(void)
{
	return rb ? ring_buffer__consume(rb) : 0;
}

void pf_bpf_stream_first_touch(bool on)
{
	if (skel)
		skel->bss->stream_first_touch = on || opts.stream_first_touch;
	pf_bpf_fault_hold(on); /* every first touch: the program stays attached meanwhile */
}

int pf_bpf_events_fd(void)
{
	return rb ? ring_buffer__epoll_fd(rb) : -1;
}

uint64_t pf_bpf_rb_dropped(void)
{
	return skel ? skel->bss->rb_dropped : 0;
}
