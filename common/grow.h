/* SPDX-License-Identifier: MIT */
/*
 * Growing arrays: the one "double the capacity when full" helper of the
 * agent, the policies' engine and the simulator.
 */
#ifndef PAGEFLEX_GROW_H
#define PAGEFLEX_GROW_H

#include <stddef.h>

/*
 * Makes room for `want` elements of `elem` bytes in the array *arrp (any
 * object pointer) of capacity *cap: doubles the capacity from `first` until
 * it holds want, and reallocs. 0, or -ENOMEM with the array and *cap as
 * they were. Use PF_GROW, which takes the element size from the array.
 */
int pf_grow(void *arrp, size_t *cap, size_t want, size_t elem, size_t first);
#define PF_GROW(arr, cap, want, first) pf_grow(&(arr), &(cap), (want), sizeof(*(arr)), (first))

#endif
