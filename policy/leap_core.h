/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Leap's prefetch core (Maruf & Chowdhury, ATC'20), written once for both
 * BPF C (the fault path, pf_leap in bpf/pageflex_agent.bpf.c) and user C (pageflex-sim and the
 * agent, leap.c), so both make the very same decisions.
 *
 * On every swap-in fault of a region Leap records the delta to the previous
 * fault in a ring of LEAP_HIST deltas. On a miss (not a prefetch hit) it
 * looks for a trend: the Boyer-Moore majority of the last 4 deltas, else of
 * the last 8, 16, 32 (the recent past wins). With a trend it prefetches
 * `pw` pages along it; the window grows to the next power of two above the
 * prefetch hits since the previous miss, is 2 for a new trend, and halves
 * when the previous window was useless. With no majority it prefetches
 * nothing, so a random pattern stops prefetching.
 *
 * Ahead of the hits (as the kernel's async readahead does): a prefetch hit
 * with fewer pages of the window left ahead of it than the window would
 * grow by extends the window along the trend by twice the last extension
 * (up to the cap), so reads stay in flight while the program consumes the
 * pages already in: a long trend misses once, and the disk has up to
 * 2 * max_pw reads queued instead of one miss's window at a time.
 *
 * BPF rules kept here: no division by a signed value, every loop bounded by
 * a constant, every ring index masked, everything __always_inline but
 * leap_majority (a global function in BPF, see there), no helpers. State
 * is plain fixed-width fields.
 */
#ifndef PAGEFLEX_LEAP_CORE_H
#define PAGEFLEX_LEAP_CORE_H

#ifndef __bpf__
#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

/* A fresh load the compiler may not cache in a register (see leap_majority). */
#define LEAP_LOAD(x) (*(volatile __typeof__(x) *)&(x))

#define LEAP_HIST 32 /* deltas kept (power of two) */
#define LEAP_FIRST_WINDOW 4 /* smallest window searched for a majority */
#define LEAP_NEW_TREND_PW 2 /* prefetch window for a newly found trend */
#define LEAP_MAX_PW 256 /* largest window any caller may configure */

struct leap_state {
	__s64 hist[LEAP_HIST];
	__u64 last_page;
	__s64 trend; /* trend of the previous miss, 0: none */
	__u64 win_start; /* last window issued: win_start + k * win_stride, 1 <= k <= win_count */
	__s64 win_stride;
	__u32 win_count;
	__u32 head; /* next ring slot */
	__u32 count; /* valid deltas, <= LEAP_HIST */
	__u32 pw; /* current prefetch window */
	__u32 hits; /* prefetch hits since the previous miss */
	__u32 nfaults;
	__s64 mj_cand; /* scratch of leap_majority (see there) */
	__u32 mj_votes;
	__u32 mj_n;
	__u32 mj_w;
	__u32 mj_pad;
};

/* What to fetch: start + k * stride for 1 <= k <= count. */
struct leap_decision {
	__u64 start;
	__s64 stride;
	__u32 count;
	__u32 trend_window; /* window the trend was found in, 0: none */
};

/* Shared with the fault path's users (fixed-width, no padding holes). */
#define LEAP_BPF_MAX_REGIONS 64
#define LEAP_BPF_MAX_TRACE 4096

/* A region the fault path runs Leap on ([start, end), page-aligned): one
 * slot of leap_regions, named by leap_slot[id] (bpf/pageflex_agent.bpf.c). */
struct leap_region {
	__u64 start, end;
	__u32 max_pw; /* largest prefetch window, pages */
	__u32 id; /* the agent's region id, echoed in events */
	__u32 tgid; /* process the range belongs to */
	__u32 pad;
};

/* A prefetch decision from the fault path (ring buffer record). */
struct leap_event {
	__u64 addr; /* first page to fetch: fault page + stride */
	__s64 stride_bytes;
	__u32 count;
	__u32 region_id;
	__u32 tgid;
	__u32 pad;
};

/* One entry of a replayed trace (the test path). */
struct leap_trace_ent {
	__u64 page;
	__u32 hit;
	__u32 pad;
};

static __always_inline void leap_init(struct leap_state *s)
{
	__u32 i;

	for (i = 0; i < LEAP_HIST; i++)
		s->hist[i] = 0;
	s->last_page = 0;
	s->trend = 0;
	s->win_start = 0;
	s->win_stride = 0;
	s->win_count = 0;
	s->head = 0;
	s->count = 0;
	s->pw = 0;
	s->hits = 0;
	s->nfaults = 0;
	s->mj_cand = 0;
	s->mj_votes = 0;
	s->mj_n = 0;
	s->mj_w = 0;
	s->mj_pad = 0;
}

/* The i-th most recent delta (0: newest). */
static __always_inline __s64 leap_delta(const struct leap_state *s, __u32 i)
{
	return s->hist[(s->head - 1 - i) & (LEAP_HIST - 1)];
}

/*
 * In BPF a global function: the verifier checks it once, on its own, not
 * once per call and per path into it. In user C an inline function.
 */
#ifdef __bpf__
#define LEAP_VERIFIED_ONCE __attribute__((noinline))
#else
#define LEAP_VERIFIED_ONCE static __always_inline
#endif

/*
 * Majority of the last w deltas (w <= LEAP_HIST), 0 if none. The running
 * candidate and counts live in the state, not in locals: the BPF verifier
 * tracks locals exactly and would explore one path per vote count and per
 * window length, but it treats loads from map memory as unknown, so each
 * loop is checked about once.
 */
LEAP_VERIFIED_ONCE __s64 leap_majority(struct leap_state *s, __u32 w)
{
	__u32 i;

	if (!s) /* a global BPF function must check its pointers */
		return 0;

	s->mj_cand = 0;
	s->mj_votes = 0;
	s->mj_n = 0;
	s->mj_w = w;
	for (i = 0; i < LEAP_HIST; i++) {
		__s64 d;

		if (i >= LEAP_LOAD(s->mj_w))
			break;
		d = leap_delta(s, i);
		if (LEAP_LOAD(s->mj_votes) == 0) {
			s->mj_cand = d;
			s->mj_votes = 1;
		} else if (d == LEAP_LOAD(s->mj_cand)) {
			s->mj_votes++;
		} else {
			s->mj_votes--;
		}
	}
	for (i = 0; i < LEAP_HIST; i++) {
		if (i >= LEAP_LOAD(s->mj_w))
			break;
		if (leap_delta(s, i) == LEAP_LOAD(s->mj_cand))
			s->mj_n++;
	}
	return 2 * LEAP_LOAD(s->mj_n) > LEAP_LOAD(s->mj_w) ? LEAP_LOAD(s->mj_cand) : 0;
}

/* Searches windows of 4, 8, 16, 32 deltas; returns the trend, sets *window. */
static __always_inline __s64 leap_find_trend(struct leap_state *s, __u32 *window)
{
	__u32 w = LEAP_FIRST_WINDOW, k;

	*window = 0;
	if (s->count < 2)
		return 0;
	for (k = 0; k < 4; k++) {
		__u32 n = w < s->count ? w : s->count;
		__s64 t = leap_majority(s, n);

		if (t) {
			*window = n;
			return t;
		}
		if (w >= s->count)
			break;
		w *= 2;
	}
	return 0;
}

static __always_inline __u32 leap_roundup_pow2(__u32 v)
{
	__u32 r = 1, k;

	for (k = 0; k < 31; k++) {
		if (r >= v)
			break;
		r <<= 1;
	}
	return r;
}

/* Position k (1..win_count) of page in the last window issued (its
 * extensions included), 0 if it is not in it. */
static __always_inline __u64 leap_window_pos(const struct leap_state *s, __u64 page)
{
	__u64 d, stride, k;

	if (!s->win_count || !s->win_stride)
		return 0;
	if (s->win_stride > 0) {
		d = page - s->win_start;
		stride = (__u64)s->win_stride;
	} else {
		d = s->win_start - page;
		stride = (__u64)(-s->win_stride);
	}
	if ((__s64)d <= 0 || d % stride)
		return 0;
	k = d / stride;
	return k <= s->win_count ? k : 0;
}

/* Whether page lies in the last window issued (lets a caller that cannot see
 * the swap cache, such as the BPF fault path, classify a fault as a hit). */
static __always_inline int leap_in_window(const struct leap_state *s, __u64 page)
{
	return leap_window_pos(s, page) != 0;
}

/*
 * A hit at position k of the window: if fewer pages than the next extension
 * are left ahead of it, extends the window by that many along its stride
 * (fills *out, returns the count), else returns 0.
 */
static __always_inline __u32 leap_extend(struct leap_state *s, __u64 k, __u32 max_pw,
					 struct leap_decision *out)
{
	__u32 n = s->pw ? s->pw * 2 : 1;

	if (n > max_pw)
		n = max_pw;
	if (!k || s->win_count - k >= n || s->win_count > 0x7fffffffu - n)
		return 0;
	out->start = s->win_start + (__u64)((__s64)s->win_count * s->win_stride);
	out->stride = s->win_stride;
	out->count = n;
	s->win_count += n;
	s->pw = n;
	return n;
}

/*
 * One swap-in fault on page; hit: it was a prefetch hit. Fills *out (count 0
 * when nothing is to be fetched) and returns out->count. max_pw caps the
 * window (clamped to 1..LEAP_MAX_PW).
 */
static __always_inline __u32 leap_fault(struct leap_state *s, __u64 page, int hit, __u32 max_pw,
					struct leap_decision *out)
{
	__u32 window = 0, pw;
	__s64 trend;

	if (max_pw < 1)
		max_pw = 1;
	if (max_pw > LEAP_MAX_PW)
		max_pw = LEAP_MAX_PW;
	if (s->nfaults) {
		s->hist[s->head & (LEAP_HIST - 1)] = (__s64)(page - s->last_page);
		s->head = (s->head + 1) & (LEAP_HIST - 1);
		if (s->count < LEAP_HIST)
			s->count++;
	}
	s->last_page = page;
	s->nfaults++;
	out->start = page;
	out->stride = 0;
	out->count = 0;
	out->trend_window = 0;
	if (hit) {
		s->hits++;
		return leap_extend(s, leap_window_pos(s, page), max_pw, out);
	}

	trend = leap_find_trend(s, &window);
	if (!trend) {
		pw = 0;
	} else if (s->hits) {
		pw = leap_roundup_pow2(s->hits + 1);
	} else if (trend != s->trend) {
		pw = LEAP_NEW_TREND_PW;
	} else {
		pw = s->pw / 2;
		/* A trend the most recent deltas agree on keeps probing. */
		if (!pw && window <= LEAP_FIRST_WINDOW)
			pw = 1;
	}
	if (pw > max_pw)
		pw = max_pw;
	s->trend = trend;
	s->pw = pw;
	s->hits = 0;
	s->win_start = page;
	s->win_stride = trend;
	s->win_count = pw;
	out->stride = trend;
	out->count = pw;
	out->trend_window = window;
	return pw;
}

#endif
