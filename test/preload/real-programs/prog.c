/*
 * Compiled and run by gcc.sh under libpageflex.so (gcc, cc1, as, ld and this
 * program all inherit LD_PRELOAD) and without it; its output and the object
 * bytes must be identical. It exercises the heap a little itself: a growing
 * hash table of strings, qsort, realloc'd buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t gen_mix(uint64_t x); /* in the generated gen.c */

struct entry {
	char *key;
	uint64_t count;
};

static size_t hash(const char *s)
{
	size_t h = 14695981039346656037u; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

int main(void)
{
	size_t cap = 16, used = 0;
	struct entry *tab = calloc(cap, sizeof(*tab));
	uint64_t seed = 1, total = 0;

	for (int i = 0; i < 2000000; i++) {
		char key[32];
		size_t h;

		seed = gen_mix(seed + (uint64_t)i);
		snprintf(key, sizeof(key), "w%llu", (unsigned long long)(seed % 50000));
		if (2 * (used + 1) > cap) { /* grow and rehash */
			struct entry *old = tab;
			size_t ocap = cap;

			cap *= 2;
			tab = calloc(cap, sizeof(*tab));
			for (size_t j = 0; j < ocap; j++) {
				if (!old[j].key)
					continue;
				for (h = hash(old[j].key); tab[h % cap].key; h++)
					;
				tab[h % cap] = old[j];
			}
			free(old);
		}
		for (h = hash(key); tab[h % cap].key; h++)
			if (!strcmp(tab[h % cap].key, key))
				break;
		if (!tab[h % cap].key) {
			tab[h % cap].key = strdup(key);
			used++;
		}
		tab[h % cap].count++;
	}
	for (size_t i = 0, j = 0; i < cap; i++)
		if (tab[i].key)
			tab[j++] = tab[i];
	qsort(tab, used, sizeof(*tab), by_count);
	printf("distinct %zu\n", used);
	for (size_t i = 0; i < 10; i++)
		printf("%s %llu\n", tab[i].key, (unsigned long long)tab[i].count);
	for (size_t i = 0; i < used; i++) {
		total += tab[i].count * (i + 1);
		free(tab[i].key);
	}
	printf("weighted %llu\n", (unsigned long long)total);
	free(tab);
	return 0;
}
