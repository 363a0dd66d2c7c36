#!/usr/bin/env bash
# Sets up the swap tiers PageFlex pages out to, idempotently:
#   - a zram device of its own (hot_add, lz4) as high-priority swap: the
#     compressed-memory tier;
#   - optionally a swap file on disk as a lower-priority, SSD-like tier.
# It records what it created in a state file and never touches swap devices,
# zram devices or DAMON state that it did not create.
set -euo pipefail

STATE_DIR=${PAGEFLEX_STATE_DIR:-/run/pageflex}
STATE=$STATE_DIR/swap.state
LOCK=$STATE_DIR/swap.lock
ZRAM_SIZE=${PAGEFLEX_ZRAM_SIZE:-4G}
DISK_FILE=${PAGEFLEX_SWAPFILE:-/var/lib/pageflex/swapfile}
DISK_SIZE=${PAGEFLEX_SWAPFILE_SIZE:-2G}
ZRAM_PRIO=100
DISK_PRIO=10

usage() {
	cat <<USAGE
Usage: swap-setup.sh [--size SIZE] [--disk [--disk-size SIZE]]
       swap-setup.sh --status | --teardown [--disk-only]

Sets up PageFlex's own zram swap device (lz4, default $ZRAM_SIZE, priority
$ZRAM_PRIO) and, with --disk, a swap file ($DISK_FILE, default $DISK_SIZE,
priority $DISK_PRIO) as a slower SSD-like tier. Idempotent: a second run
changes nothing. Needs root.

  --size SIZE       zram size (env PAGEFLEX_ZRAM_SIZE), e.g. 4G, 512M
  --disk            also set up the disk swap file
  --disk-size SIZE  swap file size (env PAGEFLEX_SWAPFILE_SIZE)
  --no-zram         with --disk: only the disk tier
  --status          show what this script manages and the machine's swap
  --teardown        remove only what this script created
  --disk-only       with --teardown: remove only the disk swap file
  -h, --help        this text

State: $STATE (what was created; /run is cleared at boot, as swap is).
USAGE
}

die() { echo "swap-setup: $*" >&2; exit 1; }

# bytes from 4G / 512M / 1024K / plain bytes
to_bytes() {
	local v=$1 n unit
	[[ $v =~ ^([0-9]+)([KMGkmg]?)$ ]] || die "bad size '$v' (want e.g. 4G, 512M)"
	n=${BASH_REMATCH[1]}
	unit=${BASH_REMATCH[2]^^}
	case $unit in
	K) echo $((n << 10)) ;;
	M) echo $((n << 20)) ;;
	G) echo $((n << 30)) ;;
	*) echo "$n" ;;
	esac
}

state_get() { [ -f "$STATE" ] && sed -n "s/^$1=//p" "$STATE" | tail -n1 || true; }
state_set() {
	local tmp
	tmp=$(mktemp "$STATE_DIR/.swap.state.XXXXXX")
	{ [ -f "$STATE" ] && grep -v "^$1=" "$STATE" || true; } >"$tmp"
	[ -n "$2" ] && echo "$1=$2" >>"$tmp"
	mv "$tmp" "$STATE"
}
is_swap() { awk 'NR>1 {print $1}' /proc/swaps | grep -qx "$1"; }

zram_up() {
	local dev bytes
	dev=$(state_get zram)
	if [ -n "$dev" ] && [ -e "/sys/block/$dev" ] && is_swap "/dev/$dev"; then
		return 0
	fi
	if [ -n "$dev" ] && [ -e "/sys/block/$dev" ]; then
		# Ours but not swapping (half-done earlier run): start it over.
		swapoff "/dev/$dev" 2>/dev/null || true
		echo 1 >"/sys/block/$dev/reset"
	else
		[ -e /sys/class/zram-control/hot_add ] || modprobe zram num_devices=0 2>/dev/null ||
			true
		[ -e /sys/class/zram-control/hot_add ] ||
			die "no /sys/class/zram-control: the kernel has no zram (CONFIG_ZRAM)"
		dev=zram$(cat /sys/class/zram-control/hot_add)
		state_set zram "$dev"
	fi
	bytes=$(to_bytes "$ZRAM_SIZE")
	if grep -qw lz4 "/sys/block/$dev/comp_algorithm"; then
		echo lz4 >"/sys/block/$dev/comp_algorithm"
	else
		echo "swap-setup: lz4 not offered by zram, keeping $(cat /sys/block/$dev/comp_algorithm)" >&2
	fi
	echo "$bytes" >"/sys/block/$dev/disksize"
	[ -b "/dev/$dev" ] || mknod "/dev/$dev" b "$(cut -d: -f1 "/sys/block/$dev/dev")" \
		"$(cut -d: -f2 "/sys/block/$dev/dev")"
	mkswap -q "/dev/$dev" >/dev/null
	swapon -p "$ZRAM_PRIO" "/dev/$dev"
}

