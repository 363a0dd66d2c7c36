// SPDX-License-Identifier: MIT
/*
 * pageflex-report TRACE OUTDIR: turns a recording (`pageflexctl record`, or
 * any trace pageflex-sim reads) into pictures, to look at a run instead of
 * reading numbers:
 *
 *   OUTDIR/heatmap-<region>.png  time on x, offset in the region on y, per
 *                                cell the share of its pages the scans found
 *                                accessed (blue: mostly swapped out), like
 *                                damo's access heatmap; one per region, the
 *                                largest first
 *   OUTDIR/timeline.png          resident and swapped MiB at each scan,
 *                                refaults/s and pageouts/s between scans,
 *                                phase changes as vertical lines
 *
 * It reads the trace with the trace library (trace/trace.h) in two passes
 * (the first finds the regions, the time span and the phases, the second
 * bins), writes plain gnuplot data files and one script (report.gp) into
 * OUTDIR, and runs gnuplot there; the data and script stay, to be replotted
 * or read by other tools.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace.h"

#define MIB (1024.0 * 1024.0)
#define MAX_REGION_ID (1u << 22)
#define MAX_PHASE_LABELS 24
#define MAX_HEATMAPS 1000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pageflex-report [OPTIONS] TRACE OUTDIR\n"
		"\n"
		"Draws a trace (pageflexctl record PID TRACE SECS, or pageflex-sim --write)\n"
		"as PNGs with gnuplot, into OUTDIR (created if needed):\n"
		"  heatmap-<region>.png  per region: time on x, offset in the region on y,\n"
		"                        colour: the share of the cell's pages that the\n"
		"                        agent's scans found accessed (black: resident and\n"
		"                        idle, blue: mostly swapped out, blank: no page);\n"
		"                        for a generated trace, its accesses per cell\n"
		"  timeline.png          resident and swapped MiB at each scan, refaults/s\n"
		"                        and pageouts/s between scans (accesses/s for a\n"
		"                        generated trace); phase changes as dashed lines\n"
		"and beside them the data (*.dat) and the gnuplot script (report.gp).\n"
		"\n"
		"Phase lines need PHASE records: a recording has them only if the program\n"
		"marks its phases (pageflex_phase(), see annotate-api/) while it is\n"
		"recorded; otherwise the report and the timeline's title say so.\n"
		"\n"
		"  -g, --grid COLSxROWS  heatmap cells: time x offset (default 200x100)\n"
		"  -r, --regions N       heatmaps of the N largest regions (default 8; 0: all,\n"
		"                        at most 1000)\n"
		"  -n, --no-render       write the data and report.gp, do not run gnuplot\n"
		"  -h, --help            this text\n"
		"\n"
		"Needs gnuplot (Debian: apt-get install gnuplot-nox); uses its pngcairo\n"
		"terminal, else png.\n"
		"\n"
		"Example:\n"
		"  sudo pageflexctl record 4242 app.pftrace 30 && pageflex-report app.pftrace app-report\n");
}

/* One region of the trace (an id reused after REGION_END is a new one). */
struct region {
	uint32_t id;
	char tag[PF_TRACE_TAG_MAX];
	char name[96]; /* in file names: heatmap-<name>.png */
	uint64_t npages;
	uint64_t observed; /* pages in its PAGES/SCAN records, plus its accesses */
	uint64_t scans; /* its PAGES/SCAN records */
	bool chosen;
	unsigned rank; /* heatmaps are listed largest region first */
	/* The heatmap: cols x rows cells (rows <= npages). */
	unsigned rows;
	unsigned end_col; /* its last column (it ended there, or the trace did) */
	uint32_t *seen, *accessed, *swapped; /* per cell; ACCESS counts in accessed */
	/* The timeline: latest resident/swapped pages per piece (first page). */
	struct piece {
		uint64_t first, resident, swapped;
	} * pieces;
	size_t npieces;
};

struct phase {
	double t;
	char name[PF_TRACE_TAG_MAX];
};

