/* SPDX-License-Identifier: MIT */
/*
 * pageflexd --check (check.c): probes the kernel and the machine, prints a
 * table, returns the exit status (0: the default configuration works).
 */
#ifndef PAGEFLEX_CHECK_H
#define PAGEFLEX_CHECK_H

int pf_check(void);

#endif
