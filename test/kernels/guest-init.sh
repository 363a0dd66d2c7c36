#!/usr/bin/env bash
# Kernel matrix, guest side: PID 1 after switch_root into the overlay on the
# shared host root. Mounts what the tests need (tmpfs /tmp and /run, the
# kernel's debug/trace/bpf filesystems, cgroup2), the writable results share
# (virtiofs tag "kmout") on /run/km, the unpacked kernel's modules on
# /usr/lib/modules (so modprobe zram works), runs guest-steps.sh and powers
# off. Never exits: PID 1 exiting would panic the guest.
set -uo pipefail # no -e: PID 1 must always reach the power-off
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

off() {
	sync
	umount /run/km 2>/dev/null
	echo o >/proc/sysrq-trigger 2>/dev/null
	busybox poweroff -f
	sleep 60
}
fail() {
	echo "@km boot-failed: $*"
	off
}

mount -t tmpfs -o mode=755 run /run || fail "cannot mount /run"
mkdir -p /run/km /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t virtiofs kmout /run/km || fail "cannot mount the results share kmout"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
[ -f /run/km/env ] || fail "no /run/km/env from the host"
# shellcheck source=/dev/null
. /run/km/env
# A clean /tmp, unless the checkout or the build lives there (CI may clone
# into /tmp): then the overlay's /tmp (writable, on tmpfs) keeps them visible.
case "$KM_SRC/ $KM_BUILD/" in
/tmp/* | *" /tmp/"*) ;;
*) mount -t tmpfs -o mode=1777 tmp /tmp || fail "cannot mount /tmp" ;;
esac
mkdir -p /usr/lib/modules && mount --bind "$KM_MODULES" /usr/lib/modules ||
	fail "cannot bind-mount $KM_MODULES on /usr/lib/modules"
echo 1 >/proc/sys/kernel/sysrq
echo "@km booted $(uname -r) uptime $(cut -d' ' -f1 /proc/uptime) s"
echo "booted $(cut -d' ' -f1 /proc/uptime)" >>/run/km/results
bash "$KM_SRC/test/kernels/guest-steps.sh" 2>&1 | tee /run/km/steps.log
echo "done" >>/run/km/results
echo "@km done"
off