struct report {
	const char *trace, *trace_arg, *outdir; /* trace: absolute; trace_arg: as given */
	unsigned cols, rows, max_regions;
	struct pf_trace_header h;
	struct region *regs;
	size_t nregs;
	int32_t *live; /* region id -> index in regs of its current instance, or -1 */
	uint32_t nlive;
	struct phase *phases;
	size_t nphases;
	uint64_t t_end, page_size;
	uint64_t n_pages_recs, n_scan_recs, n_access, n_refaults, n_pageout_pages, n_scans;
	uint64_t n_orphans;
	size_t nchosen;
	/* Timeline (second pass). */
	FILE *tl;
	size_t tl_rows;
	uint64_t res_total, swp_total, tl_refaults, tl_pageouts, tl_accesses;
	uint64_t cur_t, prev_row_t;
	bool cur_pending;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pageflex-report: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		die("out of memory");
	return p;
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* Printable ASCII of s for gnuplot strings and the report ('?' for the rest). */
static void printable(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = 0;
}

/* s as a single-quoted gnuplot string (a quote is doubled). */
static void gp_str(FILE *f, const char *s)
{
	char buf[256];
	const char *p;

	printable(s, buf, sizeof(buf));
	fputc('\'', f);
	for (p = buf; *p; p++) {
		if (*p == '\'')
			fputc('\'', f);
		fputc(*p, f);
	}
	fputc('\'', f);
}

/* The current instance of region id, or NULL. */
static struct region *region_of(struct report *R, uint32_t id)
{
	return id < R->nlive && R->live[id] >= 0 ? &R->regs[R->live[id]] : NULL;
}

static void open_or_die(struct report *R, struct pf_trace_reader **rd)
{
	char err[512];

	*rd = pf_trace_open(R->trace, err, sizeof(err));
	if (!*rd)
		die("%s", err);
}

static void reset_live(struct report *R)
{
	uint32_t i;

	for (i = 0; i < R->nlive; i++)
		R->live[i] = -1;
}

/* A REGION record in either pass: the next instance, in trace order. */
static struct region *region_begin(struct report *R, const struct pf_trace_event *ev, size_t *next)
{
	if (ev->region >= MAX_REGION_ID)
		die("%s: region id %u too large for this tool (at most %u)", R->trace_arg,
		    ev->region, MAX_REGION_ID - 1);
	if (ev->region >= R->nlive) {
		uint32_t n = ev->region + 1 > 2 * R->nlive ? ev->region + 1 : 2 * R->nlive;
		int32_t *nl = realloc(R->live, n * sizeof(*nl));

		if (!nl)
			die("out of memory");
		for (uint32_t i = R->nlive; i < n; i++)
			nl[i] = -1;
		R->live = nl;
		R->nlive = n;
	}
	R->live[ev->region] = (int32_t)*next;
	return &R->regs[(*next)++];
}

/* Pass 1: regions, time span, phases, counts. Any trace error ends the program. */
static void pass1(struct report *R)
{
	struct pf_trace_reader *rd;
	struct pf_trace_event ev;
	size_t cap = 0, pcap = 0, next;
	uint64_t last_scan_t = UINT64_MAX;
	char err[512];
	int rc;

	open_or_die(R, &rd);
	R->h = *pf_trace_header(rd);
	R->page_size = R->h.page_size ? R->h.page_size : 4096;
	while ((rc = pf_trace_next(rd, &ev, err, sizeof(err))) == 1) {
		struct region *g;

		if (ev.time_ns > R->t_end)
			R->t_end = ev.time_ns;
		switch (ev.type) {
		case PF_TR_REGION:
			if (R->nregs == cap) {
				cap = cap ? cap * 2 : 16;
				R->regs = realloc(R->regs, cap * sizeof(*R->regs));
				if (!R->regs)
					die("out of memory");
			}
			next = R->nregs;
			g = region_begin(R, &ev, &next);
			memset(g, 0, sizeof(*g));
			R->nregs = next;
			g->id = ev.region;
			snprintf(g->tag, sizeof(g->tag), "%s", ev.tag ? ev.tag : "");
			g->npages = ev.npages;
			break;
		case PF_TR_REGION_END:
			if (ev.region < R->nlive)
				R->live[ev.region] = -1;
			break;
		case PF_TR_PHASE:
			if (R->nphases == pcap) {
				pcap = pcap ? pcap * 2 : 16;
				R->phases = realloc(R->phases, pcap * sizeof(*R->phases));
				if (!R->phases)
					die("out of memory");
			}
			R->phases[R->nphases].t = secs(ev.time_ns);
			snprintf(R->phases[R->nphases].name, sizeof(R->phases[0].name), "%s",
				 ev.name ? ev.name : "");
			R->nphases++;
			break;
		case PF_TR_PAGES:
		case PF_TR_SCAN:
			if (ev.type == PF_TR_PAGES) {
				R->n_pages_recs++;
				if (ev.time_ns != last_scan_t)
					R->n_scans++;
				last_scan_t = ev.time_ns;
			} else {
				R->n_scan_recs++;
			}
			g = region_of(R, ev.region);
			if (!g) {
				R->n_orphans++;
				break;
			}
			g->observed += ev.npages;
			g->scans++;
			break;
		case PF_TR_ACCESS:
			R->n_access++;
			g = region_of(R, ev.region);
			if (g)
				g->observed++;
			else
				R->n_orphans++;
			break;
		case PF_TR_FAULT:
			if (ev.kind == PF_FAULT_SWAPIN || ev.kind == PF_FAULT_SWAPCACHE)
				R->n_refaults++;
			break;
		case PF_TR_ACTION:
			if (ev.kind == PF_ACT_PAGEOUT)
				for (uint64_t i = 0; i < ev.nranges; i++)
					R->n_pageout_pages += ev.ranges[2 * i + 1];
			break;
		default:
			break;
		}
	}
	if (rc < 0)
		die("%s", err);
	pf_trace_close(rd);
	reset_live(R);
}

static int by_size(const void *a, const void *b)
{
	const struct region *x = *(const struct region *const *)a;
	const struct region *y = *(const struct region *const *)b;

	if (x->npages != y->npages)
		return x->npages < y->npages ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A file-name part from a tag: [A-Za-z0-9_.-], others '_'; "" -> "region<id>". */
static void base_name(const struct region *g, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; g->tag[i] && o + 1 < len && o < 48; i++) {
		char c = g->tag[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && o);

		out[o] = ok ? c : '_';
		o++;
	}
	out[o] = 0;
	if (!o)
		snprintf(out, len, "region%u", g->id);
}

/* Chooses the regions that get a heatmap, names them, allocates their grids. */
static void choose(struct report *R)
{
	struct region **v = xcalloc(R->nregs, sizeof(*v));
	size_t n = 0, i, k;

	for (i = 0; i < R->nregs; i++)
		if (R->regs[i].observed && R->regs[i].npages)
			v[n++] = &R->regs[i];
	qsort(v, n, sizeof(*v), by_size);
	/* 0 is all, but at most MAX_HEATMAPS: each grid takes cols x rows x 12 bytes. */
	if (n > (R->max_regions ? R->max_regions : MAX_HEATMAPS))
		n = R->max_regions ? R->max_regions : MAX_HEATMAPS;
	for (i = 0; i < n; i++) {
		struct region *g = v[i];
		char b[64];
		bool dup;
		unsigned extra = 0;

		base_name(g, b, sizeof(b));
		snprintf(g->name, sizeof(g->name), "%s", b);
		do { /* a repeated tag: tag-<id>, then tag-<id>-<n> */
			dup = false;
			for (k = 0; k < i; k++)
				if (!strcmp(v[k]->name, g->name))
					dup = true;
			if (dup && !extra++)
				snprintf(g->name, sizeof(g->name), "%s-%u", b, g->id);
			else if (dup)
				snprintf(g->name, sizeof(g->name), "%s-%u-%u", b, g->id, extra);
		} while (dup);
		g->chosen = true;
		g->rank = (unsigned)i;
		g->rows = g->npages < R->rows ? (unsigned)g->npages : R->rows;
		g->end_col = R->cols - 1;
		g->seen = xcalloc((size_t)R->cols * g->rows, sizeof(uint32_t));
		g->accessed = xcalloc((size_t)R->cols * g->rows, sizeof(uint32_t));
		g->swapped = xcalloc((size_t)R->cols * g->rows, sizeof(uint32_t));
	}
	R->nchosen = n;
	free(v);
}

/* Everything pass1 and choose allocated (a leak checker sees none at exit). */
static void free_report(struct report *R)
{
	for (size_t i = 0; i < R->nregs; i++) {
		free(R->regs[i].seen);
		free(R->regs[i].accessed);
		free(R->regs[i].swapped);
		free(R->regs[i].pieces);
	}
	free(R->regs);
	free(R->live);
	free(R->phases);
	if (R->trace != R->trace_arg)
		free((char *)R->trace);
}

static unsigned col_of(const struct report *R, uint64_t t)
{
	unsigned c = R->t_end ? (unsigned)((double)t / (double)R->t_end * R->cols) : 0;

	return c >= R->cols ? R->cols - 1 : c;
}

static unsigned row_of(const struct region *g, uint64_t page)
{
	return (unsigned)((unsigned __int128)page * g->rows / g->npages);
}

/* A timeline row for the scan at R->cur_t (scan-based timelines). */
static void tl_row(struct report *R, uint64_t t)
{
	double dt = secs(t - R->prev_row_t);

	fprintf(R->tl, "%.6f %.3f %.3f %.3f %.3f 0\n", secs(t),
		(double)R->res_total * R->page_size / MIB,
		(double)R->swp_total * R->page_size / MIB, dt > 0 ? R->tl_refaults / dt : 0,
		dt > 0 ? R->tl_pageouts / dt : 0);
	R->tl_rows++;
	R->tl_refaults = R->tl_pageouts = 0;
	R->prev_row_t = t;
}

/* The timeline's record of piece first of region g: now resident, swapped. */
static void tl_piece(struct report *R, struct region *g, uint64_t first, uint64_t res, uint64_t swp)
{
	size_t i;

	for (i = 0; i < g->npieces && g->pieces[i].first != first; i++)
		;
	if (i == g->npieces) {
		struct piece *np = realloc(g->pieces, (g->npieces + 1) * sizeof(*np));

		if (!np)
			die("out of memory");
		g->pieces = np;
		g->pieces[g->npieces++] = (struct piece){first, 0, 0};
	}
	R->res_total += res - g->pieces[i].resident;
	R->swp_total += swp - g->pieces[i].swapped;
	g->pieces[i].resident = res;
	g->pieces[i].swapped = swp;
}

static void region_gone(struct report *R, struct region *g)
{
	size_t i;

	for (i = 0; i < g->npieces; i++) {
		R->res_total -= g->pieces[i].resident;
		R->swp_total -= g->pieces[i].swapped;
	}
	free(g->pieces);
	g->pieces = NULL;
	g->npieces = 0;
}

static void pages_record(struct report *R, struct region *g, const struct pf_trace_event *ev)
{
	uint64_t res = 0, swp = 0, i;
	unsigned c = col_of(R, ev->time_ns);

	for (i = 0; i < ev->npages; i++) {
		unsigned st = pf_trace_page_state(ev->states, i);
		uint64_t page = ev->first_page + i;
		size_t cell;

		if (st == PF_PG_NONE)
			continue;
		if (st == PF_PG_SWAPPED)
			swp++;
		else
			res++;
		if (!g->chosen || page >= g->npages)
			continue;
		cell = (size_t)c * g->rows + row_of(g, page);
		g->seen[cell]++;
		if (st == PF_PG_ACCESSED)
			g->accessed[cell]++;
		else if (st == PF_PG_SWAPPED)
			g->swapped[cell]++;
	}
	tl_piece(R, g, ev->first_page, res, swp);
}

static void scan_record(struct report *R, struct region *g, const struct pf_trace_event *ev)
{
	unsigned c = col_of(R, ev->time_ns);
	uint64_t i;

	if (!g->chosen)
		return;
	for (i = 0; i < ev->npages; i++) {
		uint64_t page = ev->first_page + i;
		size_t cell;

		if (page >= g->npages)
			break;
		cell = (size_t)c * g->rows + row_of(g, page);
		g->seen[cell]++;
		if (ev->bitmap[i / 64] >> (i % 64) & 1)
			g->accessed[cell]++;
	}
}

/* Pass 2: fills the heatmaps and writes the timeline's data. */
static void pass2(struct report *R)
{
	struct pf_trace_reader *rd;
	struct pf_trace_event ev;
	bool by_scan = R->n_pages_recs > 0;
	uint64_t *bins_ref = NULL, *bins_out = NULL, *bins_acc = NULL;
	size_t next = 0;
	char err[512];
	int rc;

	R->tl = fopen("timeline.dat", "w");
	if (!R->tl)
		die("%s/timeline.dat: %s", R->outdir, strerror(errno));
	fprintf(R->tl, "# time_s resident_mib swapped_mib refaults_per_s pageouts_per_s "
		       "accesses_per_s\n");
	if (!by_scan) {
		bins_ref = xcalloc(R->cols, sizeof(uint64_t));
		bins_out = xcalloc(R->cols, sizeof(uint64_t));
		bins_acc = xcalloc(R->cols, sizeof(uint64_t));
	}
	open_or_die(R, &rd);
	while ((rc = pf_trace_next(rd, &ev, err, sizeof(err))) == 1) {
		struct region *g;

		/* A scan's PAGES records share its time; its row covers the events
		 * after the previous scan up to its time: a later event closes it. */
		if (by_scan && R->cur_pending && ev.time_ns > R->cur_t) {
			tl_row(R, R->cur_t);
			R->cur_pending = false;
		}
		switch (ev.type) {
		case PF_TR_REGION:
			region_begin(R, &ev, &next);
			break;
		case PF_TR_REGION_END:
			g = region_of(R, ev.region);
			if (g) {
				region_gone(R, g);
				g->end_col = col_of(R, ev.time_ns);
			}
			if (ev.region < R->nlive)
				R->live[ev.region] = -1;
			break;
		case PF_TR_PAGES:
			g = region_of(R, ev.region);
			if (g)
				pages_record(R, g, &ev);
			R->cur_t = ev.time_ns;
			R->cur_pending = true;
			break;
		case PF_TR_SCAN:
			g = region_of(R, ev.region);
			if (g)
				scan_record(R, g, &ev);
			break;
		case PF_TR_ACCESS:
			g = region_of(R, ev.region);
			if (g && g->chosen && ev.page < g->npages)
				g->accessed[(size_t)col_of(R, ev.time_ns) * g->rows +
					    row_of(g, ev.page)]++;
			if (!by_scan)
				bins_acc[col_of(R, ev.time_ns)]++;
			break;
		case PF_TR_FAULT:
			if (ev.kind != PF_FAULT_SWAPIN && ev.kind != PF_FAULT_SWAPCACHE)
				break;
			if (by_scan)
				R->tl_refaults++;
			else
				bins_ref[col_of(R, ev.time_ns)]++;
			break;
		case PF_TR_ACTION:
			if (ev.kind != PF_ACT_PAGEOUT)
				break;
			for (uint64_t i = 0; i < ev.nranges; i++) {
				if (by_scan)
					R->tl_pageouts += ev.ranges[2 * i + 1];
				else
					bins_out[col_of(R, ev.time_ns)] += ev.ranges[2 * i + 1];
			}
			break;
		default:
			break;
		}
	}
	if (rc < 0)
		die("%s", err); /* it read the first time: changed meanwhile */
	pf_trace_close(rd);
	if (by_scan && R->cur_pending)
		tl_row(R, R->cur_t);
	if (!by_scan) {
		double w = secs(R->t_end ? R->t_end : 1) / R->cols;

		for (unsigned c = 0; c < R->cols; c++) {
			fprintf(R->tl, "%.6f NaN NaN %.3f %.3f %.3f\n", (c + 0.5) * w,
				bins_ref[c] / w, bins_out[c] / w, bins_acc[c] / w);
			R->tl_rows++;
		}
	}
	free(bins_ref);
	free(bins_out);
	free(bins_acc);
	if (fclose(R->tl))
		die("%s/timeline.dat: %s", R->outdir, strerror(errno));
}

/* Writes heatmap-<name>.dat: "time_s offset_mib value", a blank line per column. */
static void write_heatmap(const struct report *R, const struct region *g)
{
	bool counts = R->n_access && !R->n_pages_recs && !R->n_scan_recs;
	double w = secs(R->t_end ? R->t_end : 1) / R->cols;
	double h = (double)g->npages * R->page_size / MIB / g->rows;
	uint32_t max = 1;
	char path[160];
	unsigned c, r;
	int src = -1; /* the column whose scan a column shows */
	FILE *f;

	snprintf(path, sizeof(path), "heatmap-%s.dat", g->name);
	f = fopen(path, "w");
	if (!f)
		die("%s/%s: %s", R->outdir, path, strerror(errno));
	if (counts)
		for (size_t i = 0; i < (size_t)R->cols * g->rows; i++)
			if (g->accessed[i] > max)
				max = g->accessed[i];
	fprintf(f, "# region %u '%s': time_s offset_mib value (%s)\n", g->id, g->tag,
		counts ? "accesses / the busiest cell's" :
			 "accessed share of present pages; -swapped share where mostly swapped; "
			 "NaN: no page");
	/* A scan's states hold until the region's next scan (damo draws the same):
	 * a column without a scan repeats the last one, until the region ends. */
	for (c = 0; c < R->cols; c++) {
		bool has = false;

		for (r = 0; r < g->rows && !has; r++)
			has = g->seen[(size_t)c * g->rows + r] > 0;
		if (has || counts)
			src = (int)c;
		else if (c > g->end_col)
			src = -1;
		for (r = 0; r < g->rows; r++) {
			size_t i = (size_t)(src < 0 ? c : (unsigned)src) * g->rows + r;
			double v;

			if (counts) {
				v = (double)g->accessed[i] / max;
			} else if (!g->seen[i]) {
				v = NAN;
			} else {
				double a = (double)g->accessed[i] / g->seen[i];
				double s = (double)g->swapped[i] / g->seen[i];

				v = a > 0 || s <= 0.5 ? a : -s;
			}
			if (isnan(v))
				fprintf(f, "%.6f %.4f NaN\n", (c + 0.5) * w, (r + 0.5) * h);
			else
				fprintf(f, "%.6f %.4f %.4f\n", (c + 0.5) * w, (r + 0.5) * h, v);
		}
		fputc('\n', f);
	}
	if (fclose(f))
		die("%s/%s: %s", R->outdir, path, strerror(errno));
}

static void phase_lines(FILE *f, const struct report *R, const char *colour, bool labels)
{
	size_t i;

	fprintf(f, "unset arrow\nunset label\n");
	for (i = 0; i < R->nphases; i++) {
		fprintf(f,
			"set arrow from %.6f, graph 0 to %.6f, graph 1 nohead front lw 1.5 "
			"dt 2 lc rgb '%s'\n",
			R->phases[i].t, R->phases[i].t, colour);
		if (labels && i < MAX_PHASE_LABELS) {
			fprintf(f, "set label ");
			gp_str(f, R->phases[i].name);
			fprintf(f, " at %.6f, graph 0.97 offset 0.4,0 front tc rgb '%s'\n",
				R->phases[i].t, colour);
		}
	}
}

/* The title's trace description: "pid 4242 (comm), 30.0 s". */
static void trace_desc(const struct report *R, char *out, size_t len)
{
	char comm[17];

	printable(R->h.comm, comm, sizeof(comm));
	if (R->h.flags & PF_TRACE_F_LIVE && strchr(comm, '/')) /* a cut path: noise */
		snprintf(out, len, "pid %u, %.1f s recorded", R->h.pid, secs(R->t_end));
	else if (R->h.flags & PF_TRACE_F_LIVE)
		snprintf(out, len, "pid %u (%s), %.1f s recorded", R->h.pid, comm, secs(R->t_end));
	else
		snprintf(out, len, "%s trace, %.1f s", comm[0] ? comm : "generated",
			 secs(R->t_end));
}

static void write_script(const struct report *R)
{
	bool counts = R->n_access && !R->n_pages_recs && !R->n_scan_recs;
	double tmax = secs(R->t_end ? R->t_end : 1);
	char desc[160], title[400];
	FILE *f = fopen("report.gp", "w");
	size_t i;

	if (!f)
		die("%s/report.gp: %s", R->outdir, strerror(errno));
	trace_desc(R, desc, sizeof(desc));
	fprintf(f,
		"# Written by pageflex-report from %s; run: gnuplot report.gp (in this "
		"directory)\n",
		R->trace_arg);
	fprintf(f,
		"pf_term = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n"
		"set terminal @pf_term noenhanced size 1000,560\n"
		"set xlabel 'time (s)'\n"
		"set xrange [0:%.6f]\n",
		tmax);
	for (i = 0; i < R->nregs; i++) {
		const struct region *g = &R->regs[i];
		double mib = (double)g->npages * R->page_size / MIB;

		if (!g->chosen)
			continue;
		fprintf(f, "\n# region %u\nset output 'heatmap-%s.png'\n", g->id, g->name);
		snprintf(title, sizeof(title), "%s: region %u '%s', %.1f MiB: %s", desc, g->id,
			 g->tag, mib,
			 counts ? "accesses per cell" : "share of pages accessed per scan");
		fprintf(f, "set title ");
		gp_str(f, title);
		fprintf(f, "\nset ylabel 'offset in the region (MiB)'\nset yrange [0:%.4f]\n", mib);
		if (counts)
			fprintf(f,
				"set cbrange [0:1]\nset cblabel 'accesses (of the busiest cell)'\n"
				"set palette defined (0 '#000004', 0.25 '#51127c', 0.5 "
				"'#b73779', 0.75 '#fc8961', 1 '#fcfdbf')\n"
				"set cbtics 0.25\n");
		else
			fprintf(f,
				"set cbrange [-1:1]\n"
				"set cblabel 'swapped share (blue)  |  idle  |  accessed share'\n"
				"set palette defined (-1 '#08306b', -0.5 '#6baed6', -0.001 "
				"'#c6dbef', 0 '#000004', 0.25 '#51127c', 0.5 '#b73779', 0.75 "
				"'#fc8961', 1 '#fcfdbf')\n"
				"set cbtics ('100%%%%' -1, '50%%%%' -0.5, '0' 0, '50%%%%' 0.5, '100%%%%' 1)\n");
		phase_lines(f, R, "#00d0d0", true);
		fprintf(f, "plot 'heatmap-%s.dat' using 1:2:3 with image notitle\n", g->name);
	}
	snprintf(title, sizeof(title), "%s%s", desc,
		 R->nphases ? "" : " (no phase changes recorded)");
	fprintf(f, "\n# timeline\nset output 'timeline.png'\nunset cbtics\nunset cblabel\n"
		   "set autoscale y\nset yrange [0:*]\nset key top right opaque\n"
		   "set grid xtics ytics\nset lmargin 11\nset rmargin 4\n");
	if (!R->n_pages_recs) { /* a generated trace: its accesses */
		fprintf(f, "set title ");
		gp_str(f, title);
		fputc('\n', f);
		phase_lines(f, R, "#606060", true);
		fprintf(f,
			"set ylabel 'per second'\n"
			"plot 'timeline.dat' using 1:6 with histeps lw 1.5 lc rgb '#1b9e77' title "
			"'accesses/s', \\\n"
			"     '' using 1:4 with histeps lw 1.5 lc rgb '#d95f02' title "
			"'refaults/s'\n");
	} else {
		/* Two panels on one time axis: memory above, rates below, refaults on the
		 * left axis and pageouts on the right one, each on its own linear scale
		 * (refaults are often 1000 times fewer than pageouts); an axis whose
		 * series is all zero gets a fixed range, so gnuplot has nothing to warn. */
		fprintf(f, "set multiplot layout 2,1 title ");
		gp_str(f, title);
		fprintf(f, "\nset title ''\nset xlabel ''\nset format x ''\nset ylabel 'MiB'\n"
			   "set rmargin 11\n");
		phase_lines(f, R, "#606060", true);
		fprintf(f, "plot 'timeline.dat' using 1:2 with lines lw 2 lc rgb '#1b9e77' title "
			   "'resident', \\\n"
			   "     '' using 1:3 with lines lw 2 lc rgb '#2c7fb8' title 'swapped'\n");
		fprintf(f,
			"set xlabel 'time (s)'\nset format x '%%g'\n"
			"set ylabel 'refaults/s' tc rgb '#d95f02'\nset ytics nomirror\n"
			"set y2label 'pageouts/s' tc rgb '#7570b3'\nset y2tics\n"
			"set yrange [0:%s]\nset y2range [0:%s]\n",
			R->n_refaults ? "*" : "1", R->n_pageout_pages ? "*" : "1");
		phase_lines(f, R, "#606060", false);
		fprintf(f, "plot 'timeline.dat' using 1:4 with fsteps lw 2 lc rgb '#d95f02' title "
			   "'refaults/s', \\\n"
			   "     '' using 1:5 axes x1y2 with fsteps lw 1 lc rgb '#7570b3' title "
			   "'pageouts/s'\n");
		fprintf(f, "unset multiplot\n");
	}
	if (fclose(f))
		die("%s/report.gp: %s", R->outdir, strerror(errno));
}

/* mkdir -p; 0 or -1 with errno. */
static int make_dirs(const char *dir)
{
	char p[4096];
	size_t i, n = strlen(dir);
	struct stat st;

	if (!n || n >= sizeof(p)) {
		errno = n ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i])
			continue;
		p[i] = 0;
		if (mkdir(p, 0755) && errno != EEXIST)
			return -1;
		p[i] = i < n ? '/' : 0;
	}
	if (stat(dir, &st))
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return access(dir, W_OK | X_OK);
}

