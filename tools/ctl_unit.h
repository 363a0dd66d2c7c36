// SPDX-License-Identifier: MIT
/*
 * `pageflexctl enable|disable UNIT`: puts a systemd service under
 * libpageflex.so without editing its unit file, through a drop-in
 * (UNIT.d/pageflex.conf) that sets LD_PRELOAD and PAGEFLEX_* variables.
 * Kept apart from pageflexctl.c because it never talks to the agent.
 */
#ifndef PAGEFLEX_CTL_UNIT_H
#define PAGEFLEX_CTL_UNIT_H

#include <stdio.h>

/* The enable/disable lines of pageflexctl's --help. */
void ctl_unit_usage(FILE *f);

/*
 * argv[0] is "enable" or "disable". Returns the exit status: 0 done (or
 * nothing to do), 1 refused or failed (one line on stderr, nothing written),
 * 2 usage error.
 */
int ctl_unit_main(int argc, char **argv);

#endif
