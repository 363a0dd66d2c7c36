#!/usr/bin/env bash
# Tests scripts/swap-setup.sh for real: run twice, it leaves exactly one
# managed zram swap (and one swap file with --disk); --teardown removes just
# those and leaves every other swap and zram device as it was. Uses its own
# state dir, so it never tears down the swap that other tests rely on.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (swapon, zram-control)"; exit 77; }
[ -e /sys/class/zram-control/hot_add ] || { echo "SKIP: kernel has no zram-control"; exit 77; }

SRC=${PAGEFLEX_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
tmp=$(mktemp -d)
export PAGEFLEX_STATE_DIR=$tmp/state PAGEFLEX_ZRAM_SIZE=64M
export PAGEFLEX_SWAPFILE=$tmp/swapfile PAGEFLEX_SWAPFILE_SIZE=32M
script=$SRC/scripts/swap-setup.sh
cleanup() { bash "$script" --teardown >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

swaps() { awk 'NR>1 {print $1}' /proc/swaps | sort; }
zram_sizes() { for d in /sys/block/zram*; do echo "$d $(cat "$d/disksize")"; done | sort; }
before_swaps=$(swaps)
before_zram=$(zram_sizes)

bash "$script" --disk
bash "$script" --disk
dev=$(sed -n 's/^zram=//p' "$PAGEFLEX_STATE_DIR/swap.state")
[ -n "$dev" ] || fail "no zram device recorded"
[ "$(swaps | grep -cx "/dev/$dev")" = 1 ] || fail "/dev/$dev is not swap exactly once"
[ "$(swaps | grep -cx "$PAGEFLEX_SWAPFILE")" = 1 ] || fail "swap file is not swap exactly once"
grep -q '\[lz4\]' "/sys/block/$dev/comp_algorithm" || fail "$dev is not lz4"
[ "$(cat /sys/block/$dev/disksize)" = $((64 << 20)) ] || fail "$dev has the wrong size"
prio=$(awk -v d="/dev/$dev" '$1 == d {print $5}' /proc/swaps)
fprio=$(awk -v d="$PAGEFLEX_SWAPFILE" '$1 == d {print $5}' /proc/swaps)
[ "$prio" -gt "$fprio" ] || fail "zram priority $prio should be above disk priority $fprio"
bash "$script" --status | grep "/dev/$dev" >/dev/null || fail "--status does not show $dev"

bash "$script" --teardown
# Everything that was swap before still is; what we added is gone. (Other
# processes may add swap meanwhile, so the lists are not compared whole.)
[ -z "$(comm -23 <(echo "$before_swaps") <(swaps))" ] || fail "teardown removed foreign swap"
! swaps | grep -qx -e "/dev/$dev" -e "$PAGEFLEX_SWAPFILE" || fail "teardown left our swap on"
[ ! -e "/sys/block/$dev" ] || fail "$dev was not removed"
[ "$(zram_sizes)" = "$before_zram" ] || fail "other zram devices changed"
[ ! -e "$PAGEFLEX_SWAPFILE" ] || fail "swap file left behind"

# It refuses a swap file it did not create.
touch "$PAGEFLEX_SWAPFILE"
if bash "$script" --disk --no-zram 2>/dev/null; then fail "took over a foreign swap file"; fi
[ -f "$PAGEFLEX_SWAPFILE" ] || fail "deleted a foreign file"
echo "swap-setup: idempotent, one zram ($dev) + one file, teardown restored the machine's swap"
