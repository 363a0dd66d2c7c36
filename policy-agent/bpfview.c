// SPDX-License-Identifier: MIT
/*
 * Loading, calibrating and driving bpf/pageflex_agent.bpf.c (see
 * bpfview.h). The direct-map calibration (docs/design.md): a random
 * magic in a locked page of the agent, its PFN from /proc/self/pagemap, and
 * 1 GiB-aligned candidates below the agent's own mm->pgd (a direct-map
 * pointer) until the magic is found; then the page-table walker must
 * translate two locked pages to their pagemap PFNs, with 4- or 5-level
 * paging, or every page-table read stays disabled.
 */
#include "bpfview.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "log.h"
#include "pageflex_agent.skel.h"

#define X86_ADDR_MASK 0x000ffffffffff000ULL
#define CALIB_CANDIDATES 65536 /* 1 GiB steps: 64 TiB below mm->pgd */

static struct pageflex_agent_bpf *skel;
static struct bpf_link *fault_link, *exec_link;
static struct bpf_link **major_links;
static int *major_fds;
static int ncpus;
static struct ring_buffer *rb;
static struct pfa_scan_req *reqs;
static uint64_t nreqs_max;
static uint32_t *states;
const uint64_t *pf_bpf_scan_words;
static size_t reqs_sz, words_sz, states_sz;
static struct pf_bpf_opts opts;
static uint32_t *reset_ids; /* region ids whose counters must be zeroed */
static size_t nreset, reset_cap;
static int flush_resets(void);
static uint32_t max_procs;
static uint64_t *proc_tab; /* mmapped proc_tab map, proc_tab_len words */
static size_t proc_tab_len, proc_tab_sz;
static uint8_t slot_used[PFA_MAX_PROCS];
static char dmap_err[256] = "not calibrated";
static bool dmap_ok;
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

struct pageflex_agent_bpf *pf_bpf_skel(void)
{
	return skel;
}

struct pf_feature *pf_bpf_feature(enum pf_feat_id id)
{
	return &feats[id];
}

int pf_bpf_disable(const char *list, char *err, size_t errlen)
{
	return pf_features_disable(feats, PF_FEAT_COUNT, list, err, errlen);
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

static void *map_mmap(struct bpf_map *m, size_t *sz)
{
	size_t len = (size_t)bpf_map__max_entries(m) * bpf_map__value_size(m);
	void *p;

	len = (len + 4095) & ~(size_t)4095;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED)
		return NULL;
	*sz = len;
	return p;
}

/* Runs an iter/task_vma program over the VMAs of one task, to completion. */
static int run_iter(struct bpf_program *prog, pid_t tid)
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

static int pagemap_pfn(void *va, uint64_t *pfn)
{
	uint64_t e;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &e, sizeof(e), (off_t)((uintptr_t)va / 4096 * sizeof(e)));
	close(fd);
	if (n != sizeof(e))
		return -EIO;
	if (!(e >> 63))
		return -ENOENT;
	*pfn = e & ((1ULL << 55) - 1);
	return *pfn ? 0 : -EPERM;
}

static int xlate_err;

/* Translates va with the current base/levels; returns the PFN or 0. */
static uint64_t xlate(void *va)
{
	skel->bss->calib_mode = 1;
	skel->bss->xlate_va = (uintptr_t)va;
	skel->bss->xlate_level = -2;
	skel->bss->xlate_entry = 0;
	xlate_err = run_iter(skel->progs.pf_calib, (pid_t)syscall(SYS_gettid));
	if (xlate_err)
		return 0;
	if (skel->bss->xlate_level != 1 || !(skel->bss->xlate_entry & 1))
		return 0;
	return (skel->bss->xlate_entry & X86_ADDR_MASK) >> 12;
}

