// SPDX-License-Identifier: MIT
/*
 * `pageflexctl enable|disable UNIT`: puts a systemd service under
 * libpageflex.so without editing its unit file. enable checks everything
 * first (the unit exists; its ExecStart= program exists, is dynamically
 * linked and not set-uid/set-gid, since the loader ignores LD_PRELOAD
 * there; nothing else sets LD_PRELOAD; the library exists), then writes
 * /etc/systemd/system/UNIT.d/pageflex.conf atomically; disable removes it.
 * Paths are resolved inside --root (openat2 RESOLVE_IN_ROOT), as systemctl
 * --root does, so tests need no root privileges and no systemd.
 */
#include "ctl_unit.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PAGEFLEX_INSTALLED_LIB
#define PAGEFLEX_INSTALLED_LIB "/usr/local/lib/libpageflex.so"
#endif

/* The first line of every drop-in we write: disable removes only such files. */
#define HEADER "# Written by `pageflexctl enable`; `pageflexctl disable` removes it."
#define DROPIN "pageflex.conf"
#define ETC_UNITS "/etc/systemd/system"

extern char **environ;

/* systemd's unit search path, highest priority first. */
static const char *const unit_dirs[] = {
	ETC_UNITS,
	"/run/systemd/system",
	"/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system",
	"/lib/systemd/system",
};
#define N_DIRS (sizeof(unit_dirs) / sizeof(unit_dirs[0]))
#define UNIT_PATHS                                                                  \
	"/etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system, " \
	"/usr/lib/systemd/system, /lib/systemd/system"

/* Where ExecStart= programs without a '/' are looked up (systemd's default). */
static const char *const exec_path[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
};

/* The variables libpageflex.so reads (preload/README.md). */
static const char *const shim_vars[] = {
	"PAGEFLEX_SOCKET",	"PAGEFLEX_LOG",		"PAGEFLEX_MIN_REGION",
	"PAGEFLEX_LARGE_ALLOC", "PAGEFLEX_SITE_ARENAS",
};

void ctl_unit_usage(FILE *f)
{
	fprintf(f,
		"  enable UNIT [--root DIR] [--lib PATH] [--env NAME=VALUE]... [--now]\n"
		"                         run a systemd service under libpageflex.so: writes\n"
		"                         /etc/systemd/system/UNIT.d/" DROPIN " (LD_PRELOAD and\n"
		"                         the --env variables) atomically, then systemctl\n"
		"                         daemon-reload (--now: also try-restart UNIT). UNIT\n"
		"                         must exist; refused for set-uid/set-gid or static\n"
		"                         programs and units that set LD_PRELOAD already.\n"
		"                         --lib: default " PAGEFLEX_INSTALLED_LIB "\n"
		"                         --env: PAGEFLEX_SOCKET, PAGEFLEX_LOG, PAGEFLEX_MIN_REGION,\n"
		"                         PAGEFLEX_LARGE_ALLOC, PAGEFLEX_SITE_ARENAS\n"
		"  disable UNIT [--root DIR] [--now]\n"
		"                         remove that drop-in (exit 0 if there is none)\n"
		"                         --root DIR: act on the tree under DIR, as systemctl\n"
		"                         --root does; systemctl is then never called\n");
}

struct uctx {
	const char *cmd; /* "enable" or "disable" */
	const char *root; /* as given; NULL for / */
	char rootp[PATH_MAX]; /* prefix for printed paths: "" for / */
	int rootfd;
	char unit[256]; /* foo.service, foo@bar.service */
	char tmpl[256]; /* foo@.service for an instance, else "" */
	/* what the unit's files say (enable only) */
	char **exec; /* ExecStart= values in force, in order */
	char **exec_src; /* the file each came from */
	size_t n_exec, n_src;
	char lp_src[PATH_MAX]; /* the file whose Environment= sets LD_PRELOAD */
	char **envfiles; /* EnvironmentFile= values in force */
	size_t n_envfiles;
};

