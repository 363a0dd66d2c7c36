// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the wire-protocol decoder: the agent runs it on
 * bytes from any process on the machine. Every record handed to the callback
 * must lie inside the packet (ASan checks the string reads).
 */
#include <stdint.h>
#include <string.h>

#include "pageflex_wire.h"

static _Alignas(8) unsigned char buf[PFW_MAX_PACKET];

static unsigned sum(const char *s, size_t n)
{
	unsigned h = 0;

	while (n--)
		h = h * 31 + (unsigned char)*s++;
	return h;
}

static int touch(const struct pfw_event *ev, void *arg)
{
	unsigned *h = arg;

	switch (ev->type) {
	case PFW_HELLO:
		*h += sum(ev->hello.exe, ev->hello.exe_len);
		break;
	case PFW_REGION_MAP:
		*h += sum(ev->map.tag, ev->map.tag_len) + sum(ev->map.module, ev->map.module_len) +
		      sum(ev->map.path, ev->map.path_len);
		if (ev->map.start + ev->map.len < ev->map.start)
			__builtin_trap();
		break;
	case PFW_PHASE:
		*h += sum(ev->phase.name, ev->phase.name_len);
		break;
	default:
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned h = 0;

	if (len > sizeof(buf))
		return 0;
	/* The agent receives into an aligned buffer of exactly the packet size. */
	memcpy(buf, data, len);
	pfw_decode(buf, len, PFW_SEQ_ANY, touch, &h);
	return 0;
}