/* gnuplot's path in $PATH, or false. */
static bool find_gnuplot(char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;

	for (p = path ? path : "/usr/bin:/bin"; p && *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		if (e > p) {
			snprintf(out, len, "%.*s/gnuplot", (int)(e - p), p);
			if (!access(out, X_OK))
				return true;
		}
	}
	return false;
}

static void render(const struct report *R)
{
	char gp[4096];
	int status;
	pid_t pid;
	size_t i;

	if (!find_gnuplot(gp, sizeof(gp)))
		die("gnuplot not found in PATH: install it (Debian: apt-get install gnuplot-nox); "
		    "the data and script are in %s (cd there and run: gnuplot report.gp)",
		    R->outdir);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		/* In OUTDIR already; gnuplot's chatter goes to our stderr. */
		execl(gp, "gnuplot", "report.gp", (char *)NULL);
		fprintf(stderr, "pageflex-report: %s: %s\n", gp, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("gnuplot failed (%s %d) on %s/report.gp",
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), R->outdir);
	for (i = 0; i <= R->nregs; i++) {
		char png[160];
		struct stat st;

		if (i < R->nregs && !R->regs[i].chosen)
			continue;
		if (i < R->nregs)
			snprintf(png, sizeof(png), "heatmap-%s.png", R->regs[i].name);
		else
			snprintf(png, sizeof(png), "timeline.png");
		if (stat(png, &st) || !st.st_size)
			die("gnuplot wrote no %s/%s", R->outdir, png);
	}
}