static int fail(const struct uctx *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const struct uctx *u, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pageflexctl: %s: ", u->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Opens path (absolute) as seen inside the root: symlinks cannot leave it. */
static int root_open(const struct uctx *u, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
	char full[PATH_MAX * 2];
	int fd;

	fd = (int)syscall(SYS_openat2, u->rootfd, path, &how, sizeof(how));
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return fd;
	/* No openat2 (old kernel, seccomp): plain paths under the root. */
	snprintf(full, sizeof(full), "%s%s", u->rootp, path);
	return open(full, flags | O_CLOEXEC);
}

/* Reads a whole file opened by the caller (closes fd); NULL on error. */
static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *b = malloc(cap), *nb;
	ssize_t n;

	if (!b) {
		close(fd);
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			nb = realloc(b, cap);
			if (!nb || cap > (64u << 20))
				goto err;
			b = nb;
		}
		n = read(fd, b + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err;
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	b[len] = 0;
	return b;
err:
	free(b);
	close(fd);
	return NULL;
}

static bool push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return false;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return false;
	(*n)++;
	return true;
}

static void clear(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

/*
 * One word of a systemd value at *p, unquoted ("..." and '...', backslash
 * escapes taken literally): false when there is none. Advances *p.
 */
static bool next_word(const char **p, char *out, size_t size)
{
	const char *s = *p;
	size_t o = 0;
	char q = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!q && (*s == ' ' || *s == '\t'))
			break;
		if (!q && (*s == '"' || *s == '\'')) {
			q = *s;
			continue;
		}
		if (q && *s == q) {
			q = 0;
			continue;
		}
		if (*s == '\\' && s[1] && q != '\'')
			s++;
		if (o + 1 < size)
			out[o++] = *s;
	}
	out[o] = 0;
	*p = s;
	return true;
}

/* Applies one unit file or drop-in (its text) to u: the [Service] keys we need. */
static bool parse_unit_text(struct uctx *u, char *text, const char *src)
{
	bool service = false;
	char *line = text, *next;

	for (; line; line = next) {
		char *key, *val, *end;

		next = strchr(line, '\n');
		/* A trailing backslash continues the line. */
		while (next && next > line && next[-1] == '\\') {
			next[-1] = ' ';
			*next = ' ';
			next = strchr(next, '\n');
		}
		if (next)
			*next++ = 0;
		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = 0;
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			service = !strcmp(line, "[Service]");
			continue;
		}
		if (!service || !(val = strchr(line, '=')))
			continue;
		key = line;
		for (end = val; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = 0;
		for (val++; *val == ' ' || *val == '\t'; val++)
			;
		if (!strcmp(key, "ExecStart")) {
			if (!*val) {
				clear(&u->exec, &u->n_exec);
				clear(&u->exec_src, &u->n_src);
			} else if (!push(&u->exec, &u->n_exec, val) ||
				   !push(&u->exec_src, &u->n_src, src)) {
				return false;
			}
		} else if (!strcmp(key, "Environment")) {
			const char *p = val;
			char w[4096];

			if (!*val)
				u->lp_src[0] = 0;
			while (next_word(&p, w, sizeof(w)))
				if (!strncmp(w, "LD_PRELOAD=", 11))
					snprintf(u->lp_src, sizeof(u->lp_src), "%s", src);
		} else if (!strcmp(key, "EnvironmentFile")) {
			if (!*val)
				clear(&u->envfiles, &u->n_envfiles);
			else if (!push(&u->envfiles, &u->n_envfiles, val))
				return false;
		}
	}
	return true;
}

/* The first line of a drop-in text is ours. */
static bool is_ours(const char *text)
{
	size_t n = strlen(HEADER);

	return !strncmp(text, HEADER, n) && (text[n] == '\n' || !text[n]);
}

/*
 * Finds the unit file (the instance's own first, then its template's) in
 * the search path. Returns its text (malloc'd) and its path in *path; NULL
 * with *masked set for a link to /dev/null or an empty file, NULL and
 * !*masked when there is none.
 */
