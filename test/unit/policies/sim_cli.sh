#!/usr/bin/env bash
# pageflex-sim from the command line: --help, errors that name the valid
# choices, a generated trace written and replayed with the same result as
# the in-memory generator, and a truncated trace reported with its offset.
set -u
sim="$PAGEFLEX_BUILD_DIR/bin/pageflex-sim"
tmp=$(mktemp -d /tmp/pf-sim-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$sim" --help | grep -q "Usage: pageflex-sim" || fail "--help"
"$sim" --help | grep -q "hyperbolic" || fail "--help lists the policies"
out=$("$sim" --gen seq -r lruu 2>&1) && fail "accepted a bad policy"
echo "$out" | grep -q "unknown reclaim policy 'lruu' (valid: kernel, cold-age, lru, lfu, hyperbolic, min)" || fail "bad policy message: $out"
out=$("$sim" --gen zipf:colour=1 2>&1) && fail "accepted a bad generator key"
echo "$out" | grep -q "unknown generator key 'colour'" || fail "bad key message: $out"
out=$("$sim" --gen seq -P cold_age=1 2>&1) && fail "accepted a bad parameter"
echo "$out" | grep -q "valid: cold_age_ms" || fail "bad parameter message: $out"

spec="zipf:pages=2048,accesses=50000,s=0.9"
"$sim" --gen "$spec" --write "$tmp/z.pftrace" || fail "--write"
a=$("$sim" --gen "$spec" --budget 30 -r hyperbolic --csv | tail -1 | cut -d, -f2-)
b=$("$sim" --trace "$tmp/z.pftrace" --budget 30 -r hyperbolic --csv | tail -1 | cut -d, -f2-)
[ "$a" = "$b" ] || fail "replayed trace differs: '$a' vs '$b'"
b=$("$sim" --trace "$tmp/z.pftrace" --budget 30 -r min --csv | tail -1 | cut -d, -f7)
[ "$b" -gt 0 ] || fail "MIN on a file"

# --compare wants a live recording; a generated trace says what it lacks.
out=$("$sim" --trace "$tmp/z.pftrace" --compare 2>&1) && fail "--compare accepted a generated trace"
echo "$out" | grep -q "needs a live recording" || fail "--compare message: $out"
out=$("$sim" --trace "$tmp/z.pftrace" 2>&1) || fail "replay"
echo "$out" | grep -q "^replay: version 3 trace: ticks modelled every 10 ms; no residency" ||
	fail "the report does not say what a non-live trace lacks: $out"

# Cut the file 10 bytes into the 101st access record.
size=$((64 + 232 + 100 * 32 + 10))
truncate -s $size "$tmp/z.pftrace"
out=$("$sim" --trace "$tmp/z.pftrace" 2>&1) && fail "accepted a truncated trace"
echo "$out" | grep -q "offset $((64 + 232 + 100 * 32)): truncated record" || fail "truncation message: $out"
echo "ok"
