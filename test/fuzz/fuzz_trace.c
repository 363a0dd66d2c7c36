// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the trace reader: pageflex-sim reads trace files
 * that may be truncated, corrupt or made by someone else. The reader takes a
 * path, so each input is written to one memfd and opened through
 * /proc/self/fd. Every string, bitmap word, page state, range and policy
 * state handed out (versions 1 and 2) is read, so ASan checks that they lie
 * inside the reader's buffers.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pf_trace_reader *r;
	struct pf_trace_event ev;
	char err[512];
	uint64_t sum = 0;
	int rc;

	if (fd < 0) {
		fd = memfd_create("fuzz_trace", 0);
		if (fd < 0)
			__builtin_trap();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, len, 0) != (ssize_t)len)
		__builtin_trap();
	r = pf_trace_open(path, err, sizeof(err));
	if (!r) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	for (unsigned n = 0; n < 100000 && (rc = pf_trace_next(r, &ev, err, sizeof(err))) == 1;
	     n++) {
		if (ev.tag)
			sum += strlen(ev.tag);
		if (ev.symbol)
			sum += strlen(ev.symbol);
		if (ev.name)
			sum += strlen(ev.name);
		if (ev.type == PF_TR_SCAN || ev.type == PF_TR_PAGES) {
			if (!ev.bitmap || ev.npages == 0 || ev.npages > PF_TRACE_SCAN_MAX_PAGES)
				__builtin_trap();
			for (uint64_t w = 0; w < (ev.npages + 63) / 64; w++)
				sum += ev.bitmap[w];
		}
		if (ev.type == PF_TR_PAGES)
			for (uint64_t i = 0; i < ev.npages; i++)
				sum += pf_trace_page_state(ev.states, i);
		if (ev.type == PF_TR_ACTION)
			for (uint64_t i = 0; i < 2 * ev.nranges; i++)
				sum += ev.ranges[i];
		if (ev.type == PF_TR_STATE) {
			sum += strlen(ev.state->reclaim);
			for (uint64_t i = 0; i < ev.npages; i++)
				sum += ev.page_states[i];
		}
	}
	if (rc < 0 && !err[0])
		__builtin_trap();
	(void)sum;
	pf_trace_close(r);
	return 0;
}
