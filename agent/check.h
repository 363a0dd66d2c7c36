/* SPDX-License-Identifier: MIT */
/*
 * pageflexd --check (check.c): probes the kernel and the machine, prints a
 * table, returns the exit status (0: the default configuration works).
 */
#ifndef PAGEFLEX_CHECK_H
#define PAGEFLEX_CHECK_H

int pf_check(void);

/* One line of /proc/swaps. */
struct pf_swap_dev {
	char name[256], type[32];
	unsigned long long size_kib, used_kib;
	int prio;
};

/* Calls fn (if not NULL) for each swap device; returns how many, or -errno. */
int pf_swap_devices(void (*fn)(const struct pf_swap_dev *d, void *arg), void *arg);

#endif
