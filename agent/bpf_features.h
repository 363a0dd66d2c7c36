/* SPDX-License-Identifier: MIT */
/*
 * Loading a BPF object feature by feature, so that a kernel which rejects
 * one program costs one feature, never the whole agent. A feature is a set
 * of programs with fallbacks (variants): the fault classifier is pf_fault,
 * or pf_fault_compat on a kernel without bpf_rdonly_cast. The caller opens
 * its skeleton, lets pf_features_apply() choose which programs load, loads;
 * on failure pf_features_blame() finds the program the kernel (or libbpf)
 * refused, moves its feature to the next variant or turns it off with the
 * reason (the verifier's last line, the errno), and the caller opens and
 * loads again. After a successful load each loaded program's
 * verified-instruction count is kept (bpf_prog_info.verified_insns).
 *
 * Also here: probing every program of an object one by one (pageflexd
 * --check and the verifier-margin test).
 */
#ifndef PAGEFLEX_BPF_FEATURES_H
#define PAGEFLEX_BPF_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_object;

#define PF_FEAT_VARIANTS 2 /* programs a feature may fall back through */
#define PF_FEAT_PROGS 2 /* programs in one variant */

enum pf_feat_state {
	PF_FEAT_ON, /* loaded (and attached, once the caller says so) */
	PF_FEAT_OFF, /* turned off by the user (--disable) */
	PF_FEAT_FAILED, /* the kernel refused it: see why */
};

struct pf_feature {
	/* Set by the caller. */
	const char *name; /* "scanner" */
	const char *what; /* one phrase: what it does */
	const char *lost; /* what is lost without it, and what still works */
	const char *needs; /* the oldest kernel it can run on, and why */
	const char *progs[PF_FEAT_VARIANTS][PF_FEAT_PROGS]; /* variant 0 preferred */
	const char *variant_note[PF_FEAT_VARIANTS]; /* said when a variant > 0 runs */
	/* Kept up to date by the functions below. */
	enum pf_feat_state state;
	int variant; /* the variant that loads (or was tried last) */
	int err; /* -errno of the failure */
	char why[256]; /* why it is off, or why a fallback variant runs */
	uint32_t verified_insns; /* of the loaded programs, summed */
};

/* Marks features named in a comma-separated list PF_FEAT_OFF. 0, or -EINVAL
 * with the unknown name in err. */
int pf_features_disable(struct pf_feature *f, size_t n, const char *list, char *err, size_t errlen);
/* Chooses which programs of obj load (after open, before load). Programs of
 * no feature load as usual. */
void pf_features_apply(struct pf_feature *f, size_t n, struct bpf_object *obj);
/*
 * After a failed load (rc = -errno): blames the program that failed, moves
 * its feature to its next variant or marks it PF_FEAT_FAILED. Returns 0 if
 * the caller should open and load again, or -1 if the failure is no
 * feature's (a map, BTF, an unlisted program): then the object cannot load.
 */
int pf_features_blame(struct pf_feature *f, size_t n, struct bpf_object *obj, int rc);
/* After a successful load: records verified-instruction counts. */
void pf_features_loaded(struct pf_feature *f, size_t n, struct bpf_object *obj);
/* A loaded feature that could not attach: off, with the reason. */
void pf_feature_fail(struct pf_feature *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline bool pf_feature_on(const struct pf_feature *f)
{
	return f->state == PF_FEAT_ON;
}
/* Logs one line per feature that is off or runs a fallback. */
void pf_features_log(const struct pf_feature *f, size_t n);
const char *pf_feat_state_name(enum pf_feat_state s);

/* The program of obj named name, or NULL. */
struct bpf_program *pf_bpf_prog(struct bpf_object *obj, const char *name);
/* The kernel's verified-instruction count of a loaded program (0 if unknown). */
uint32_t pf_bpf_verified_insns(int prog_fd);

/* One program of an object, loaded alone. */
struct pf_prog_probe {
	char object[48];
	char prog[64];
	int err; /* 0: loaded */
	uint32_t verified_insns; /* from the kernel, or from the log of a failure */
	char why[200]; /* the verifier's (or libbpf's) last word on a failure */
};
/* Loads each program of the object in elf (a skeleton's __elf_bytes) alone;
 * fills at most max entries and returns how many programs it has, or -errno. */
int pf_bpf_probe_object(const char *object, const void *elf, size_t sz, struct pf_prog_probe *out,
			size_t max);

#endif
