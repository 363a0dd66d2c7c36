// SPDX-License-Identifier: MIT
/*
 * Feature-by-feature loading of BPF objects, and one-by-one probing of
 * their programs (see bpf_features.h).
 *
 * Which program failed: libbpf loads with log level 0 and, when a program
 * is rejected, loads it once more with level 1 into the program's own log
 * buffer, so after a failed load the program whose buffer holds text is the
 * one the verifier refused. Failures before the verifier runs (a missing
 * attach target, an unresolved kfunc) leave no log: those are found in
 * libbpf's own warnings, which name the program ("prog 'NAME': ...").
 */
#include "bpf_features.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"

#define LOG_BUF_SIZE (1u << 20) /* per program; only what the verifier writes is touched */
#define MAX_PROGS 32

static char *log_bufs[MAX_PROGS];

/* libbpf's last warning that named a program, captured during a load. */
static libbpf_print_fn_t prev_print;
static char blamed_prog[64], blamed_msg[200];

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];
	const char *p, *q;
	va_list ap2;

	va_copy(ap2, ap);
	vsnprintf(msg, sizeof(msg), fmt, ap2);
	va_end(ap2);
	if (level == LIBBPF_WARN && (p = strstr(msg, "prog '")) && (q = strchr(p + 6, '\''))) {
		size_t len = (size_t)(q - p - 6);

		if (len < sizeof(blamed_prog)) {
			memcpy(blamed_prog, p + 6, len);
			blamed_prog[len] = 0;
			snprintf(blamed_msg, sizeof(blamed_msg), "%s", q + 2 + (q[1] == ':'));
			blamed_msg[strcspn(blamed_msg, "\n")] = 0;
		}
	}
	return prev_print ? prev_print(level, fmt, ap) : 0;
}

struct bpf_program *pf_bpf_prog(struct bpf_object *obj, const char *name)
{
	return name ? bpf_object__find_program_by_name(obj, name) : NULL;
}

uint32_t pf_bpf_verified_insns(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	return info.verified_insns;
}

/* The verifier's last word in log: its last line that is not a statistic,
 * with the instruction count when the log has one. */
static void log_reason(const char *log, char *out, size_t len, uint32_t *insns)
{
	const char *end = log + strlen(log), *s, *e;
	const char *p = strstr(log, "processed ");
	unsigned n = 0;

	if (p && sscanf(p, "processed %u insns", &n) == 1 && insns)
		*insns = n;
	*out = 0;
	for (e = end; e > log;) {
		while (e > log && (e[-1] == '\n' || e[-1] == ' '))
			e--;
		for (s = e; s > log && s[-1] != '\n';)
			s--;
		if (e > s && strncmp(s, "processed ", 10) && strncmp(s, "verification time", 17) &&
		    strncmp(s, "stack depth", 11) && strncmp(s, "-- END", 6)) {
			snprintf(out, len, "%.*s", (int)(e - s), s);
			break;
		}
		e = s;
	}
	if (n && !strstr(out, "rocessed")) {
		size_t k = strlen(out);

		snprintf(out + k, len - k, "%s%u insns verified", k ? "; " : "", n);
	}
}

static int prog_index(struct bpf_object *obj, const struct bpf_program *want)
{
	struct bpf_program *p;
	int i = 0;

	bpf_object__for_each_program(p, obj)
	{
		if (p == want)
			return i < MAX_PROGS ? i : -1;
		i++;
	}
	return -1;
}

/* Gives each program of obj an empty log buffer (libbpf fills it only on failure). */
static void give_log_bufs(struct bpf_object *obj)
{
	struct bpf_program *p;
	int i = 0;

	bpf_object__for_each_program(p, obj)
	{
		if (i >= MAX_PROGS)
			break;
		if (!log_bufs[i])
			log_bufs[i] = malloc(LOG_BUF_SIZE);
		if (log_bufs[i]) {
			log_bufs[i][0] = 0;
			bpf_program__set_log_buf(p, log_bufs[i], LOG_BUF_SIZE);
		}
		i++;
	}
	blamed_prog[0] = blamed_msg[0] = 0;
	prev_print = libbpf_set_print(capture_print);
	if (prev_print == capture_print)
		prev_print = NULL;
}

