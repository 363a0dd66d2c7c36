// SPDX-License-Identifier: MIT
/* The Prometheus text exposition format (prom.h). */
#include "prom.h"

void pf_prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

size_t pf_prom_escape(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	if (!len)
		return 0;
	for (; *src; src++) {
		unsigned char ch = (unsigned char)*src;
		char esc = ch == '\\' ? '\\' : ch == '"' ? '"' : ch == '\n' ? 'n' : 0;

		if (o + 1 + !!esc >= len)
			break;
		if (esc) {
			dst[o++] = '\\';
			dst[o++] = esc;
		} else {
			dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
	}
	dst[o] = 0;
	return o;
}

static void name_labels(FILE *f, const char *name, const char *labels)
{
	if (labels && *labels)
		fprintf(f, "%s{%s} ", name, labels);
	else
		fprintf(f, "%s ", name);
}

void pf_prom_sample(FILE *f, const char *name, const char *labels, double value)
{
	name_labels(f, name, labels);
	fprintf(f, "%.15g\n", value);
}

void pf_prom_sample_u64(FILE *f, const char *name, const char *labels, unsigned long long v)
{
	name_labels(f, name, labels);
	fprintf(f, "%llu\n", v);
}
