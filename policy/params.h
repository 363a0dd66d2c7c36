/* SPDX-License-Identifier: MIT */
/*
 * Policy parameters by name (rules file, simulator --param). Errors are
 * written into err; an unknown name lists the valid ones.
 */
#ifndef PAGEFLEX_PARAMS_H
#define PAGEFLEX_PARAMS_H

#include "policy.h"

/* 0, or -errno with the problem in err. */
int pf_params_set(struct pf_policy_params *p, const char *name, const char *value, char *err,
		  size_t errlen);
void pf_params_names(char *buf, size_t len);
/*
 * pageflexd's per-page time quantum for a binding: 1 s by default, but at
 * most a tenth of a cold age (at least 1 ms), so that short ages stay exact.
 * The agent applies it to every binding; pageflex-sim to those of a live
 * recording, to decide as the agent did.
 */
void pf_params_fit_tick(struct pf_policy_params *p);

#endif
