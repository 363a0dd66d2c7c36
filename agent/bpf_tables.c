// SPDX-License-Identifier: MIT
/*
 * The BPF maps the running agent reads and writes (see bpfview.h), apart
 * from loading (bpf_load.c): per-process region tables (proc_tab and two
 * banks of region_ents per process slot), per-region fault counters and
 * flags, and the scanner's request, result and per-page state arrays. The
 * arrays the agent touches per page or per table publish are mmapped.
 */
#include "bpfview_impl.h"
#include "grow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static struct pfa_scan_req *reqs;
static uint64_t nreqs_max;
static uint32_t *states;
const uint64_t *pf_bpf_scan_words;
static size_t reqs_sz, words_sz, states_sz;
static uint32_t *reset_ids; /* region ids whose counters must be zeroed */
static size_t nreset, reset_cap;
static int flush_resets(void);
static uint32_t max_procs;
static uint64_t *proc_tab; /* mmapped proc_tab map, proc_tab_len words */
static size_t proc_tab_len, proc_tab_sz;
static uint8_t slot_used[PFA_MAX_PROCS];

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

void pf_bpf_tables_init(const struct pf_bpf_opts *o)
{
	max_procs = o->max_procs ? o->max_procs : 64;
	if (max_procs > PFA_MAX_PROCS)
		max_procs = PFA_MAX_PROCS;
	memset(slot_used, 0, sizeof(slot_used));
	proc_tab_len = read_pid_max();
}

void pf_bpf_tables_size(struct pageflex_agent_bpf *skel, const struct pf_bpf_opts *o)
{
	uint64_t chunks;

	bpf_map__set_max_entries(skel->maps.region_ents, max_procs * 2 * PFA_PROC_TABLE);
	bpf_map__set_max_entries(skel->maps.proc_tab, (uint32_t)proc_tab_len);
	chunks = o->capacity_pages / PFA_CHUNK_PAGES;
	if (!chunks)
		chunks = 1;
	bpf_map__set_max_entries(skel->maps.scan_bits, (uint32_t)chunks);
	bpf_map__set_max_entries(skel->maps.page_state, (uint32_t)chunks);
	/* Pieces of one region may share a boundary chunk: room for 2x. */
	bpf_map__set_max_entries(skel->maps.scan_req, (uint32_t)(2 * chunks + PFA_PROC_TABLE));
}

int pf_bpf_tables_map(void)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	reqs = map_mmap(skel->maps.scan_req, &reqs_sz);
	proc_tab = map_mmap(skel->maps.proc_tab, &proc_tab_sz);
	pf_bpf_scan_words = map_mmap(skel->maps.scan_bits, &words_sz);
	states = map_mmap(skel->maps.page_state, &states_sz);
	if (!reqs || !pf_bpf_scan_words || !states || !proc_tab)
		return -ENOMEM;
	nreqs_max = bpf_map__max_entries(skel->maps.scan_req);
	return 0;
}

void pf_bpf_tables_unmap(void)
{
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
	free(reset_ids);
	reset_ids = NULL;
	nreset = reset_cap = 0;
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
	struct pageflex_agent_bpf *skel = pf_bpf_skel();
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
	struct pageflex_agent_bpf *skel = pf_bpf_skel();
	int ncpus = pf_bpf_ncpus();
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
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	if (!skel)
		return;
	pf_bpf_region_wake(id, false);
	pf_bpf_region_set_flags(id, 0);
	if (PF_GROW(reset_ids, reset_cap, nreset + 1, 256))
		return;
	reset_ids[nreset++] = id;
}

static int flush_resets(void)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();
	size_t per = (size_t)pf_bpf_ncpus() * sizeof(struct pfa_region_stats);
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

void pf_bpf_region_wake(uint32_t id, bool wake)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

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
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	if (skel && id < PFA_MAX_REGIONS)
		__atomic_store_n(&skel->bss->region_flags[id], (uint8_t)flags, __ATOMIC_RELAXED);
}

unsigned pf_bpf_region_flags(uint32_t id)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	if (!skel || id >= PFA_MAX_REGIONS)
		return 0;
	return __atomic_load_n(&skel->bss->region_flags[id], __ATOMIC_RELAXED);
}

void pf_bpf_region_mark_out(uint32_t id, bool out)
{
	unsigned f = pf_bpf_region_flags(id);

	/* Before the pageout: its refaults are the fault program's to classify. */
	if (out)
		pf_bpf_fault_need(true);
	if (!!(f & PFA_RF_OUT) != out)
		pf_bpf_region_set_flags(id, out ? f | PFA_RF_OUT : f & ~PFA_RF_OUT);
}

struct pfa_scan_req *pf_bpf_scan_reqs(uint64_t *max)
{
	*max = nreqs_max;
	return reqs;
}

bool pf_bpf_scan_ok(void)
{
	return pf_bpf_dmap_ok() && pf_feature_on(pf_bpf_feature(PF_FEAT_SCANNER));
}

const char *pf_bpf_scan_error(void)
{
	static char buf[300];
	const struct pf_feature *f = pf_bpf_feature(PF_FEAT_SCANNER);

	if (!pf_bpf_dmap_ok())
		return pf_bpf_dmap_error();
	if (pf_bpf_scan_ok())
		return "ok";
	snprintf(buf, sizeof(buf), "the scanner is %s (%s)",
		 f->state == PF_FEAT_OFF ? "off" : "not loaded", f->why);
	return buf;
}

int pf_bpf_scan(pid_t pid, uint32_t n)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	if (!pf_bpf_scan_ok())
		return -EOPNOTSUPP;
	if (n > nreqs_max)
		return -E2BIG;
	skel->bss->scan_nreq = n;
	return pf_bpf_run_iter(skel->progs.pf_scan, pid);
}

uint32_t *pf_bpf_page_state(void)
{
	return states;
}

uint64_t pf_bpf_scan_errors(void)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	return skel ? skel->bss->scan_errors : 0;
}