static int calibrate(void)
{
	uint64_t magic[2][2], pfn[2], base;
	unsigned char *pg;
	int i, rc, levels;

	pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED)
		return -errno;
	madvise(pg, 8192, MADV_NOHUGEPAGE);
	if (mlock(pg, 8192)) {
		rc = -errno;
		snprintf(dmap_err, sizeof(dmap_err), "mlock of the calibration pages failed: %s",
			 strerror(errno));
		goto out;
	}
	if (getrandom(magic, sizeof(magic), 0) != sizeof(magic)) {
		rc = -EIO;
		snprintf(dmap_err, sizeof(dmap_err), "getrandom failed");
		goto out;
	}
	for (i = 0; i < 2; i++) {
		memcpy(pg + i * 4096, magic[i], sizeof(magic[i]));
		rc = pagemap_pfn(pg + i * 4096, &pfn[i]);
		if (rc) {
			snprintf(
				dmap_err, sizeof(dmap_err),
				"cannot read PFNs from /proc/self/pagemap (%s): needs CAP_SYS_ADMIN",
				strerror(-rc));
			goto out;
		}
	}
	skel->bss->calib_mode = 0;
	skel->bss->calib_pa = pfn[0] << 12;
	memcpy(skel->bss->calib_magic, magic[0], sizeof(magic[0]));
	skel->bss->calib_max = CALIB_CANDIDATES;
	rc = run_iter(skel->progs.pf_calib, (pid_t)syscall(SYS_gettid));
	/* Do not leave a copy of the magic around in the BPF globals. */
	memset(skel->bss->calib_magic, 0, sizeof(skel->bss->calib_magic));
	if (rc) {
		snprintf(dmap_err, sizeof(dmap_err), "calibration iterator failed: %s",
			 strerror(-rc));
		goto out;
	}
	base = skel->bss->calib_found;
	/* Test hook: a wrong base must be caught by the validation below. */
	if (base && opts.corrupt_calibration)
		base += 1ull << 30;
	if (!base || base & ((1ULL << 30) - 1) || base < 0xff00000000000000ULL) {
		rc = -ENOENT;
		snprintf(dmap_err, sizeof(dmap_err),
			 "direct-map base not found (magic not seen below mm->pgd %#llx)",
			 (unsigned long long)skel->bss->calib_pgd);
		goto out;
	}
	skel->bss->dmap_base = base;
	rc = -EINVAL;
	for (levels = 4; levels <= 5; levels++) {
		skel->bss->pt_levels = levels;
		if (xlate(pg) == pfn[0] && xlate(pg + 4096) == pfn[1]) {
			rc = 0;
			break;
		}
	}
	if (rc && xlate_err) {
		snprintf(dmap_err, sizeof(dmap_err),
			 "validation could not run: the translation iterator failed: %s",
			 strerror(-xlate_err));
		skel->bss->dmap_base = 0;
		goto out;
	}
	if (rc) {
		snprintf(dmap_err, sizeof(dmap_err),
			 "validation failed: with direct-map base %#llx neither a 4- nor a 5-level "
			 "walk translates the calibration pages to their pagemap PFNs",
			 (unsigned long long)base);
		skel->bss->dmap_base = 0;
		goto out;
	}
	/* The magic must also be readable through the base for page 2. */
	dmap_ok = true;
	skel->bss->dmap_ok = 1;
	snprintf(dmap_err, sizeof(dmap_err), "ok");
	pf_info("direct map at %#llx, %d-level paging (validated on 2 pages)",
		(unsigned long long)base, levels);
out:
	munmap(pg, 8192);
	return rc;
}

