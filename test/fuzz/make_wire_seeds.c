// SPDX-License-Identifier: MIT
/*
 * Writes the seed corpus of fuzz_wire: one valid packet of each record type
 * and a mixed batch, made with the real encoder. Run once; the output is
 * committed under test/fuzz/corpus/wire/.
 */
#include <stdio.h>

#include "pageflex_wire.h"

static _Alignas(8) unsigned char pkt[PFW_MAX_PACKET];

static void save(const char *dir, const char *name, struct pfw_buf *b)
{
	char path[512];
	size_t n = pfw_buf_finish(b);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->data, 1, n, f) != n) {
		perror(path);
		return;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct pfw_buf b;

	pfw_buf_init(&b, pkt, sizeof(pkt), 0);
	pfw_put_hello(&b, 1234, 1, 0, "/usr/bin/python3", 16);
	save(dir, "hello", &b);
	pfw_buf_init(&b, pkt, sizeof(pkt), 1);
	pfw_put_region_map(&b, 0x7f0000000000, 1 << 20, PFW_KIND_FILE, 1, "index", 5,
			   "/usr/lib/libx.so", 16, 0x4242, "/data/db", 8);
	save(dir, "map", &b);
	pfw_buf_init(&b, pkt, sizeof(pkt), 2);
	pfw_put_range(&b, PFW_REGION_UNMAP, 0x7f0000000000, 4096);
	pfw_put_range(&b, PFW_REGION_DISCARD, 0x7f0000010000, 8192);
	save(dir, "ranges", &b);
	pfw_buf_init(&b, pkt, sizeof(pkt), 3);
	pfw_put_phase(&b, 1, "query", 5);
	pfw_put_dropped(&b, 7);
	save(dir, "phase", &b);
	pfw_buf_init(&b, pkt, sizeof(pkt), 4);
	pfw_put_hello(&b, 1, 0, PFW_HELLO_REPLAY, "/a", 2);
	for (int i = 0; i < 20; i++)
		pfw_put_region_map(&b, 0x10000000ull * (i + 1), 0x200000, PFW_KIND_HEAP, 3, "heap",
				   4, "", 0, 0, "", 0);
	pfw_put_phase(&b, 2, "build", 5);
	save(dir, "batch", &b);
	return 0;
}
