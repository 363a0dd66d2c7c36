/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the bundled benchmark workloads (see wl_common.h).
 */
#include "wl_common.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "parse.h"

static void usage(const struct wl_desc *d, FILE *f)
{
	fprintf(f,
		"Usage: pf-wl-%s [options]\n"
		"%s\n\n"
		"  -s, --size MIB     working set in MiB (default %llu)\n"
		"  -p, --passes N     passes / iterations (default %u)\n"
		"  -n, --ops N        operations (default %llu)\n"
		"  -z, --zipf S       zipf exponent, >= 0 (0: uniform; default %.2f)\n"
		"  -S, --seed N       random seed (default 1)\n"
		"%s%s"
		"  -q, --quiet        no progress on stderr\n"
		"  -h, --help         this text\n"
		"%s"
		"\nPrints one line: RESULT wl=%s ... checksum=0x... verify=ok|FAIL.\n"
		"Deterministic: the same options give the same checksum under any pager.\n"
		"Exit status 1 if the workload read back data it did not write.\n",
		d->name, d->summary, (unsigned long long)d->def_size_mib, d->def_passes,
		(unsigned long long)d->def_ops, d->def_zipf_s,
		d->one_hit ? "  -o, --one-hit PCT  share of keys written once when loading and\n"
			     "                     never read or written again (default 0)\n" :
			     "",
		d->scan ?
			"  -w, --write-every N  write one page in N per pass (default 1: every\n"
			"                     page; 0: read only)\n"
			"  -t, --stride K|mixed  visit every K-th page, K passes over the region\n"
			"                     per pass; mixed: each 4 MiB chunk at its own\n"
			"                     stride of 2, 3, 5, 7 or 11\n" :
			"",
		d->extra ? d->extra : "", d->name);
}

static uint64_t parse_u64(const char *opt, const char *v)
{
	uint64_t x;
	if (pf_parse_u64(v, &x)) {
		fprintf(stderr, "pf-wl: %s: not a number: '%s'\n", opt, v);
		exit(2);
	}
	return x;
}

void wl_parse(const struct wl_desc *d, int argc, char **argv, struct wl_opts *o)
{
	static const struct option lo[] = {
		{"size", required_argument, 0, 's'},
		{"passes", required_argument, 0, 'p'},
		{"ops", required_argument, 0, 'n'},
		{"zipf", required_argument, 0, 'z'},
		{"seed", required_argument, 0, 'S'},
		{"quiet", no_argument, 0, 'q'},
		{"one-hit", required_argument, 0, 'o'},
		{"write-every", required_argument, 0, 'w'},
		{"stride", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	*o = (struct wl_opts){.size_mib = d->def_size_mib,
			      .passes = d->def_passes,
			      .ops = d->def_ops,
			      .seed = 1,
			      .zipf_s = d->def_zipf_s,
			      .write_every = 1,
			      .stride = d->def_stride};
	int c;
	while ((c = getopt_long(argc, argv,
				d->one_hit ? "s:p:n:z:S:o:qh" :
				d->scan	   ? "s:p:n:z:S:w:t:qh" :
					     "s:p:n:z:S:qh",
				lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->size_mib = parse_u64("--size", optarg);
			break;
		case 'p':
			o->passes = (unsigned)parse_u64("--passes", optarg);
			break;
		case 'n':
			o->ops = parse_u64("--ops", optarg);
			break;
		case 'z': {
			char *end;
			o->zipf_s = strtod(optarg, &end);
			if (end == optarg || *end || !(o->zipf_s >= 0 && o->zipf_s <= 1e6)) {
				fprintf(stderr, "pf-wl: --zipf: want a number >= 0, got '%s'\n",
					optarg);
				exit(2);
			}
			break;
		}
		case 'S':
			o->seed = parse_u64("--seed", optarg);
			break;
		case 'o':
			if (!d->one_hit) {
				fprintf(stderr, "pf-wl-%s: --one-hit is for pf-wl-kv\n", d->name);
				exit(2);
			}
			o->one_hit_pct = (unsigned)parse_u64("--one-hit", optarg);
			if (o->one_hit_pct > 99) {
				fprintf(stderr, "pf-wl-%s: --one-hit: want 0..99\n", d->name);
				exit(2);
			}
			break;
		case 'w':
		case 't':
			if (!d->scan) {
				fprintf(stderr,
					"pf-wl-%s: --%s is for pf-wl-seq and pf-wl-stride\n",
					d->name, c == 'w' ? "write-every" : "stride");
				exit(2);
			}
			if (c == 'w') {
				o->write_every = parse_u64("--write-every", optarg);
			} else if (!strcmp(optarg, "mixed")) {
				o->stride = WL_STRIDE_MIXED;
			} else if (!strcmp(optarg, "random")) {
				o->stride = WL_STRIDE_RANDOM;
			} else {
				uint64_t k = parse_u64("--stride", optarg);

				if (k < 1 || k > 4096) {
					fprintf(stderr,
						"pf-wl-%s: --stride: want 1..4096, mixed or random\n",
						d->name);
					exit(2);
				}
				o->stride = (unsigned)k;
			}
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(d, stdout);
			exit(0);
		default:
			usage(d, stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pf-wl-%s: unexpected argument '%s'\n", d->name, argv[optind]);
		exit(2);
	}
	if (o->size_mib < 1 || o->size_mib > (1ULL << 20) || o->passes < 1 || o->ops < 1) {
		fprintf(stderr,
			"pf-wl-%s: --size must be 1..1048576 MiB, --passes and --ops >= 1\n",
			d->name);
		exit(2);
	}
}

void *wl_map(size_t bytes, const char *what)
{
	bytes = (bytes + WL_PAGE - 1) & ~(WL_PAGE - 1);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "pf-wl: failed to map %zu bytes for %s: %s\n", bytes, what,
			strerror(errno));
		exit(2);
	}
	return p;
}

uint64_t wl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void wl_hist_add(struct wl_hist *h, uint64_t ns)
{
	unsigned idx = 0;
	if (ns >= 16) {
		unsigned lg = 63 - (unsigned)__builtin_clzll(ns);
		unsigned sub = (unsigned)((ns >> (lg - 4)) & 15);
		idx = lg * 16 + sub;
	} else {
		idx = (unsigned)ns;
	}
	if (idx >= 64 * 16)
		idx = 64 * 16 - 1;
	h->b[idx]++;
	h->count++;
}

double wl_hist_quantile_us(const struct wl_hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)h->count), seen = 0;
	for (unsigned i = 0; i < 64 * 16; i++) {
		seen += h->b[i];
		if (seen >= want) {
			if (i < 16 * 4)
				return i / 1000.0; /* exact for < 16 ns (never in practice) */
			unsigned lg = i / 16, sub = i % 16;
			/* upper edge of the bucket */
			double ns = ldexp(1.0 + (sub + 1) / 16.0, (int)lg);
			return ns / 1000.0;
		}
	}
	return 0;
}

int wl_result(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;
	printf("RESULT wl=%s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" verify=%s\n", ok ? "ok" : "FAIL");
	fflush(stdout);
	return ok ? 0 : 1;
}

void wl_note(const struct wl_opts *o, const char *fmt, ...)
{
	if (o->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("  ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