static char *find_unit(const struct uctx *u, char *path, size_t size, bool *masked)
{
	const char *names[2] = {u->unit, u->tmpl[0] ? u->tmpl : NULL};

	*masked = false;
	for (int k = 0; k < 2 && names[k]; k++) {
		for (size_t i = 0; i < N_DIRS; i++) {
			char p[PATH_MAX], link[PATH_MAX];
			struct stat st;
			ssize_t n;
			int dfd, fd;

			snprintf(p, sizeof(p), "%s/%s", unit_dirs[i], names[k]);
			dfd = root_open(u, unit_dirs[i], O_PATH | O_DIRECTORY);
			if (dfd < 0)
				continue;
			n = readlinkat(dfd, names[k], link, sizeof(link) - 1);
			close(dfd);
			if (n > 0) {
				link[n] = 0;
				if (!strcmp(link, "/dev/null")) {
					snprintf(path, size, "%s", p);
					*masked = true;
					return NULL;
				}
			}
			fd = root_open(u, p, O_RDONLY);
			if (fd < 0)
				continue;
			if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
				close(fd);
				continue;
			}
			snprintf(path, size, "%s", p);
			if (!st.st_size) {
				close(fd);
				*masked = true;
				return NULL;
			}
			return slurp(fd);
		}
	}
	return NULL;
}

struct dropin {
	char name[256];
	char path[PATH_MAX + 512];
};

static int cmp_dropin(const void *a, const void *b)
{
	return strcmp(((const struct dropin *)a)->name, ((const struct dropin *)b)->name);
}

/*
 * The unit's drop-ins (UNIT.d/ and, for an instance, its template's), as
 * systemd orders them: by file name, a name in a higher-priority directory
 * hiding the same name below it. Returns how many (*out malloc'd), -1 on
 * an allocation failure.
 */