/* What was drawn, on stdout. */
static void summary(const struct report *R, bool rendered)
{
	const char *ext = rendered ? "png" : "dat";
	char comm[17], tag[PF_TRACE_TAG_MAX];
	size_t i, drawn = 0, with_data = 0;

	printable(R->h.comm, comm, sizeof(comm));
	printf("trace %s: version %u, %s pid %u (%s), %.1f s, %llu scans, %zu regions, %zu "
	       "phase changes, %llu refaults, %llu pages paged out%s\n",
	       R->trace_arg, R->h.version,
	       R->h.flags & PF_TRACE_F_LIVE ? "live recording of" : "not live (generated),",
	       R->h.pid, comm, secs(R->t_end),
	       (unsigned long long)(R->n_scans ? R->n_scans : R->n_scan_recs), R->nregs, R->nphases,
	       (unsigned long long)R->n_refaults, (unsigned long long)R->n_pageout_pages,
	       R->n_access ? " (accesses of a generated trace)" : "");
	if (R->nphases) {
		printf("phases:");
		for (i = 0; i < R->nphases; i++) {
			printable(R->phases[i].name, tag, sizeof(tag));
			printf("%s %s at %.1f s", i ? "," : "", tag, R->phases[i].t);
		}
		printf("\n");
	} else {
		printf("phases: none recorded (the program marked none while it was recorded; "
		       "see pageflex_phase()): no phase lines\n");
	}
	for (i = 0; i < R->nregs; i++)
		if (R->regs[i].observed && R->regs[i].npages)
			with_data++;
	for (drawn = 0; drawn < R->nchosen; drawn++) {
		const struct region *g = R->regs;

		while (!g->chosen || g->rank != drawn)
			g++;
		printable(g->tag, tag, sizeof(tag));
		printf("%s/heatmap-%s.%s: region %u '%s', %.1f MiB, %llu %s, %u x %u cells\n",
		       R->outdir, g->name, ext, g->id, tag, (double)g->npages * R->page_size / MIB,
		       (unsigned long long)(g->scans ? g->scans : g->observed),
		       g->scans ? "scan records" : "accesses", R->cols, g->rows);
	}
	if (with_data > drawn)
		printf("not drawn: %zu smaller regions (--regions %u; 0 draws all)\n",
		       with_data - drawn, R->max_regions);
	if (!drawn)
		printf("no heatmap: no region has scan or access records in this trace\n");
	printf("%s/timeline.%s: %zu points (%s)\n", R->outdir, ext, R->tl_rows,
	       R->n_pages_recs ? "one per scan: resident and swapped MiB, refaults/s, pageouts/s" :
				 "time bins: accesses/s, refaults/s; no page states in this trace");
	if (R->n_orphans)
		printf("note: %llu records named a region the trace had not announced; skipped\n",
		       (unsigned long long)R->n_orphans);
	if (!rendered)
		printf("not rendered (--no-render): cd %s && gnuplot report.gp\n", R->outdir);
}