static void stop_capture(void)
{
	libbpf_set_print(prev_print);
}

int pf_features_disable(struct pf_feature *f, size_t n, const char *list, char *err, size_t errlen)
{
	char buf[256], *save, *s;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", list);
	for (s = strtok_r(buf, ", ", &save); s; s = strtok_r(NULL, ", ", &save)) {
		for (i = 0; i < n && strcmp(f[i].name, s); i++)
			;
		if (i == n) {
			size_t k = (size_t)snprintf(err, errlen, "unknown feature '%s' (want", s);

			for (i = 0; i < n && k < errlen; i++)
				k += (size_t)snprintf(err + k, errlen - k, "%s %s", i ? "," : "",
						      f[i].name);
			if (k < errlen)
				snprintf(err + k, errlen - k, ")");
			return -EINVAL;
		}
		f[i].state = PF_FEAT_OFF;
		snprintf(f[i].why, sizeof(f[i].why), "turned off by the user");
	}
	return 0;
}

void pf_features_apply(struct pf_feature *f, size_t n, struct bpf_object *obj)
{
	size_t i;
	int v, k;

	for (i = 0; i < n; i++)
		for (v = 0; v < PF_FEAT_VARIANTS; v++)
			for (k = 0; k < PF_FEAT_PROGS; k++) {
				struct bpf_program *p = pf_bpf_prog(obj, f[i].progs[v][k]);

				if (p)
					bpf_program__set_autoload(p, f[i].state == PF_FEAT_ON &&
									     v == f[i].variant);
			}
	give_log_bufs(obj);
}

/* The feature (and its variant) that p belongs to, or -1. */
static int feature_of(struct pf_feature *f, size_t n, const char *prog)
{
	size_t i;
	int v, k;

	for (i = 0; i < n; i++)
		for (v = 0; v < PF_FEAT_VARIANTS; v++)
			for (k = 0; k < PF_FEAT_PROGS; k++)
				if (f[i].progs[v][k] && !strcmp(f[i].progs[v][k], prog))
					return (int)i;
	return -1;
}

int pf_features_blame(struct pf_feature *f, size_t n, struct bpf_object *obj, int rc)
{
	struct bpf_program *p, *culprit = NULL;
	char why[200] = "";
	uint32_t insns = 0;
	int i, fi;

	stop_capture();
	bpf_object__for_each_program(p, obj)
	{
		i = prog_index(obj, p);
		if (i >= 0 && log_bufs[i] && log_bufs[i][0]) {
			culprit = p;
			log_reason(log_bufs[i], why, sizeof(why), &insns);
			break;
		}
	}
	if (!culprit && blamed_prog[0]) {
		culprit = pf_bpf_prog(obj, blamed_prog);
		snprintf(why, sizeof(why), "%s", blamed_msg);
	}
	if (!culprit)
		return -1;
	fi = feature_of(f, n, bpf_program__name(culprit));
	if (fi < 0 || f[fi].state != PF_FEAT_ON)
		return -1;
	f[fi].err = rc;
	snprintf(f[fi].why, sizeof(f[fi].why), "%s: %s (%s)", bpf_program__name(culprit),
		 why[0] ? why : "refused", strerror(rc < 0 ? -rc : rc));
	if (f[fi].variant + 1 < PF_FEAT_VARIANTS && f[fi].progs[f[fi].variant + 1][0]) {
		pf_dbg("feature %s: %s; trying %s", f[fi].name, f[fi].why,
		       f[fi].progs[f[fi].variant + 1][0]);
		f[fi].variant++;
	} else {
		f[fi].state = PF_FEAT_FAILED;
	}
	return 0;
}

