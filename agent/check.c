// SPDX-License-Identifier: MIT
/*
 * pageflexd --check: probes the kernel and the machine without managing
 * anything, and prints one table: BTF, every BPF program of the agent's
 * objects loaded alone (verified instructions, or the verifier's last
 * word), the features as pageflexd would run them, the direct-map
 * calibration, process_madvise with each advice the agent uses,
 * SO_PEERPIDFD, swap devices, the cgroup version and the THP setting.
 * Exit status 0 when everything the default configuration needs works
 * (rows marked "required"), 1 otherwise. For a user whose agent does not
 * start, and for the kernel matrix (test/kernels/).
 */
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "bpfview.h"
#include "leap_bpf.h"
#include "log.h"
#include "pageflex_agent.skel.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define CGROUP2_MAGIC 0x63677270
#define VERIFIER_BUDGET 200000 /* a fifth of the verifier's limit (test_bpf_margins) */

static int failed_required;

/* One row: what, its result (ok, FAIL, warn, off, info), detail. A FAIL of a
 * required row makes the exit status 1. */
static void row(const char *what, const char *result, bool required, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void row(const char *what, const char *result, bool required, const char *fmt, ...)
{
	char detail[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (required && !strcmp(result, "FAIL"))
		failed_required++;
	printf("%-40s %-6s %-9s %s\n", what, result, required ? "required" : "optional", detail);
}

static void check_btf(void)
{
	struct stat st;

	if (stat("/sys/kernel/btf/vmlinux", &st))
		row("kernel BTF", "FAIL", true,
		    "/sys/kernel/btf/vmlinux: %s: the kernel needs CONFIG_DEBUG_INFO_BTF=y",
		    strerror(errno));
	else
		row("kernel BTF", "ok", true, "/sys/kernel/btf/vmlinux, %.1f MiB",
		    st.st_size / 1048576.0);
}

static void probe(const char *object, const void *elf, size_t sz)
{
	struct pf_prog_probe r[32];
	int n = pf_bpf_probe_object(object, elf, sz, r, 32), i;
	char what[80];

	if (n < 0) {
		row(object, "FAIL", true, "cannot open the object: %s", strerror(-n));
		return;
	}
	for (i = 0; i < n && i < 32; i++) {
		snprintf(what, sizeof(what), "program %s/%s", object, r[i].prog);
		if (r[i].err)
			row(what, "warn", false, "not loaded: %s", r[i].why);
		else
			row(what, r[i].verified_insns > VERIFIER_BUDGET ? "warn" : "ok", false,
			    "%u insns verified (budget %u)", r[i].verified_insns, VERIFIER_BUDGET);
	}
}

/* The features as pageflexd runs them: calibration, scanner and the fault
 * classifier are what the default configuration needs. */
static void check_features(void)
{
	struct pf_bpf_opts o = {.capacity_pages = 1 << 18, .max_procs = 4};
	struct pf_feature *lf = pf_bpf_feature(PF_FEAT_LEAP);
	char what[80];
	int i, rc;

	if (pf_log_verbosity < PF_LOG_DEBUG)
		pf_log_verbosity = PF_LOG_ERR - 1; /* the table says it all */
	rc = pf_bpf_open(&o);
	if (rc) {
		row("BPF object pageflex_agent", "FAIL", true, "does not load: %s", strerror(-rc));
		return;
	}
	if (pf_feature_on(lf)) {
		struct pf_leap_bpf *lb = NULL;

		if (!pf_bpf_dmap_ok())
			pf_feature_fail(lf, -ENOTSUP, "page tables cannot be read: %s",
					pf_bpf_dmap_error());
		else if (!pf_leap_bpf_open(&lb, lf))
			pf_leap_bpf_close(lb);
	}
	for (i = 0; i < PF_FEAT_COUNT; i++) {
		struct pf_feature *f = pf_bpf_feature((enum pf_feat_id)i);
		bool req = i == PF_FEAT_CALIBRATION || i == PF_FEAT_SCANNER || i == PF_FEAT_FAULTS;

		snprintf(what, sizeof(what), "feature %s", f->name);
		if (pf_feature_on(f))
			row(what, "ok", req, "%s%s%s", f->progs[f->variant][0],
			    f->variant ? ": " : "", f->variant ? f->why : "");
		else
			row(what, f->state == PF_FEAT_OFF ? "off" : "FAIL", req, "%s; needs %s; %s",
			    f->why, f->needs, f->lost);
	}
	if (pf_bpf_dmap_ok())
		row("direct-map calibration", "ok", true, "base %#llx, %d-level paging, validated",
		    (unsigned long long)pf_bpf_dmap_base(), pf_bpf_pt_levels());
	else
		row("direct-map calibration", "FAIL", true, "%s", pf_bpf_dmap_error());
	pf_bpf_close();
}

static void check_madvise(void)
{
	static const struct {
		const char *name;
		int advice;
	} adv[] = {{"PAGEOUT", MADV_PAGEOUT}, {"COLD", MADV_COLD}, {"WILLNEED", MADV_WILLNEED}};
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	size_t len = 16 * 4096, i;
	char what[64], *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pidfd < 0 || p == MAP_FAILED) {
		row("process_madvise", "FAIL", true, "pidfd_open or mmap: %s", strerror(errno));
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	memset(p, 1, len);
	for (i = 0; i < sizeof(adv) / sizeof(adv[0]); i++) {
		struct iovec iov = {.iov_base = p, .iov_len = len};
		long r = syscall(SYS_process_madvise, pidfd, &iov, 1, adv[i].advice, 0);

		snprintf(what, sizeof(what), "process_madvise %s", adv[i].name);
		if (r < 0)
			row(what, "FAIL", true, "%s%s", strerror(errno),
			    errno == EINVAL ? " (kernel < 5.10, or < 5.4 for COLD/PAGEOUT)" : "");
		else
			row(what, "ok", true, "advised %ld bytes", r);
	}
	munmap(p, len);
	close(pidfd);
}

static void check_peerpidfd(void)
{
	int sv[2], pidfd = -1;
	socklen_t len = sizeof(pidfd);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		row("SO_PEERPIDFD", "warn", false, "socketpair: %s", strerror(errno));
		return;
	}
	if (getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len))
		row("SO_PEERPIDFD", "warn", false,
		    "%s (kernel < 6.5): a shim's process is named by SO_PEERCRED's pid, which "
		    "a recycled pid could fool",
		    strerror(errno));
	else
		row("SO_PEERPIDFD", "ok", false, "shims are tied to their process by pidfd");
	if (pidfd >= 0)
		close(pidfd);
	close(sv[0]);
	close(sv[1]);
}

