/* SPDX-License-Identifier: MIT */
/*
 * `pageflexctl top`: a live view of a running pageflexd, refreshed like
 * top(1): the agent's uptime, CPU and totals, then one row per managed
 * process and per region (resident, swapped, refaults per second, policy,
 * threshold or objective). Kept apart from pageflexctl.c because it is a
 * loop with a screen of its own, not one request.
 */
#ifndef PAGEFLEX_CTL_TOP_H
#define PAGEFLEX_CTL_TOP_H

#include <stdio.h>

/* The top lines of pageflexctl's --help. */
void ctl_top_usage(FILE *f);

/*
 * argv[0] is "top"; path is the control socket. Returns the exit status: 0
 * after --iterations frames or Ctrl-C, 1 when the agent does not answer
 * (one line on stderr), 2 usage error.
 */
int ctl_top_main(int argc, char **argv, const char *path);

#endif
