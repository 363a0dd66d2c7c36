/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the shim tests: start and stop a pf_recorder on a private
 * socket, run pf_shim_prog under LD_PRELOAD=libpageflex.so, and look for
 * event lines in the recording.
 */
#ifndef SHIM_HARNESS_H
#define SHIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct recorder {
	pid_t pid;
	char dir[64];
	char sock[128];
	char out[160];
};

/* The build tree ($PAGEFLEX_BUILD_DIR, set by CTest). */
const char *h_build_dir(void);
/* Paths of the shim and the helper programs in the build tree. */
const char *h_shim(void);
const char *h_prog(void);

/* A fresh directory with a socket path; the recorder is not started. */
bool rec_init(struct recorder *r);
bool rec_start(struct recorder *r);
void rec_stop(struct recorder *r);
/* The recording so far (malloc'd, NUL-terminated). */
char *rec_read(const struct recorder *r);
/* Waits until the recording contains needle; false on timeout. */
bool rec_wait(const struct recorder *r, const char *needle, int timeout_ms);
void rec_cleanup(struct recorder *r);

/*
 * Runs pf_shim_prog with args; preload selects LD_PRELOAD of the shim, sock
 * (may be NULL) becomes PAGEFLEX_SOCKET. Returns the exit status (or -1) and
 * the program's stdout in *out (malloc'd).
 */
int run_prog(const char *sock, bool preload, const char *const *args, char **out);

/* Extra "NAME=value" strings put into the program's environment (or NULL). */
extern const char *const *h_extra_env;
/* Runs this program instead of pf_shim_prog when set. */
extern const char *h_prog_override;
/* When true, the program's stderr goes into the same pipe as its stdout. */
extern bool h_merge_stderr;

/* Starts pf_shim_prog with pipes to its stdin and stdout. */
pid_t spawn_prog(const char *sock, bool preload, const char *const *args, int *in_fd, int *out_fd);
/* Reads from fd until the text read so far contains needle (or EOF/timeout). */
char *read_until(int fd, const char *needle, int timeout_ms);

/* Finds "<pid> MAP 0x<start> <len> <kind> ... tag=<tag> " in a recording. */
bool has_map(const char *rec, pid_t pid, unsigned long start, unsigned long len, const char *kind,
	     const char *tag);
/* Finds "<pid> <what> 0x<start> <len>" (what: UNMAP or DISCARD). */
bool has_range(const char *rec, pid_t pid, const char *what, unsigned long start,
	       unsigned long len);

struct map_line {
	unsigned long start, len;
	char kind[16], tag[64], site[256];
};
/* The MAP lines of pid in a recording, whose tag starts with tag_prefix. */
size_t get_maps(const char *rec, pid_t pid, const char *tag_prefix, struct map_line *out,
		size_t max);

#endif
