// SPDX-License-Identifier: MIT
/*
 * pageflex-report (issue 13): a live-like trace written here with the trace
 * library (three regions, five scans, a pageout, refaults, two phases, a
 * region that ends) is drawn into PNGs whose data files hold exactly the
 * expected rows and values; a pageflex-sim generated trace is drawn from its
 * accesses; and every error (missing, corrupt or foreign trace, an output
 * directory that cannot be made, gnuplot missing, bad options) is one line
 * with the right exit status.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

#define S (1000000000ull)

static char dir[64], trace[128], report[512], sim[512];

static void setup(void)
{
	const char *b = getenv("PAGEFLEX_BUILD_DIR");

	snprintf(dir, sizeof(dir), "/tmp/pf-report-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/live.pftrace", dir);
	snprintf(report, sizeof(report), "%s/bin/pageflex-report", b && *b ? b : ".");
	snprintf(sim, sizeof(sim), "%s/bin/pageflex-sim", b && *b ? b : ".");
	cr_assert(!access(report, X_OK), "%s not built", report);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Runs cmd through sh with stderr joined to stdout; its exit status. */
static int run(const char *cmd, char *out, size_t len)
{
	char full[2048];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
	cr_assert(p);
	while (n + 1 < len && fgets(out + n, (int)(len - n), p))
		n += strlen(out + n);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_gnuplot(void)
{
	char out[256];

	return run("command -v gnuplot", out, sizeof(out)) == 0;
}

/* Words of 2-bit states for n pages, all in state st. */
static void fill_states(uint64_t *w, unsigned n, unsigned st)
{
	memset(w, 0, (n + 31) / 32 * sizeof(*w));
	for (unsigned i = 0; i < n; i++)
		w[i / 32] |= (uint64_t)st << (2 * (i % 32));
}

/*
 * Regions: 1 "hot" 256 pages, accessed at every scan; 2 "cold" 512 pages,
 * idle at scans 0-1, paged out at 1.5 s, swapped at scans 2-4, 10 of its
 * pages refault at 2.5 s; 3 "tiny" 8 pages, idle, gone at 2.2 s. Scans at
 * 0..4 s; phases "load" at 0 s, "serve" at 2 s.
 */
static void write_live(bool phases)
{
	struct pf_trace_writer *w;
	uint64_t hot[8], cold_i[16], cold_s[16], tiny[1], out[2] = {0, 512};
	char err[256];

	fill_states(hot, 256, PF_PG_ACCESSED);
	fill_states(cold_i, 512, PF_PG_IDLE);
	fill_states(cold_s, 512, PF_PG_SWAPPED);
	fill_states(tiny, 8, PF_PG_IDLE);
	w = pf_trace_create(trace, 4242, "app", 0, err, sizeof(err));
	cr_assert(w, "%s", err);
	cr_assert_eq(pf_trace_set_info(w, 1000, 1000, PF_TRACE_F_LIVE), 0);
	cr_assert_eq(pf_trace_write_region(w, 0, 1, 0, 0x10000000, 256, "hot", ""), 0);
	cr_assert_eq(pf_trace_write_region(w, 0, 2, 0, 0x20000000, 512, "cold", ""), 0);
	cr_assert_eq(pf_trace_write_region(w, 0, 3, 0, 0x30000000, 8, "tiny", ""), 0);
	if (phases)
		cr_assert_eq(pf_trace_write_phase(w, 0, "load"), 0);
	for (unsigned s = 0; s < 5; s++) {
		uint64_t t = s * S;

		if (phases && s == 2)
			cr_assert_eq(pf_trace_write_phase(w, t, "serve"), 0);
		cr_assert_eq(pf_trace_write_pages(w, t, 1, 0, 256, hot), 0);
		cr_assert_eq(pf_trace_write_pages(w, t, 2, 0, 512, s < 2 ? cold_i : cold_s), 0);
		if (s < 3)
			cr_assert_eq(pf_trace_write_pages(w, t, 3, 0, 8, tiny), 0);
		cr_assert_eq(pf_trace_write_tick(w, t), 0);
		if (s == 1)
			cr_assert_eq(pf_trace_write_action(w, t + S / 2, 2, PF_ACT_PAGEOUT, out, 1),
				     0);
		if (s == 2) {
			cr_assert_eq(pf_trace_write_region_end(w, t + S / 5, 3), 0);
			for (unsigned i = 0; i < 10; i++)
				cr_assert_eq(pf_trace_write_fault(w, t + S / 2, 2, 7 + i,
								  PF_FAULT_SWAPIN),
					     0);
		}
	}
	cr_assert_eq(pf_trace_finish(w), 0);
}

/* The data lines (not comments, not blank) of a file. */
static unsigned data_lines(const char *path)
{
	char line[256];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	cr_assert(f, "no %s", path);
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && line[0] != '\n')
			n++;
	fclose(f);
	return n;
}