/* The kernel's pid_max: proc_tab has one word per possible tgid. */
static size_t read_pid_max(void)
{
	unsigned long v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v >= 301 && v <= PFA_PID_MAX ? v : PFA_PID_MAX;
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
	uint64_t chunks;

	skel = pageflex_agent_bpf__open();
	if (!skel)
		return -errno;
	bpf_map__set_max_entries(skel->maps.region_ents, max_procs * 2 * PFA_PROC_TABLE);
	bpf_map__set_max_entries(skel->maps.proc_tab, (uint32_t)proc_tab_len);
	chunks = o->capacity_pages / PFA_CHUNK_PAGES;
	if (!chunks)
		chunks = 1;
	bpf_map__set_max_entries(skel->maps.scan_bits, (uint32_t)chunks);
	bpf_map__set_max_entries(skel->maps.page_state, (uint32_t)chunks);
	/* Pieces of one region may share a boundary chunk: room for 2x. */
	bpf_map__set_max_entries(skel->maps.scan_req, (uint32_t)(2 * chunks + PFA_PROC_TABLE));
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
	max_procs = o->max_procs ? o->max_procs : 64;
	if (max_procs > PFA_MAX_PROCS)
		max_procs = PFA_MAX_PROCS;
	memset(slot_used, 0, sizeof(slot_used));
	proc_tab_len = read_pid_max();
	rc = load_features(o);
	if (rc)
		return rc;
	if (pf_feature_on(ff)) {
		fault_prog = pf_bpf_prog(skel->obj, ff->progs[ff->variant][0]);
		fault_link = bpf_program__attach(fault_prog);
		if (!fault_link)
			pf_feature_fail(ff, -errno, "cannot attach tp_btf/page_fault_user: %s",
					strerror(errno));
	}
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
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), ring_cb, NULL, NULL);
	reqs = map_mmap(skel->maps.scan_req, &reqs_sz);
	proc_tab = map_mmap(skel->maps.proc_tab, &proc_tab_sz);
	pf_bpf_scan_words = map_mmap(skel->maps.scan_bits, &words_sz);
	states = map_mmap(skel->maps.page_state, &states_sz);
	if (!rb || !reqs || !pf_bpf_scan_words || !states || !proc_tab) {
		rc = -ENOMEM;
		pf_err("failed to map the BPF ring buffer or arrays");
		goto fail;
	}
	nreqs_max = bpf_map__max_entries(skel->maps.scan_req);
	if (!pf_feature_on(&feats[PF_FEAT_CALIBRATION]))
		snprintf(dmap_err, sizeof(dmap_err), "the calibration program is %s (%.200s)",
			 feats[PF_FEAT_CALIBRATION].state == PF_FEAT_OFF ? "off" : "not loaded",
			 feats[PF_FEAT_CALIBRATION].why);
	else if (calibrate())
		pf_err("page-table scanning disabled: direct-map calibration: %s", dmap_err);
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
	bpf_link__destroy(exec_link);
	exec_link = NULL;
	ring_buffer__free(rb);
	rb = NULL;
	if (reqs)
		munmap(reqs, reqs_sz);
	if (proc_tab)
		munmap(proc_tab, proc_tab_sz);
	proc_tab = NULL;
	if (pf_bpf_scan_words)
		munmap((void *)pf_bpf_scan_words, words_sz);
	if (states)
		munmap(states, states_sz);
	reqs = NULL;
	pf_bpf_scan_words = NULL;
	states = NULL;
	pageflex_agent_bpf__destroy(skel);
	skel = NULL;
	fault_prog = NULL;
	dmap_ok = false;
	free(reset_ids);
	reset_ids = NULL;
	nreset = reset_cap = 0;
}