static unsigned parse_uint(const char *s, const char *what, unsigned lo, unsigned hi, char **end)
{
	unsigned long v;

	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || *end == s || v < lo || v > hi) {
		fprintf(stderr, "pageflex-report: %s wants %u..%u, got '%s'\n", what, lo, hi, s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"grid", required_argument, NULL, 'g'},
		{"regions", required_argument, NULL, 'r'},
		{"no-render", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct report R = {.cols = 200, .rows = 100, .max_regions = 8};
	bool render_it = true;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "g:r:nh", lo, NULL)) != -1) {
		switch (c) {
		case 'g':
			R.cols = parse_uint(optarg, "--grid COLSxROWS", 2, 4000, &end);
			if (*end != 'x') {
				fprintf(stderr,
					"pageflex-report: --grid wants COLSxROWS, got '%s'\n",
					optarg);
				return 2;
			}
			{
				char *rs = end + 1;

				R.rows = parse_uint(rs, "--grid COLSxROWS", 1, 4000, &end);
			}
			if (*end) {
				fprintf(stderr,
					"pageflex-report: --grid wants COLSxROWS, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			R.max_regions = parse_uint(optarg, "--regions", 0, MAX_HEATMAPS, &end);
			if (*end) {
				fprintf(stderr,
					"pageflex-report: --regions wants a number, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			render_it = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "pageflex-report: usage: pageflex-report [OPTIONS] TRACE OUTDIR "
				"(--help for more)\n");
		return 2;
	}
	R.trace = R.trace_arg = argv[optind];
	R.outdir = argv[optind + 1];
	pass1(&R); /* reads the whole trace before anything is written */
	if (make_dirs(R.outdir))
		die("cannot create the output directory %s: %s", R.outdir, strerror(errno));
	if (R.trace[0] != '/') { /* the trace is opened again after the chdir */
		char cwd[4096], *abs;

		if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, R.trace) < 0)
			die("getcwd: %s", strerror(errno));
		R.trace = abs;
	}
	if (chdir(R.outdir))
		die("cannot enter %s: %s", R.outdir, strerror(errno));
	choose(&R);
	pass2(&R);
	for (size_t i = 0; i < R.nregs; i++)
		if (R.regs[i].chosen)
			write_heatmap(&R, &R.regs[i]);
	write_script(&R);
	if (render_it)
		render(&R);
	summary(&R, render_it);
	free_report(&R);
	return 0;
}
