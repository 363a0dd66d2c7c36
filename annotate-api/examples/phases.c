// SPDX-License-Identifier: MIT
/*
 * Example: a program with a "build" and a "query" phase, annotated with
 * pageflex.h. It runs the same with or without libpageflex.so:
 *
 *     ./pageflex_example                                  # markers do nothing
 *     LD_PRELOAD=build/lib/libpageflex.so PAGEFLEX_LOG=debug ./pageflex_example
 *
 * The index is built inside a tag scope, so its nodes live in an arena
 * tagged "index"; the lookup table is one mmap tagged "table".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "pageflex.h"

struct node {
	struct node *next;
	uint64_t key;
};

int main(void)
{
	enum { NODES = 100000, BUCKETS = 1 << 16 };
	size_t table_len = BUCKETS * sizeof(struct node *);
	struct node **table;
	uint64_t hits = 0;

	printf("pageflex %s\n", pageflex_active() ? "active" : "not loaded");
	pageflex_phase("build");
	table = mmap(NULL, table_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (table == MAP_FAILED)
		return 1;
	pageflex_tag(table, table_len, "table");

	pageflex_tag_scope_begin("index");
	for (uint64_t i = 0; i < NODES; i++) {
		struct node *n = malloc(sizeof(*n));

		if (!n)
			return 1;
		n->key = i * 2654435761u;
		n->next = table[n->key % BUCKETS];
		table[n->key % BUCKETS] = n;
	}
	pageflex_tag_scope_end();

	pageflex_phase("query");
	for (uint64_t i = 0; i < 2 * NODES; i++)
		for (struct node *n = table[(i * 2654435761u) % BUCKETS]; n; n = n->next)
			hits += n->key == i * 2654435761u;
	printf("%llu of %d keys found\n", (unsigned long long)hits, 2 * NODES);

	for (size_t b = 0; b < BUCKETS; b++)
		while (table[b]) {
			struct node *n = table[b];

			table[b] = n->next;
			free(n);
		}
	munmap(table, table_len);
	return 0;
}