int pf_bpf_fault_attach(bool on)
{
	if (!on) {
		bpf_link__destroy(fault_link);
		fault_link = NULL;
		return 0;
	}
	if (fault_link)
		return 0;
	if (!fault_prog)
		return -ENOTSUP;
	fault_link = bpf_program__attach(fault_prog);
	return fault_link ? 0 : -errno;
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

bool pf_bpf_dmap_ok(void)
{
	return dmap_ok;
}

const char *pf_bpf_dmap_error(void)
{
	return dmap_err;
}

uint64_t pf_bpf_dmap_base(void)
{
	return skel ? skel->bss->dmap_base : 0;
}

int pf_bpf_pt_levels(void)
{
	return skel && dmap_ok ? (int)skel->bss->pt_levels : 0;
}

uint32_t pf_bpf_max_procs(void)
{
	return max_procs;
}

/* Publishes where pid's table is (n entries at base), or unmanages it (n = ~0). */
static int set_info(pid_t pid, uint32_t base, uint32_t n)
{
	uint64_t w = n == UINT32_MAX ? 0 : (uint64_t)base << 32 | (n + 1);

	if (pid <= 0 || (uint64_t)pid >= proc_tab_len)
		return -ERANGE;
	__atomic_store_n(&proc_tab[pid], w, __ATOMIC_RELEASE);
	return 0;
}

static uint32_t bank_base(const struct pf_bpf_proc *bp, int bank)
{
	return ((uint32_t)bp->slot * 2 + (uint32_t)bank) * PFA_PROC_TABLE;
}

int pf_bpf_proc_add(struct pf_bpf_proc *bp, pid_t pid)
{
	uint32_t i;
	int rc;

	bp->slot = -1;
	if (pid <= 0 || (uint64_t)pid >= proc_tab_len)
		return -ERANGE; /* pid_max grew after the agent started */
	for (i = 0; i < max_procs; i++)
		if (!slot_used[i])
			break;
	if (i == max_procs)
		return -ENOSPC;
	bp->slot = (int)i;
	bp->active = 0;
	rc = set_info(pid, bank_base(bp, 0), 0);
	if (rc) {
		bp->slot = -1;
		return rc;
	}
	slot_used[i] = 1;
	return 0;
}

void pf_bpf_proc_del(struct pf_bpf_proc *bp, pid_t pid)
{
	if (bp->slot < 0)
		return;
	set_info(pid, 0, UINT32_MAX);
	slot_used[bp->slot] = 0;
	bp->slot = -1;
}

int pf_bpf_proc_sync(struct pf_bpf_proc *bp, pid_t pid, const struct pf_rtable *t)
{
	int idle = bp->active ^ 1, rc = 0;
	uint32_t base = bank_base(bp, idle), count = (uint32_t)t->n, i;
	struct pfa_region_ent *vals = NULL;
	uint32_t *keys = NULL;

	if (bp->slot < 0)
		return -EINVAL;
	if (t->n > PFA_PROC_TABLE)
		return -E2BIG;
	/* Counters of new regions are zeroed before the regions become visible. */
	rc = flush_resets();
	if (rc)
		return rc;
	if (count) {
		keys = malloc(count * sizeof(*keys));
		vals = calloc(count, sizeof(*vals));
		if (!keys || !vals) {
			rc = -ENOMEM;
			goto out;
		}
		for (i = 0; i < count; i++) {
			keys[i] = base + i;
			vals[i].start = t->p[i].start;
			vals[i].end = t->p[i].end;
			vals[i].id = t->p[i].ri->id;
		}
		if (bpf_map_update_batch(bpf_map__fd(skel->maps.region_ents), keys, vals, &count,
					 NULL)) {
			rc = -errno;
			goto out;
		}
	}
	rc = set_info(pid, base, (uint32_t)t->n);
	if (!rc)
		bp->active = idle;
out:
	free(keys);
	free(vals);
	return rc;
}

/* The kernel copies per-CPU values in 8-byte-rounded slots: keep it exact. */
_Static_assert(sizeof(struct pfa_region_stats) % 8 == 0, "per-CPU value size");

int pf_bpf_region_stats(uint32_t id, struct pfa_region_stats *out)
{
	struct pfa_region_stats v[ncpus];
	int cpu;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.region_stats), &id, v))
		return -errno;
	for (cpu = 0; cpu < ncpus; cpu++) {
		out->first_touch += v[cpu].first_touch;
		out->swap_faults += v[cpu].swap_faults;
		out->swapin_major += v[cpu].swapin_major;
		out->other_major += v[cpu].other_major;
		out->present += v[cpu].present;
		out->unknown += v[cpu].unknown;
	}
	return 0;
}

/*
 * New region ids get zeroed counters, in one batched bpf() call per table
 * publish instead of one per region (a process mapping thousands of regions
 * a second must not make the agent slow per packet).
 */
