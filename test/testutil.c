// SPDX-License-Identifier: MIT
/* Helpers shared by the tests (see testutil.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
