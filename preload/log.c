// SPDX-License-Identifier: MIT
/*
 * Logging of the shim: one line per call, written with a raw write(2) to
 * stderr. Hooks may log, so this uses no stdio and no malloc: a small
 * formatter for the few conversions the shim needs (%s %.*s %c %d %u %x %p
 * with l/ll/z modifiers) writes into a stack buffer.
 */
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pf_internal.h"

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, bool neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		put(o, '-');
	while (n)
		put(o, tmp[--n]);
}

int pf_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = {buf, cap, 0};

	for (; *fmt; fmt++) {
		int lng = 0, prec = -1;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (fmt[0] == '.' && fmt[1] == '*') {
			prec = va_arg(ap, int);
			fmt += 2;
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (!s)
				s = "(null)";
			for (int i = 0; s[i] && (prec < 0 || i < prec); i++)
				put(&o, s[i]);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);

			put_num(&o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10,
				v < 0);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v =
				lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);

			put_num(&o, v, *fmt == 'x' ? 16 : 10, false);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, false);
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			if (!*fmt)
				fmt--;
			break;
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return (int)o.len;
}

int pf_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = pf_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void pfs_log(int level, const char *fmt, ...)
{
	char line[512];
	size_t n;
	va_list ap;

	if (pf_cfg.log < level)
		return;
	n = (size_t)pf_fmt(line, sizeof(line), "pageflex[%d]: ", (int)syscall(SYS_getpid));
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	va_start(ap, fmt);
	n += (size_t)pf_vfmt(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* A failed or short write to stderr is not the shim's business. */
	if (syscall(SYS_write, 2, line, n) < 0)
		return;
}

uint16_t pf_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
	return (uint16_t)n;
}