void pf_bpf_region_reset(uint32_t id)
{
	if (!skel)
		return;
	pf_bpf_region_wake(id, false);
	pf_bpf_region_set_flags(id, 0);
	if (nreset == reset_cap) {
		size_t cap = reset_cap ? reset_cap * 2 : 256;
		uint32_t *ids = realloc(reset_ids, cap * sizeof(*ids));

		if (!ids)
			return;
		reset_ids = ids;
		reset_cap = cap;
	}
	reset_ids[nreset++] = id;
}

static int flush_resets(void)
{
	size_t per = (size_t)ncpus * sizeof(struct pfa_region_stats);
	uint32_t count = (uint32_t)nreset;
	void *zeros;
	int rc = 0;

	if (!nreset)
		return 0;
	zeros = calloc(nreset, per);
	if (!zeros)
		return -ENOMEM;
	if (bpf_map_update_batch(bpf_map__fd(skel->maps.region_stats), reset_ids, zeros, &count,
				 NULL))
		rc = -errno;
	free(zeros);
	nreset = 0;
	return rc;
}

int pf_bpf_poll(void)
{
	return rb ? ring_buffer__consume(rb) : 0;
}

void pf_bpf_stream_first_touch(bool on)
{
	if (skel)
		skel->bss->stream_first_touch = on || opts.stream_first_touch;
}

int pf_bpf_events_fd(void)
{
	return rb ? ring_buffer__epoll_fd(rb) : -1;
}

void pf_bpf_region_wake(uint32_t id, bool wake)
{
	if (skel && id < PFA_MAX_REGIONS)
		__atomic_store_n(&skel->bss->region_wake[id], wake ? 1 : 0, __ATOMIC_RELAXED);
}

/*
 * Region flags: a byte per region id that the fault program reads and,
 * for PFA_RF_OUT, may set itself (pf_major). A set racing with a clear here
 * is harmless either way: the next scan decides again.
 */
void pf_bpf_region_set_flags(uint32_t id, unsigned flags)
{
	if (skel && id < PFA_MAX_REGIONS)
		__atomic_store_n(&skel->bss->region_flags[id], (uint8_t)flags, __ATOMIC_RELAXED);
}

unsigned pf_bpf_region_flags(uint32_t id)
{
	if (!skel || id >= PFA_MAX_REGIONS)
		return 0;
	return __atomic_load_n(&skel->bss->region_flags[id], __ATOMIC_RELAXED);
}

void pf_bpf_region_mark_out(uint32_t id, bool out)
{
	unsigned f = pf_bpf_region_flags(id);

	if (!!(f & PFA_RF_OUT) != out)
		pf_bpf_region_set_flags(id, out ? f | PFA_RF_OUT : f & ~PFA_RF_OUT);
}

uint64_t pf_bpf_rb_dropped(void)
{
	return skel ? skel->bss->rb_dropped : 0;
}

struct pfa_scan_req *pf_bpf_scan_reqs(uint64_t *max)
{
	*max = nreqs_max;
	return reqs;
}

bool pf_bpf_scan_ok(void)
{
	return dmap_ok && pf_feature_on(&feats[PF_FEAT_SCANNER]);
}

const char *pf_bpf_scan_error(void)
{
	static char buf[300];

	if (!dmap_ok)
		return dmap_err;
	if (pf_bpf_scan_ok())
		return "ok";
	snprintf(buf, sizeof(buf), "the scanner is %s (%s)",
		 feats[PF_FEAT_SCANNER].state == PF_FEAT_OFF ? "off" : "not loaded",
		 feats[PF_FEAT_SCANNER].why);
	return buf;
}

int pf_bpf_scan(pid_t pid, uint32_t n)
{
	if (!pf_bpf_scan_ok())
		return -EOPNOTSUPP;
	if (n > nreqs_max)
		return -E2BIG;
	skel->bss->scan_nreq = n;
	return run_iter(skel->progs.pf_scan, pid);
}

uint32_t *pf_bpf_page_state(void)
{
	return states;
}

uint64_t pf_bpf_scan_errors(void)
{
	return skel ? skel->bss->scan_errors : 0;
}
