// SPDX-License-Identifier: MIT
/*
 * Unit tests of the wire protocol: every record round-trips through the
 * encoder and the validating decoder, and malformed packets are refused with
 * a reason instead of being half-applied.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pageflex_wire.h"

static _Alignas(8) unsigned char pkt[PFW_MAX_PACKET];

struct seen {
	struct pfw_event ev[16];
	char strs[16][64];
	int n;
};

static int collect(const struct pfw_event *ev, void *arg)
{
	struct seen *s = arg;

	if (s->n >= 16)
		return -1;
	s->ev[s->n] = *ev;
	if (ev->type == PFW_REGION_MAP)
		snprintf(s->strs[s->n], 64, "%.*s|%.*s|%.*s", (int)ev->map.tag_len, ev->map.tag,
			 (int)ev->map.module_len, ev->map.module, (int)ev->map.path_len,
			 ev->map.path);
	else if (ev->type == PFW_PHASE)
		snprintf(s->strs[s->n], 64, "%.*s", (int)ev->phase.name_len, ev->phase.name);
	s->n++;
	return 0;
}

Test(wire, roundtrip_every_record)
{
	struct pfw_buf b;
	struct seen s = {0};
	size_t len;

	pfw_buf_init(&b, pkt, sizeof(pkt), 7);
	cr_assert_eq(pfw_put_hello(&b, 42, 1, PFW_HELLO_REPLAY, "/bin/app", 8), 0);
	cr_assert_eq(pfw_put_region_map(&b, 0x7f0000000000, 1 << 20, PFW_KIND_FILE, 3, "idx", 3,
					"/lib/x.so", 9, 0x1234, "/data", 5),
		     0);
	cr_assert_eq(pfw_put_range(&b, PFW_REGION_UNMAP, 0x7f0000001000, 4096), 0);
	cr_assert_eq(pfw_put_range(&b, PFW_REGION_DISCARD, 0x7f0000002000, 8192), 0);
	cr_assert_eq(pfw_put_phase(&b, 3, "query", 5), 0);
	cr_assert_eq(pfw_put_dropped(&b, 99), 0);
	len = pfw_buf_finish(&b);
	cr_assert_eq(len % 8, 0);

	cr_assert_null(pfw_decode(pkt, len, 7, collect, &s));
	cr_assert_eq(s.n, 6);
	cr_assert_eq(s.ev[0].type, PFW_HELLO);
	cr_assert_eq(s.ev[0].hello.pid, 42);
	cr_assert_eq(s.ev[0].hello.flags, PFW_HELLO_REPLAY);
	cr_assert_eq(s.ev[1].type, PFW_REGION_MAP);
	cr_assert_eq(s.ev[1].map.start, 0x7f0000000000ull);
	cr_assert_eq(s.ev[1].map.len, 1u << 20);
	cr_assert_eq(s.ev[1].map.kind, PFW_KIND_FILE);
	cr_assert_eq(s.ev[1].map.callsite_off, 0x1234);
	cr_assert_str_eq(s.strs[1], "idx|/lib/x.so|/data");
	cr_assert_eq(s.ev[2].type, PFW_REGION_UNMAP);
	cr_assert_eq(s.ev[3].type, PFW_REGION_DISCARD);
	cr_assert_eq(s.ev[3].range.len, 8192);
	cr_assert_str_eq(s.strs[4], "query");
	cr_assert_eq(s.ev[4].phase.seq, 3);
	cr_assert_eq(s.ev[5].dropped.events, 99);
}

Test(wire, encoder_refuses_bad_ranges_and_full_buffers)
{
	struct pfw_buf b;
	int i, rc = 0;

	pfw_buf_init(&b, pkt, 256, 0);
	cr_assert_eq(pfw_put_range(&b, PFW_REGION_UNMAP, 4097, 4096), -EINVAL);
	cr_assert_eq(pfw_put_range(&b, PFW_REGION_UNMAP, 4096, 0), -EINVAL);
	cr_assert_eq(pfw_put_range(&b, PFW_PHASE, 4096, 4096), -EINVAL);
	cr_assert_eq(pfw_put_range(&b, PFW_REGION_UNMAP, UINT64_MAX & ~4095ull, 8192), -EINVAL);
	cr_assert_eq(pfw_put_region_map(&b, 0, 4096, 0, 0, "", 0, "", 0, 0, "", 0), -EINVAL);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = pfw_put_range(&b, PFW_REGION_UNMAP, 4096, 4096);
	cr_assert_eq(rc, -ENOSPC);
	cr_assert_leq(b.len, 256);
	cr_assert_null(pfw_validate(pkt, pfw_buf_finish(&b), 0));
}

Test(wire, long_strings_are_truncated_not_refused)
{
	char tag[200];
	struct pfw_buf b;
	struct seen s = {0};

	memset(tag, 'a', sizeof(tag));
	pfw_buf_init(&b, pkt, sizeof(pkt), 0);
	cr_assert_eq(pfw_put_phase(&b, 1, tag, sizeof(tag)), 0);
	cr_assert_null(pfw_decode(pkt, pfw_buf_finish(&b), 0, collect, &s));
	cr_assert_eq(s.ev[0].phase.name_len, PFW_MAX_TAG);
}

static size_t one_map(uint32_t seq)
{
	struct pfw_buf b;

	pfw_buf_init(&b, pkt, sizeof(pkt), seq);
	pfw_put_region_map(&b, 0x10000, 0x10000, PFW_KIND_ANON, 3, "t", 1, "m", 1, 0, "", 0);
	return pfw_buf_finish(&b);
}

Test(wire, decoder_rejects_malformed_packets)
{
	size_t len = one_map(0);
	struct pfw_packet *p = (void *)pkt;
	struct pfw_region_map *m = (void *)(pkt + sizeof(*p));

	cr_assert_null(pfw_validate(pkt, len, 0));
	cr_assert_str_eq(pfw_validate(pkt, len, 1), "packet sequence number out of order");
	cr_assert_null(pfw_validate(pkt, len, PFW_SEQ_ANY));
	cr_assert_str_eq(pfw_validate(pkt, 3, 0), "packet too short");
	cr_assert_str_eq(pfw_validate(pkt, len - 8, 0), "packet length mismatch");

	p->magic ^= 1;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "bad magic");
	p->magic ^= 1;
	p->version = 2;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "unsupported protocol version");
	p->version = PFW_VERSION;

	m->tag_len = 60000;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "region strings out of bounds");
	m->tag_len = 1;
	m->kind = 77;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "region kind unknown");
	m->kind = PFW_KIND_ANON;
	m->start = 0x10001;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "region not page-aligned or empty");
	m->start = UINT64_MAX & ~4095ull;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "region wraps the address space");
	m->start = 0x10000;
	m->rec.len = 4;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "record length invalid");
	m->rec.len = 60000;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "record length invalid");
	m->rec.len = (uint16_t)(len - sizeof(*p));
	m->rec.type = 99;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "record type unknown");
	m->rec.type = PFW_REGION_MAP;
	p->nrec = 2;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "record header past end of packet");
	p->nrec = 0;
	cr_assert_str_eq(pfw_validate(pkt, len, 0), "trailing bytes after last record");
}

static int fail_second(const struct pfw_event *ev, void *arg)
{
	(void)ev;
	return ++*(int *)arg == 2;
}

Test(wire, nothing_is_delivered_from_an_invalid_packet)
{
	struct pfw_buf b;
	struct pfw_phase *first;
	int calls = 0;
	size_t len;

	pfw_buf_init(&b, pkt, sizeof(pkt), 0);
	pfw_put_phase(&b, 1, "a", 1);
	pfw_put_phase(&b, 2, "b", 1);
	len = pfw_buf_finish(&b);
	first = (struct pfw_phase *)(pkt + sizeof(struct pfw_packet));
	((struct pfw_phase *)((unsigned char *)first + first->rec.len))->name_len = 0;
	cr_assert_not_null(pfw_decode(pkt, len, 0, fail_second, &calls));
	cr_assert_eq(calls, 0, "a record of an invalid packet reached the callback");
}