static void check_png(const char *path)
{
	unsigned char magic[8];
	struct stat st;
	FILE *f = fopen(path, "rb");

	cr_assert(f, "no %s", path);
	cr_assert_eq(fread(magic, 1, 8, f), 8);
	fclose(f);
	cr_assert(!memcmp(magic, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 5000, "%s: only %lld bytes", path, (long long)st.st_size);
}

/* The value at (col, row) of a heatmap .dat written with rows rows per column. */
static double cell(const char *path, unsigned col, unsigned row, unsigned rows)
{
	unsigned want = col * rows + row, n = 0;
	char line[256];
	double x, y, v = -99;
	char vs[32];
	FILE *f = fopen(path, "r");

	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (n++ == want) {
			cr_assert_eq(sscanf(line, "%lf %lf %31s", &x, &y, vs), 3);
			v = strcmp(vs, "NaN") ? atof(vs) : NAN;
			break;
		}
	}
	fclose(f);
	return v;
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 60);

Test(report, live_trace)
{
	char cmd[1024], out[8192], p[256], line[256];
	double t, res, swp, ref, po, acc;
	unsigned row = 0;
	FILE *f;
	int rc;

	if (!have_gnuplot())
		cr_skip_test("gnuplot not installed (Debian: gnuplot-nox)");
	write_live(true);
	snprintf(cmd, sizeof(cmd), "%s --grid 50x20 %s %s/out/sub", report, trace, dir);
	rc = run(cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "%s", out);
	cr_log_info("%s", out);
	cr_expect(strstr(out, "live recording of pid 4242 (app), 4.0 s, 5 scans, 3 regions, 2 "
			      "phase changes, 10 refaults, 512 pages paged out"),
		  "%s", out);
	cr_expect(strstr(out, "phases: load at 0.0 s, serve at 2.0 s"), "%s", out);
	cr_expect(strstr(out, "timeline.png: 5 points"), "%s", out);
	for (const char *const *n = (const char *const[]){"heatmap-hot", "heatmap-cold",
							  "heatmap-tiny", "timeline", NULL};
	     *n; n++) {
		snprintf(p, sizeof(p), "%s/out/sub/%s.png", dir, *n);
		check_png(p);
	}
	/* Heatmaps: 50 columns x 20 rows (tiny: 8 pages, 8 rows). */
	snprintf(p, sizeof(p), "%s/out/sub/heatmap-hot.dat", dir);
	cr_expect_eq(data_lines(p), 50 * 20);
	cr_expect_float_eq(cell(p, 12, 7, 20), 1.0, 1e-9); /* scan at 1 s: all accessed */
	cr_expect_float_eq(cell(p, 5, 7, 20), 1.0, 1e-9); /* the scan at 0 s holds until 1 s */
	snprintf(p, sizeof(p), "%s/out/sub/heatmap-cold.dat", dir);
	cr_expect_eq(data_lines(p), 50 * 20);
	cr_expect_float_eq(cell(p, 12, 0, 20), 0.0, 1e-9); /* idle */
	cr_expect_float_eq(cell(p, 37, 19, 20), -1.0, 1e-9); /* swapped */
	snprintf(p, sizeof(p), "%s/out/sub/heatmap-tiny.dat", dir);
	cr_expect_eq(data_lines(p), 50 * 8);
	cr_expect_float_eq(cell(p, 26, 3, 8), 0.0, 1e-9); /* idle until it ends at 2.2 s */
	cr_expect(isnan(cell(p, 28, 3, 8))); /* then nothing */
	/* The timeline: one row per scan; the tiny region leaves after scan 2. */
	snprintf(p, sizeof(p), "%s/out/sub/timeline.dat", dir);
	cr_expect_eq(data_lines(p), 5);
	f = fopen(p, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		static const double want_res[] = {776, 776, 264, 256, 256};
		static const double want_ref[] = {0, 0, 0, 10, 0}, want_po[] = {0, 0, 512, 0, 0};

		if (line[0] == '#')
			continue;
		cr_assert_eq(
			sscanf(line, "%lf %lf %lf %lf %lf %lf", &t, &res, &swp, &ref, &po, &acc), 6,
			"%s", line);
		cr_expect_float_eq(t, row, 1e-9);
		cr_expect_float_eq(res, want_res[row] * 4096 / 1048576, 1e-3, "row %u: %s", row,
				   line);
		cr_expect_float_eq(swp, row >= 2 ? 2.0 : 0.0, 1e-3, "row %u: %s", row, line);
		cr_expect_float_eq(ref, want_ref[row], 1e-3, "row %u: %s", row, line);
		cr_expect_float_eq(po, want_po[row], 1e-3, "row %u: %s", row, line);
		row++;
	}
	fclose(f);
	/* The script draws the phase lines. */
	snprintf(cmd, sizeof(cmd), "grep -c \"set label 'serve' at 2.000000\" %s/out/sub/report.gp",
		 dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 0, "no phase line for 'serve'");
}