static long list_dropins(const struct uctx *u, struct dropin **out)
{
	const char *names[2] = {u->unit, u->tmpl[0] ? u->tmpl : NULL};
	struct dropin *v = NULL, *nv;
	size_t n = 0;

	for (size_t i = 0; i < N_DIRS; i++) {
		for (int k = 0; k < 2 && names[k]; k++) {
			char d[PATH_MAX];
			struct dirent *de;
			DIR *dir;
			int fd;

			snprintf(d, sizeof(d), "%s/%s.d", unit_dirs[i], names[k]);
			fd = root_open(u, d, O_RDONLY | O_DIRECTORY);
			if (fd < 0)
				continue;
			if (!(dir = fdopendir(fd))) {
				close(fd);
				continue;
			}
			while ((de = readdir(dir))) {
				size_t l = strlen(de->d_name), j;

				if (l < 6 || l >= sizeof(v->name) || de->d_name[0] == '.' ||
				    strcmp(de->d_name + l - 5, ".conf"))
					continue;
				for (j = 0; j < n && strcmp(v[j].name, de->d_name); j++)
					;
				if (j < n)
					continue; /* hidden by a higher-priority one */
				nv = realloc(v, (n + 1) * sizeof(*v));
				if (!nv) {
					closedir(dir);
					free(v);
					return -1;
				}
				v = nv;
				snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
				snprintf(v[n].path, sizeof(v[n].path), "%s/%s", d, de->d_name);
				n++;
			}
			closedir(dir);
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_dropin);
	*out = v;
	return (long)n;
}

/* An ELF file without PT_INTERP is statically linked: no loader, no LD_PRELOAD. */
static bool elf_is_static(int fd)
{
	unsigned char id[EI_NIDENT];
	Elf64_Ehdr e64;
	Elf32_Ehdr e32;
	size_t phoff, phnum, phentsize;

	if (pread(fd, id, sizeof(id), 0) != (ssize_t)sizeof(id) || memcmp(id, ELFMAG, SELFMAG))
		return false; /* a script: its interpreter is what runs */
	if (id[EI_CLASS] == ELFCLASS64) {
		if (pread(fd, &e64, sizeof(e64), 0) != (ssize_t)sizeof(e64))
			return false;
		phoff = e64.e_phoff, phnum = e64.e_phnum, phentsize = e64.e_phentsize;
	} else if (id[EI_CLASS] == ELFCLASS32) {
		if (pread(fd, &e32, sizeof(e32), 0) != (ssize_t)sizeof(e32))
			return false;
		phoff = e32.e_phoff, phnum = e32.e_phnum, phentsize = e32.e_phentsize;
	} else {
		return false;
	}
	if (phentsize < sizeof(uint32_t) || phnum > 4096)
		return false;
	for (size_t i = 0; i < phnum; i++) {
		uint32_t type;

		if (pread(fd, &type, sizeof(type), (off_t)(phoff + i * phentsize)) !=
		    (ssize_t)sizeof(type))
			return false;
		if (type == PT_INTERP)
			return false;
	}
	return true;
}

/* Checks one ExecStart= value's program. 0 or 1 (refused, said why). */
static int check_program(const struct uctx *u, const char *val, const char *src)
{
	char prog[PATH_MAX], found[PATH_MAX + 64];
	const char *p = val;
	struct stat st;
	int fd = -1;

	while (*p == '@' || *p == '-' || *p == ':' || *p == '+' || *p == '!')
		p++;
	if (!next_word(&p, prog, sizeof(prog)) || !*prog)
		return fail(u, "%s: ExecStart= in %s%s names no program", u->unit, u->rootp, src);
	if (strchr(prog, '%'))
		return fail(u,
			    "%s: the program '%s' (ExecStart= in %s%s) uses a specifier; "
			    "cannot check it",
			    u->unit, prog, u->rootp, src);
	if (prog[0] == '/') {
		snprintf(found, sizeof(found), "%s", prog);
		fd = root_open(u, found, O_RDONLY);
	} else if (!strchr(prog, '/')) {
		for (size_t i = 0; fd < 0 && i < sizeof(exec_path) / sizeof(exec_path[0]); i++) {
			snprintf(found, sizeof(found), "%s/%s", exec_path[i], prog);
			fd = root_open(u, found, O_RDONLY);
			if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
				close(fd);
				fd = -1;
			}
		}
	} else {
		return fail(u, "%s: the program '%s' (ExecStart= in %s%s) is not an absolute path",
			    u->unit, prog, u->rootp, src);
	}
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		if (prog[0] == '/')
			return fail(u, "%s: its program %s%s (ExecStart= in %s%s) does not exist",
				    u->unit, u->rootp, prog, u->rootp, src);
		return fail(u, "%s: its program '%s' (ExecStart= in %s%s) is not in %s%s", u->unit,
			    prog, u->rootp, src, u->rootp[0] ? "the root's " : "",
			    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	}
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		close(fd);
		return fail(u,
			    "%s: refused: its program %s%s is set-%s, and the dynamic loader "
			    "ignores LD_PRELOAD for set-uid/set-gid programs (secure-execution "
			    "mode), so libpageflex.so would never load",
			    u->unit, u->rootp, found, st.st_mode & S_ISUID ? "uid" : "gid");
	}
	if (elf_is_static(fd)) {
		close(fd);
		return fail(u,
			    "%s: refused: its program %s%s is statically linked; LD_PRELOAD "
			    "only works for dynamically linked programs",
			    u->unit, u->rootp, found);
	}
	close(fd);
	return 0;
}

/* An EnvironmentFile= that sets LD_PRELOAD overrides Environment=: refuse it. */
static int check_envfile(const struct uctx *u, const char *val)
{
	const char *p = val;
	char path[PATH_MAX], *text, *line;
	int fd;

	if (*p == '-')
		p++;
	if (!next_word(&p, path, sizeof(path)) || path[0] != '/' || strpbrk(path, "%*?["))
		return 0; /* not something we can read here */
	fd = root_open(u, path, O_RDONLY);
	if (fd < 0 || !(text = slurp(fd)))
		return 0; /* systemd reads it at start; missing with '-' is allowed */
	for (line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!strncmp(line, "export ", 7))
			line += 7;
		if (!strncmp(line, "LD_PRELOAD=", 11) || !strncmp(line, "LD_PRELOAD ", 11)) {
			free(text);
			return fail(u,
				    "%s: refused: its EnvironmentFile %s%s sets LD_PRELOAD, which "
				    "would override ours",
				    u->unit, u->rootp, path);
		}
	}
	free(text);
	return 0;
}