void pf_features_loaded(struct pf_feature *f, size_t n, struct bpf_object *obj)
{
	size_t i;
	int k;

	stop_capture();
	for (i = 0; i < n; i++) {
		f[i].verified_insns = 0;
		if (f[i].state != PF_FEAT_ON)
			continue;
		for (k = 0; k < PF_FEAT_PROGS; k++) {
			struct bpf_program *p = pf_bpf_prog(obj, f[i].progs[f[i].variant][k]);

			if (p)
				f[i].verified_insns += pf_bpf_verified_insns(bpf_program__fd(p));
		}
		if (f[i].variant && f[i].variant_note[f[i].variant]) {
			char tmp[sizeof(f[i].why)];
			int k = snprintf(tmp, sizeof(tmp), "%s, since ",
					 f[i].variant_note[f[i].variant]);

			if (k > 0 && (size_t)k < sizeof(tmp)) { /* the reason, cut to fit */
				size_t w = strnlen(f[i].why, sizeof(tmp) - (size_t)k - 1);

				memcpy(tmp + k, f[i].why, w);
				tmp[(size_t)k + w] = 0;
			}
			memcpy(f[i].why, tmp, sizeof(tmp));
		}
	}
}

void pf_feature_fail(struct pf_feature *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	f->err = err;
	f->state = PF_FEAT_FAILED;
}

const char *pf_feat_state_name(enum pf_feat_state s)
{
	return s == PF_FEAT_ON ? "on" : s == PF_FEAT_OFF ? "off" : "failed";
}

void pf_features_log(const struct pf_feature *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].state == PF_FEAT_ON && f[i].variant)
			pf_info("feature %s: fallback: %s", f[i].name, f[i].why);
		else if (f[i].state != PF_FEAT_ON)
			pf_warn("feature %s %s (%s%s%s): %s; %s", f[i].name,
				f[i].state == PF_FEAT_OFF ? "off" : "unavailable", f[i].why,
				f[i].state == PF_FEAT_FAILED && f[i].needs ? "; needs " : "",
				f[i].state == PF_FEAT_FAILED && f[i].needs ? f[i].needs : "",
				f[i].what, f[i].lost);
	}
}

int pf_bpf_probe_object(const char *object, const void *elf, size_t sz, struct pf_prog_probe *out,
			size_t max)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = object);
	struct bpf_object *obj;
	struct bpf_program *p;
	int nprogs = 0, k, i;

	obj = bpf_object__open_mem(elf, sz, &oo);
	if (!obj)
		return -errno;
	bpf_object__for_each_program(p, obj) nprogs++;
	bpf_object__close(obj);
	for (k = 0; k < nprogs && (size_t)k < max; k++) {
		struct pf_prog_probe *r = &out[k];
		struct bpf_program *want = NULL;
		int rc;

		memset(r, 0, sizeof(*r));
		snprintf(r->object, sizeof(r->object), "%s", object);
		obj = bpf_object__open_mem(elf, sz, &oo);
		if (!obj)
			return -errno;
		i = 0;
		bpf_object__for_each_program(p, obj)
		{
			bpf_program__set_autoload(p, i == k);
			if (i++ == k)
				want = p;
		}
		snprintf(r->prog, sizeof(r->prog), "%s", bpf_program__name(want));
		give_log_bufs(obj);
		rc = bpf_object__load(obj);
		stop_capture();
		if (rc) {
			r->err = rc < 0 ? rc : -rc;
			i = prog_index(obj, want);
			if (i >= 0 && log_bufs[i] && log_bufs[i][0])
				log_reason(log_bufs[i], r->why, sizeof(r->why), &r->verified_insns);
			else
				snprintf(r->why, sizeof(r->why), "%s",
					 blamed_msg[0] ? blamed_msg : strerror(-r->err));
		} else {
			r->verified_insns = pf_bpf_verified_insns(bpf_program__fd(want));
		}
		bpf_object__close(obj);
	}
	return nprogs;
}