Test(report, no_phases_said)
{
	char cmd[1024], out[8192];

	write_live(false);
	snprintf(cmd, sizeof(cmd), "%s --no-render %s %s/out", report, trace, dir);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_expect(strstr(out, "phases: none recorded"), "%s", out);
	cr_expect(strstr(out, "not rendered (--no-render)"), "%s", out);
	snprintf(cmd, sizeof(cmd), "grep -q 'no phase changes recorded' %s/out/report.gp", dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 0, "the timeline's title does not say so");
	snprintf(cmd, sizeof(cmd), "%s/out/timeline.png", dir);
	cr_expect(access(cmd, F_OK), "--no-render rendered");
}

Test(report, generated_trace)
{
	char cmd[1024], out[8192], p[256];

	if (!have_gnuplot())
		cr_skip_test("gnuplot not installed (Debian: gnuplot-nox)");
	cr_assert(!access(sim, X_OK), "%s not built", sim);
	snprintf(cmd, sizeof(cmd), "%s --gen phases:pages=1024,loops=2,phase_len=5000 --write %s",
		 sim, trace);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	snprintf(cmd, sizeof(cmd), "%s %s %s/gen", report, trace, dir);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_log_info("%s", out);
	cr_expect(strstr(out, "not live (generated)"), "%s", out);
	cr_expect(strstr(out, "4 phase changes"), "%s", out);
	snprintf(p, sizeof(p), "%s/gen/heatmap-build.png", dir);
	check_png(p);
	snprintf(p, sizeof(p), "%s/gen/heatmap-query.png", dir);
	check_png(p);
	snprintf(p, sizeof(p), "%s/gen/timeline.png", dir);
	check_png(p);
	snprintf(p, sizeof(p), "%s/gen/heatmap-build.dat", dir);
	cr_expect_eq(data_lines(p), 200 * 100);
	snprintf(p, sizeof(p), "%s/gen/timeline.dat", dir);
	cr_expect_eq(data_lines(p), 200);
}

Test(report, errors)
{
	char cmd[1024], out[8192], p[256];
	FILE *f;

	/* A missing trace: the trace library's error, exit 1, one line. */
	snprintf(cmd, sizeof(cmd), "%s %s/none.pftrace %s/o", report, dir, dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 1);
	cr_expect(strstr(out, "none.pftrace: No such file or directory\n") && !strchr(out, '\n')[1],
		  "%s", out);
	snprintf(p, sizeof(p), "%s/o", dir);
	cr_expect(access(p, F_OK), "made the output directory for a missing trace");

	/* Not a trace. */
	snprintf(p, sizeof(p), "%s/junk.pftrace", dir);
	f = fopen(p, "w");
	cr_assert(f);
	for (int i = 0; i < 100; i++)
		fputc('x', f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s %s %s/o", report, p, dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 1);
	cr_expect(strstr(out, "not a PageFlex trace (bad magic)"), "%s", out);

	/* A truncated trace: the offset of the bad record. */
	write_live(true);
	cr_assert_eq(truncate(trace, 64 + 3 * 232 + 20), 0);
	snprintf(cmd, sizeof(cmd), "%s %s %s/o", report, trace, dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 1);
	cr_expect(strstr(out, "truncated"), "%s", out);
	cr_expect(strstr(out, "offset"), "%s", out);

	/* An output directory that cannot be made (under a regular file). */
	write_live(true);
	snprintf(cmd, sizeof(cmd), "%s %s %s/out", report, trace, trace);
	cr_expect_eq(run(cmd, out, sizeof(out)), 1);
	cr_expect(strstr(out, "cannot create the output directory") &&
			  strstr(out, "Not a directory"),
		  "%s", out);

	/* gnuplot missing: says which package; the data and script are kept. */
	snprintf(cmd, sizeof(cmd), "env PATH=/nonexistent %s %s %s/nognuplot", report, trace, dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 1);
	cr_expect(strstr(out, "gnuplot not found") && strstr(out, "gnuplot-nox"), "%s", out);
	snprintf(p, sizeof(p), "%s/nognuplot/report.gp", dir);
	cr_expect(!access(p, F_OK), "no report.gp without gnuplot");
	snprintf(p, sizeof(p), "%s/nognuplot/timeline.dat", dir);
	cr_expect(!access(p, F_OK), "no timeline.dat without gnuplot");

	/* Usage. */
	snprintf(cmd, sizeof(cmd), "%s %s", report, trace);
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	snprintf(cmd, sizeof(cmd), "%s --grid 5 %s %s/o", report, trace, dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	cr_expect(strstr(out, "--grid wants COLSxROWS"), "%s", out);
	snprintf(cmd, sizeof(cmd), "%s --help", report);
	cr_expect_eq(run(cmd, out, sizeof(out)), 0);
	cr_expect(strstr(out, "Usage: pageflex-report") && strstr(out, "Phase lines need PHASE"),
		  "%s", out);
}