int pf_swap_devices(void (*fn)(const struct pf_swap_dev *d, void *arg), void *arg)
{
	FILE *f = fopen("/proc/swaps", "re");
	struct pf_swap_dev d;
	char line[512];
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %31s %llu %llu %d", d.name, d.type, &d.size_kib,
			   &d.used_kib, &d.prio) != 5)
			continue; /* the header */
		if (fn)
			fn(&d, arg);
		n++;
	}
	fclose(f);
	return n;
}

static void swap_row(const struct pf_swap_dev *d, void *arg)
{
	int *n = arg;

	row((*n)++ ? "" : "swap devices", "ok", true, "%s (%s, %.0f MiB, priority %d%s)", d->name,
	    d->type, d->size_kib / 1024.0, d->prio,
	    strstr(d->name, "zram") ? ", compressed memory" : ", disk tier");
}

static void check_swap(void)
{
	int n = 0, rc = pf_swap_devices(swap_row, &n);

	if (rc < 0)
		row("swap devices", "FAIL", true, "cannot read /proc/swaps: %s", strerror(-rc));
	else if (!rc)
		row("swap devices", "FAIL", true,
		    "none: paged-out anonymous memory has nowhere to go (scripts/swap-setup.sh "
		    "sets up zram)");
	if (access("/sys/class/zram-control", F_OK) && access("/sys/module/zram", F_OK)) {
		struct utsname u;
		char path[300];

		uname(&u);
		snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
		row("zram", "warn", false, "zram module not loaded (modprobe zram%s)",
		    access(path, R_OK) ? "; no module tree for this kernel" : "");
	} else {
		row("zram", "ok", false, "available");
	}
}

static void check_cgroup_thp(void)
{
	struct statfs sf;
	FILE *f;
	char buf[128] = "", *a, *b;

	if (!statfs("/sys/fs/cgroup", &sf) && sf.f_type == CGROUP2_MAGIC)
		row("cgroup", "ok", false, "v2 (/sys/fs/cgroup)");
	else if (!access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK))
		row("cgroup", "ok", false, "v1 memory controller (/sys/fs/cgroup/memory)%s",
		    !statfs("/sys/fs/cgroup/unified", &sf) && sf.f_type == CGROUP2_MAGIC ?
			    ", v2 at /sys/fs/cgroup/unified (hybrid)" :
			    "");
	else
		row("cgroup", "warn", false,
		    "no memory controller: the benchmarks' memory-limit baselines cannot run");
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	if (f && fgets(buf, sizeof(buf), f) && (a = strchr(buf, '[')) && (b = strchr(a, ']'))) {
		*b = 0;
		row("transparent huge pages", "ok", false,
		    "%s (huge pages are scanned and paged out as one 2 MiB unit)", a + 1);
	} else {
		row("transparent huge pages", "info", false, "setting unreadable");
	}
	if (f)
		fclose(f);
}

int pf_check(void)
{
	struct utsname u;
	const void *elf;
	size_t sz;

	/* The table says what failed and why; libbpf's own lines with -v. */
	if (pf_log_verbosity < PF_LOG_DEBUG)
		libbpf_set_print(NULL);
	uname(&u);
	printf("pageflexd --check: Linux %s %s\n", u.release, u.machine);
	printf("%-40s %-6s %-9s %s\n", "check", "result", "", "detail");
	if (geteuid() != 0)
		row("root", "FAIL", true, "not root: BPF, page tables and process_madvise need it");
	check_btf();
	elf = pageflex_agent_bpf__elf_bytes(&sz);
	probe("pageflex_agent", elf, sz);
	check_features();
	check_madvise();
	check_peerpidfd();
	check_swap();
	check_cgroup_thp();
	printf("%s\n", failed_required ? "pageflexd --check: a required check failed" :
					 "pageflexd --check: everything the default "
					 "configuration needs works");
	return failed_required ? 1 : 0;
}