disk_up() {
	local bytes
	if [ "$(state_get disk)" = "$DISK_FILE" ] && is_swap "$DISK_FILE"; then
		return 0
	fi
	if [ "$(state_get disk)" != "$DISK_FILE" ] && [ -e "$DISK_FILE" ]; then
		die "$DISK_FILE exists but was not created by this script; refusing to touch it"
	fi
	state_set disk "$DISK_FILE"
	bytes=$(to_bytes "$DISK_SIZE")
	mkdir -p "$(dirname "$DISK_FILE")"
	rm -f "$DISK_FILE"
	# dd, not fallocate: a swap file must have no holes or unwritten extents.
	dd if=/dev/zero of="$DISK_FILE" bs=1M count=$((bytes >> 20)) status=none
	chmod 600 "$DISK_FILE"
	mkswap -q "$DISK_FILE" >/dev/null
	swapon -p "$DISK_PRIO" "$DISK_FILE"
}

teardown() {
	local dev file
	if [ "$disk_only" = 0 ]; then
		dev=$(state_get zram)
		if [ -n "$dev" ]; then
			if is_swap "/dev/$dev"; then swapoff "/dev/$dev"; fi
			if [ -e "/sys/block/$dev" ]; then
				echo 1 >"/sys/block/$dev/reset"
				echo "${dev#zram}" >/sys/class/zram-control/hot_remove
			fi
			state_set zram ""
		fi
	fi
	file=$(state_get disk)
	if [ -n "$file" ]; then
		if is_swap "$file"; then swapoff "$file"; fi
		rm -f "$file"
		state_set disk ""
	fi
}

status() {
	local dev file
	dev=$(state_get zram)
	file=$(state_get disk)
	echo "managed by pageflex (state $STATE):"
	if [ -n "$dev" ] && [ -e "/sys/block/$dev" ]; then
		printf '  zram   /dev/%s  %s  algo=%s  swap=%s\n' "$dev" \
			"$(numfmt --to=iec "$(cat /sys/block/$dev/disksize)")" \
			"$(grep -o '\[[a-z0-9-]*\]' /sys/block/$dev/comp_algorithm | tr -d '[]')" \
			"$(is_swap "/dev/$dev" && echo on || echo off)"
	else
		echo "  zram   none"
	fi
	if [ -n "$file" ]; then
		printf '  disk   %s  swap=%s\n' "$file" "$(is_swap "$file" && echo on || echo off)"
	else
		echo "  disk   none"
	fi
	echo "all swap on the machine:"
	sed 's/^/  /' /proc/swaps
}

want_zram=1 want_disk=0 action=up disk_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--size) ZRAM_SIZE=${2:?--size needs a value}; shift ;;
	--disk) want_disk=1 ;;
	--disk-size) DISK_SIZE=${2:?--disk-size needs a value}; shift ;;
	--no-zram) want_zram=0 ;;
	--status) action=status ;;
	--teardown) action=teardown ;;
	--disk-only) disk_only=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done
to_bytes "$ZRAM_SIZE" >/dev/null
to_bytes "$DISK_SIZE" >/dev/null

[ "$(id -u)" -eq 0 ] || die "needs root (swapon, zram-control)"
mkdir -p "$STATE_DIR"
exec 9>"$LOCK"
flock 9

case $action in
status) status ;;
teardown) teardown ;;
up)
	[ "$want_zram" = 1 ] && zram_up
	[ "$want_disk" = 1 ] && disk_up
	;;
esac
exit 0