/* UNIT -> u->unit (adds .service) and u->tmpl. 0, or 2 after a usage error. */
static int set_unit(struct uctx *u, const char *name)
{
	static const char *const others[] = {".socket",	   ".timer", ".target", ".mount",
					     ".automount", ".path",  ".slice",	".scope",
					     ".device",	   ".swap"};
	size_t l = strlen(name);
	const char *at;

	if (!l || l > 255 - strlen(".service") || name[0] == '.' || name[0] == '@' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.\\@-") !=
		    l) {
		fail(u, "'%s' is not a valid unit name", name);
		return 2;
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		size_t s = strlen(others[i]);

		if (l > s && !strcmp(name + l - s, others[i])) {
			fail(u, "'%s': only .service units can run under libpageflex.so", name);
			return 2;
		}
	}
	if (l > 8 && !strcmp(name + l - 8, ".service"))
		snprintf(u->unit, sizeof(u->unit), "%s", name);
	else
		snprintf(u->unit, sizeof(u->unit), "%s.service", name);
	u->tmpl[0] = 0;
	at = strchr(u->unit, '@');
	if (at && strchr(at + 1, '@')) {
		fail(u, "'%s' is not a valid unit name", name);
		return 2;
	}
	if (at && at[1] != '.') /* an instance: foo@bar.service -> foo@.service */
		snprintf(u->tmpl, sizeof(u->tmpl), "%.*s@.service", (int)(at - u->unit), u->unit);
	return 0;
}

/* Appends "NAME=VALUE" quoted for Environment=. false if it does not fit. */
static bool append_env(char *buf, size_t size, const char *nv)
{
	size_t o = strlen(buf);

	if (o + 16 >= size)
		return false;
	o += (size_t)snprintf(buf + o, size - o, "Environment=\"");
	for (const char *s = nv; *s; s++) {
		if (o + 4 >= size)
			return false;
		if (*s == '\\' || *s == '"')
			buf[o++] = '\\';
		else if (*s == '%')
			buf[o++] = '%'; /* specifier escape */
		buf[o++] = *s;
	}
	if (o + 3 >= size)
		return false;
	buf[o++] = '"';
	buf[o++] = '\n';
	buf[o] = 0;
	return true;
}

/* Runs systemctl ARGS... and waits. 0 if it succeeded, else 1 (said why). */
static int systemctl(const struct uctx *u, const char *a1, const char *a2)
{
	char *argv[] = {"systemctl", (char *)a1, (char *)a2, NULL};
	pid_t pid;
	int st, e;

	e = posix_spawnp(&pid, "systemctl", NULL, NULL, argv, environ);
	if (e)
		return fail(u, "cannot run systemctl: %s", strerror(e));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail(u, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return fail(u, "systemctl %s%s%s failed (status %d)", a1, a2 ? " " : "",
			    a2 ? a2 : "", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}

/* After a write or removal: tell systemd, unless under --root. */
static int tell_systemd(const struct uctx *u, bool now)
{
	int rc;

	if (u->root)
		return 0;
	if (access("/run/systemd/system", F_OK)) {
		printf("systemd is not running here: the change takes effect when it starts "
		       "%s\n",
		       u->unit);
		return 0;
	}
	if ((rc = systemctl(u, "daemon-reload", NULL)))
		return rc;
	printf("ran systemctl daemon-reload\n");
	if (!now) {
		printf("takes effect when %s next starts (--now restarts it if it runs)\n",
		       u->unit);
		return 0;
	}
	if ((rc = systemctl(u, "try-restart", u->unit)))
		return rc;
	printf("ran systemctl try-restart %s (restarted if it was running)\n", u->unit);
	return 0;
}

/*
 * Opens /etc/systemd/system (under the root) as a directory, creating it
 * and its parents (0755) when create is set. -1 on error (errno set).
 */
static int open_etc_units(const struct uctx *u, bool create)
{
	static const char *const paths[] = {"/etc", "/etc/systemd", ETC_UNITS};
	int fd = root_open(u, "/", O_RDONLY | O_DIRECTORY), nfd, e;

	for (size_t i = 0; fd >= 0 && i < 3; i++) {
		/* Each level resolved inside the root (it may be a symlink there). */
		nfd = root_open(u, paths[i], O_RDONLY | O_DIRECTORY);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, strrchr(paths[i], '/') + 1, 0755) && errno != EEXIST)
				goto err;
			nfd = root_open(u, paths[i], O_RDONLY | O_DIRECTORY);
		}
		if (nfd < 0)
			goto err;
		close(fd);
		fd = nfd;
	}
	return fd;
err:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Writes text to dir/DROPIN atomically (temp file, fsync, rename, fsync dir). */
static int write_dropin(const struct uctx *u, int dfd, const char *text, const char *shown)
{
	char tmp[64];
	size_t len = strlen(text), off = 0;
	int fd, e;

	snprintf(tmp, sizeof(tmp), ".%s.%ld.%lx", DROPIN, (long)getpid(), (long)time(NULL));
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return fail(u, "cannot create a file in %s: %s", shown, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err;
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) || fsync(fd))
		goto err;
	if (close(fd)) {
		fd = -1;
		goto err;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, DROPIN))
		goto err;
	if (fsync(dfd))
		return fail(u, "fsync %s: %s", shown, strerror(errno));
	return 0;
err:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return fail(u, "cannot write %s/%s: %s", shown, DROPIN, strerror(e ? e : EIO));
}

static int do_enable(struct uctx *u, const char *lib, char **envs, size_t n_env, bool now)
{
	char upath[PATH_MAX], dname[300], shown[PATH_MAX * 2], text[16384], *utext;
	struct dropin *dl = NULL;
	bool masked, made_dir = false;
	long nd;
	int rc = 1, efd = -1, dfd = -1;

	utext = find_unit(u, upath, sizeof(upath), &masked);
	if (masked)
		return fail(u, "unit '%s' is masked (%s%s): nothing to enable", u->unit, u->rootp,
			    upath);
	if (!utext)
		return fail(u, "unit '%s' not found in %s%s%s", u->unit, UNIT_PATHS,
			    u->root ? " under " : "",
			    u->root ? (u->rootp[0] ? u->rootp : "/") : "");
	if (!parse_unit_text(u, utext, upath)) {
		free(utext);
		return fail(u, "out of memory");
	}
	free(utext);
	nd = list_dropins(u, &dl);
	if (nd < 0)
		return fail(u, "out of memory");
	for (long i = 0; i < nd; i++) {
		int fd = root_open(u, dl[i].path, O_RDONLY);
		char *t = fd >= 0 ? slurp(fd) : NULL;

		if (!t)
			continue;
		if (!(!strcmp(dl[i].name, DROPIN) && is_ours(t)) &&
		    !parse_unit_text(u, t, dl[i].path)) {
			free(t);
			free(dl);
			return fail(u, "out of memory");
		}
		free(t);
	}
	free(dl);

	if (!u->n_exec)
		return fail(u, "%s has no ExecStart=: no program to run under libpageflex.so",
			    u->unit);
	for (size_t i = 0; i < u->n_exec; i++)
		if (check_program(u, u->exec[i], u->exec_src[i]))
			return 1;
	if (u->lp_src[0])
		return fail(u,
			    "%s: refused: %s%s sets LD_PRELOAD in Environment= already; ours "
			    "would replace it",
			    u->unit, u->rootp, u->lp_src);
	for (size_t i = 0; i < u->n_envfiles; i++)
		if (check_envfile(u, u->envfiles[i]))
			return 1;

	/* The library, as the service will see it. */
	{
		struct stat st;
		int fd = root_open(u, lib, O_PATH);

		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			return fail(u,
				    "library %s%s is not a regular file (install PageFlex or "
				    "give --lib PATH)",
				    u->rootp, lib);
		}
		close(fd);
	}

	snprintf(text, sizeof(text), "%s\n[Service]\n", HEADER);
	{
		char lp[PATH_MAX + 16];

		snprintf(lp, sizeof(lp), "LD_PRELOAD=%s", lib);
		if (!append_env(text, sizeof(text), lp))
			return fail(u, "the drop-in is too long");
	}
	for (size_t i = 0; i < n_env; i++)
		if (!append_env(text, sizeof(text), envs[i]))
			return fail(u, "the drop-in is too long");

	/* Everything checked: write. */
	snprintf(dname, sizeof(dname), "%s.d", u->unit);
	snprintf(shown, sizeof(shown), "%s" ETC_UNITS "/%s", u->rootp, dname);
	efd = open_etc_units(u, true);
	if (efd < 0)
		return fail(u, "cannot create %s" ETC_UNITS ": %s", u->rootp, strerror(errno));
	dfd = openat(efd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0 && errno == ENOENT) {
		if (mkdirat(efd, dname, 0755)) {
			fail(u, "cannot create %s: %s", shown, strerror(errno));
			goto out;
		}
		made_dir = true;
		dfd = openat(efd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (dfd < 0) {
		fail(u, "cannot open %s: %s", shown, strerror(errno));
		goto out;
	}
	{
		/* Never overwrite a pageflex.conf that someone else wrote. */
		int fd = openat(dfd, DROPIN, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		char *t = fd >= 0 ? slurp(fd) : NULL;

		if (t && !is_ours(t)) {
			free(t);
			fail(u, "%s/%s exists and was not written by pageflexctl; not replaced",
			     shown, DROPIN);
			goto out;
		}
		free(t);
	}
	if (write_dropin(u, dfd, text, shown))
		goto out;
	if (made_dir)
		fsync(efd);
	made_dir = false;
	printf("enabled %s: wrote %s/%s\n", u->unit, shown, DROPIN);
	fflush(stdout);
	rc = tell_systemd(u, now);
out:
	if (made_dir) /* nothing half-written: undo the empty directory */
		unlinkat(efd, dname, AT_REMOVEDIR);
	if (dfd >= 0)
		close(dfd);
	close(efd);
	return rc;
}

static int do_disable(struct uctx *u, bool now)
{
	char upath[PATH_MAX], dname[300], shown[PATH_MAX * 2], *utext, *t;
	bool masked, exists;
	int efd, dfd, fd, rc;

	utext = find_unit(u, upath, sizeof(upath), &masked);
	exists = utext || masked;
	free(utext);
	snprintf(dname, sizeof(dname), "%s.d", u->unit);
	snprintf(shown, sizeof(shown), "%s" ETC_UNITS "/%s", u->rootp, dname);
	efd = open_etc_units(u, false);
	dfd = efd >= 0 ? openat(efd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) : -1;
	fd = dfd >= 0 ? openat(dfd, DROPIN, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd < 0) {
		if (dfd >= 0)
			close(dfd);
		if (efd >= 0)
			close(efd);
		if (!exists)
			return fail(u, "unit '%s' not found in %s%s%s", u->unit, UNIT_PATHS,
				    u->root ? " under " : "",
				    u->root ? (u->rootp[0] ? u->rootp : "/") : "");
		printf("%s is not enabled (no %s/%s): nothing to do\n", u->unit, shown, DROPIN);
		return 0;
	}
	t = slurp(fd);
	if (!t || !is_ours(t)) {
		free(t);
		close(dfd);
		close(efd);
		return fail(u, "%s/%s was not written by pageflexctl enable; not removed", shown,
			    DROPIN);
	}
	free(t);
	if (unlinkat(dfd, DROPIN, 0)) {
		fail(u, "cannot remove %s/%s: %s", shown, DROPIN, strerror(errno));
		close(dfd);
		close(efd);
		return 1;
	}
	fsync(dfd);
	close(dfd);
	/* The directory goes too if that leaves it empty. */
	if (!unlinkat(efd, dname, AT_REMOVEDIR))
		fsync(efd);
	close(efd);
	printf("disabled %s: removed %s/%s%s\n", u->unit, shown, DROPIN,
	       !exists ? " (the unit itself no longer exists)" : "");
	fflush(stdout);
	rc = tell_systemd(u, now);
	return rc;
}

int ctl_unit_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"root", required_argument, NULL, 'r'}, {"lib", required_argument, NULL, 'l'},
		{"env", required_argument, NULL, 'e'},	{"now", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},	{0},
	};
	struct uctx u = {.cmd = argv[0], .rootfd = -1};
	bool enable = !strcmp(argv[0], "enable"), now = false;
	const char *lib = PAGEFLEX_INSTALLED_LIB, *unit = NULL;
	char **envs = NULL, libabs[PATH_MAX];
	size_t n_env = 0;
	int c, rc;

	optind = 0; /* a fresh scan of this command's own arguments */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:h", lo, NULL)) != -1) {
		switch (c) {
		case 1:
			if (unit) {
				rc = fail(&u, "unexpected '%s' (one UNIT only)", optarg) + 1;
				goto out;
			}
			unit = optarg;
			break;
		case 'r':
			u.root = optarg;
			break;
		case 'l':
		case 'e':
			if (!enable) {
				rc = fail(&u, "--%s is for enable only", c == 'l' ? "lib" : "env") +
				     1;
				goto out;
			}
			if (c == 'l') {
				lib = optarg;
				break;
			}
			{
				const char *eq = strchr(optarg, '=');
				size_t nl = eq ? (size_t)(eq - optarg) : 0, k;
				bool known = false;

				if (!eq || nl <= 9 || strncmp(optarg, "PAGEFLEX_", 9) ||
				    strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
						   "vwxyz0123456789_") != nl) {
					rc = fail(&u,
						  "--env wants PAGEFLEX_NAME=VALUE (a variable of "
						  "libpageflex.so), got '%s'",
						  optarg) +
					     1;
					goto out;
				}
				for (const char *s = eq + 1; *s; s++)
					if ((unsigned char)*s < 0x20 || *s == 0x7f) {
						rc = fail(&u,
							  "--env %.*s: the value has a control "
							  "character",
							  (int)nl, optarg) +
						     1;
						goto out;
					}
				for (k = 0; k < sizeof(shim_vars) / sizeof(shim_vars[0]); k++)
					known |= strlen(shim_vars[k]) == nl &&
						 !strncmp(shim_vars[k], optarg, nl);
				if (!known)
					fprintf(stderr,
						"pageflexctl: %s: warning: libpageflex.so does not "
						"read %.*s\n",
						u.cmd, (int)nl, optarg);
				if (!push(&envs, &n_env, optarg)) {
					rc = fail(&u, "out of memory");
					goto out;
				}
			}
			break;
		case 'n':
			now = true;
			break;
		case 'h':
			printf("Usage:\n");
			ctl_unit_usage(stdout);
			rc = 0;
			goto out;
		case ':':
			rc = fail(&u, "option '%s' wants a value", argv[optind - 1]) + 1;
			goto out;
		default:
			rc = fail(&u, "unknown option '%s' (usage: %s)", argv[optind - 1],
				  enable ? "enable UNIT [--root DIR] [--lib PATH] [--env "
					   "NAME=VALUE]... [--now]" :
					   "disable UNIT [--root DIR] [--now]") +
			     1;
			goto out;
		}
	}
	if (!unit) {
		rc = fail(&u, "which unit? (usage: %s UNIT ...)", u.cmd) + 1;
		goto out;
	}
	if ((rc = set_unit(&u, unit)))
		goto out;
	if (u.root) {
		size_t l;

		if (!realpath(u.root, u.rootp)) {
			rc = fail(&u, "--root %s: %s", u.root, strerror(errno));
			goto out;
		}
		l = strlen(u.rootp);
		if (l == 1) /* --root / */
			u.rootp[0] = 0;
	}
	u.rootfd = open(u.root ? u.root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0) {
		rc = fail(&u, "--root %s: %s", u.root, strerror(errno));
		goto out;
	}
	if (enable) {
		if (lib[0] != '/') {
			if (u.root || !realpath(lib, libabs)) {
				rc = fail(&u, "--lib %s: %s", lib,
					  u.root ? "wants an absolute path under --root" :
						   strerror(errno));
				goto out;
			}
			lib = libabs;
		}
		if (strpbrk(lib, " \t:\n")) {
			/* The loader splits LD_PRELOAD at spaces and colons. */
			rc = fail(&u, "--lib %s: the path must not contain a space or ':'", lib);
			goto out;
		}
		rc = do_enable(&u, lib, envs, n_env, now);
	} else {
		rc = do_disable(&u, now);
	}
out:
	if (u.rootfd >= 0)
		close(u.rootfd);
	clear(&envs, &n_env);
	clear(&u.exec, &u.n_exec);
	clear(&u.exec_src, &u.n_src);
	clear(&u.envfiles, &u.n_envfiles);
	return rc;
}
