// SPDX-License-Identifier: MIT
/* Helpers shared by the tests (see testutil.h). */
#include "testutil.h"

#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static cpu_set_t tu_saved_cpus;
static int tu_pinned;

void tu_pin_cpu(void)
{
	cpu_set_t one;

	if (tu_pinned || sched_getaffinity(0, sizeof(tu_saved_cpus), &tu_saved_cpus))
		return;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	tu_pinned = !sched_setaffinity(0, sizeof(one), &one);
}

/* Pages of [p, p + len) not swapped (pagemap bit 62), or len / 4096 if unreadable. */
static size_t not_swapped(const char *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t left = 0;
	uint64_t e;

	if (fd < 0)
		return len / 4096;
	for (size_t off = 0; off < len; off += 4096) {
		if (pread(fd, &e, 8, (off_t)((uintptr_t)(p + off) / 4096 * 8)) != 8) {
			left = len / 4096;
			break;
		}
		left += !(e >> 62 & 1);
	}
	close(fd);
	return left;
}

size_t tu_pageout_all(void *p, size_t len, unsigned ms)
{
	size_t left = len / 4096;

	for (unsigned waited = 0; left; waited += 20) {
		if (madvise(p, len, MADV_PAGEOUT))
			break;
		left = not_swapped(p, len);
		if (!left || waited >= ms)
			break;
		usleep(20000);
	}
	if (tu_pinned) {
		sched_setaffinity(0, sizeof(tu_saved_cpus), &tu_saved_cpus);
		tu_pinned = 0;
	}
	return left;
}

const char *tu_need_root(void)
{
	return geteuid() == 0 ? NULL :
				"needs root (BPF, process_madvise, swap): run as root or in CI";
}

const char *tu_build_dir(void)
{
	const char *d = getenv("PAGEFLEX_BUILD_DIR");

	return d && *d ? d : ".";
}

const char *tu_source_dir(void)
{
	const char *d = getenv("PAGEFLEX_SOURCE_DIR");

	return d && *d ? d : ".";
}

static bool swap_active(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1; /* first line is the header */
}

const char *tu_ensure_swap(void)
{
	char cmd[4096];

	if (tu_need_root())
		return tu_need_root();
	if (swap_active())
		return NULL;
	snprintf(cmd, sizeof(cmd), "%s/scripts/swap-setup.sh >&2", tu_source_dir());
	if (system(cmd) != 0 || !swap_active())
		return "scripts/swap-setup.sh could not set up zram swap";
	return NULL;
}
