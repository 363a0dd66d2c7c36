// SPDX-License-Identifier: MIT
/*
 * The direct-map calibration (docs/design.md), kept apart from loading
 * (bpf_load.c) because every page-table read of the agent's BPF programs
 * depends on its result and nothing else: a random magic in a locked page
 * of the agent, its PFN from /proc/self/pagemap, and 1 GiB-aligned
 * candidates below the agent's own mm->pgd (a direct-map pointer) until the
 * magic is found; then the page-table walker must translate two locked
 * pages to their pagemap PFNs, with 4- or 5-level paging, or every
 * page-table read stays disabled.
 */
#include "bpfview_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define X86_ADDR_MASK 0x000ffffffffff000ULL
#define CALIB_CANDIDATES 65536 /* 1 GiB steps: 64 TiB below mm->pgd */

static char dmap_err[256] = "not calibrated";
static bool dmap_ok;

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
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	skel->bss->calib_mode = 1;
	skel->bss->xlate_va = (uintptr_t)va;
	skel->bss->xlate_level = -2;
	skel->bss->xlate_entry = 0;
	xlate_err = pf_bpf_run_iter(skel->progs.pf_calib, (pid_t)syscall(SYS_gettid));
	if (xlate_err)
		return 0;
	if (skel->bss->xlate_level != 1 || !(skel->bss->xlate_entry & 1))
		return 0;
	return (skel->bss->xlate_entry & X86_ADDR_MASK) >> 12;
}

static int calibrate(bool corrupt)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();
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
	rc = pf_bpf_run_iter(skel->progs.pf_calib, (pid_t)syscall(SYS_gettid));
	/* Do not leave a copy of the magic around in the BPF globals. */
	memset(skel->bss->calib_magic, 0, sizeof(skel->bss->calib_magic));
	if (rc) {
		snprintf(dmap_err, sizeof(dmap_err), "calibration iterator failed: %s",
			 strerror(-rc));
		goto out;
	}
	base = skel->bss->calib_found;
	/* Test hook: a wrong base must be caught by the validation below. */
	if (base && corrupt)
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

void pf_bpf_calibrate(bool corrupt)
{
	struct pf_feature *f = pf_bpf_feature(PF_FEAT_CALIBRATION);

	if (!pf_feature_on(f))
		snprintf(dmap_err, sizeof(dmap_err), "the calibration program is %s (%.200s)",
			 f->state == PF_FEAT_OFF ? "off" : "not loaded", f->why);
	else if (calibrate(corrupt))
		pf_err("page-table scanning disabled: direct-map calibration: %s", dmap_err);
}

void pf_bpf_calibration_reset(void)
{
	dmap_ok = false;
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
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	return skel ? skel->bss->dmap_base : 0;
}

int pf_bpf_pt_levels(void)
{
	struct pageflex_agent_bpf *skel = pf_bpf_skel();

	return skel && dmap_ok ? (int)skel->bss->pt_levels : 0;
}
