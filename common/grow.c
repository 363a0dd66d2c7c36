// SPDX-License-Identifier: MIT
/*
 * pf_grow (grow.h): capacity doubling for the arrays of the agent, the
 * engine and the simulator.
 */
#include "grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int pf_grow(void *arrp, size_t *cap, size_t want, size_t elem, size_t first)
{
	size_t n = *cap ? *cap : (first ? first : 1);
	void *arr;

	if (want <= *cap)
		return 0;
	while (n < want) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (elem && n > SIZE_MAX / elem)
		return -ENOMEM;
	/* The pointer is copied, not cast: arrp points to a T *, not a void *. */
	memcpy(&arr, arrp, sizeof(arr));
	arr = realloc(arr, n * elem);
	if (!arr)
		return -ENOMEM;
	memcpy(arrp, &arr, sizeof(arr));
	*cap = n;
	return 0;
}
