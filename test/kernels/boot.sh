#!/usr/bin/env bash
# Kernel matrix, host side: boots one unpacked kernel under QEMU (TCG, one
# vCPU) and lets the guest run its steps. Two virtiofsd share the host root
# (read-only: a read-only bind mount in a private mount namespace, mounted
# read-only again in the guest) and OUT/guest (writable: the guest's
# results and logs). Kills QEMU after KM_TIMEOUT seconds and always ends
# every process it started.
# Usage: boot.sh KVER ROOT OUT; environment: KM_SRC KM_BUILD KM_STEPS
# KM_STEP_TIMEOUT KM_TIMEOUT KM_MEM (MiB) KM_CPU KM_COLD_MIB.
# Writes OUT/status: "ok|timeout|failed WALL_SECONDS NOTE".
set -euo pipefail

kver=${1:?usage: boot.sh KVER ROOT OUT}
root=${2:?usage: boot.sh KVER ROOT OUT}
out=${3:?usage: boot.sh KVER ROOT OUT}
here=$(cd "$(dirname "$0")" && pwd)
VIRTIOFSD=${PAGEFLEX_VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
QEMU=${PAGEFLEX_QEMU:-qemu-system-x86_64}

die() { echo "boot: $*" >&2; exit 1; }

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$out/guest" "$out/hostroot"
rm -f "$out/guest/results" "$out/status"
cat >"$out/guest/env" <<ENV
KM_SRC=$KM_SRC
KM_BUILD=$KM_BUILD
KM_STEPS="$KM_STEPS"
KM_STEP_TIMEOUT=$KM_STEP_TIMEOUT
KM_COLD_MIB=${KM_COLD_MIB:-64}
KM_MODULES=$root/lib/modules
ENV
bash "$here/make-initramfs.sh" "$root" "$kver" "$out/initrd.gz"

# The host root, read-only, through a private mount namespace (the bind of /
# is not recursive: /proc, /sys, /dev stay empty for the guest's own).
unshare -m --propagation private sh -c 'mount --bind / "$1" && mount -o remount,bind,ro "$1" &&
	exec "$2" --socket-path="$3" -o source="$1" -o cache=always' \
	sh "$out/hostroot" "$VIRTIOFSD" "$out/root.sock" 2>"$out/virtiofsd-root.log" &
pids+=($!)
"$VIRTIOFSD" --socket-path="$out/out.sock" -o source="$out/guest" -o cache=none \
	2>"$out/virtiofsd-out.log" &
pids+=($!)
for _ in $(seq 100); do
	[ -S "$out/root.sock" ] && [ -S "$out/out.sock" ] && break
	sleep 0.05
done
[ -S "$out/root.sock" ] && [ -S "$out/out.sock" ] ||
	die "virtiofsd did not start (see $out/virtiofsd-*.log)"

t0=$(date +%s%N)
timeout -k 5 "$KM_TIMEOUT" "$QEMU" -accel tcg -cpu "$KM_CPU" -smp 1 -m "${KM_MEM}M" \
	-object "memory-backend-memfd,id=mem,size=${KM_MEM}M,share=on" -numa node,memdev=mem \
	-kernel "$root/boot/vmlinuz-$kver" -initrd "$out/initrd.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4 pfkm_init=$here/guest-init.sh" \
	-chardev socket,id=fs0,path="$out/root.sock" -device vhost-user-fs-pci,chardev=fs0,tag=hostroot \
	-chardev socket,id=fs1,path="$out/out.sock" -device vhost-user-fs-pci,chardev=fs1,tag=kmout \
	-nodefaults -display none -no-reboot -serial "file:$out/console.log" \
	>"$out/qemu.log" 2>&1 &
qpid=$!
pids+=("$qpid")
rc=0
wait "$qpid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
wall=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))

res=$out/guest/results
if [ -f "$res" ] && grep -qx 'done' "$res"; then
	echo "ok $wall" >"$out/status"
elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	last=$(sed -n 's/^start //p' "$res" 2>/dev/null | tail -n1)
	echo "timeout $wall killed after ${KM_TIMEOUT}s${last:+ in step $last}" >"$out/status"
else
	why=$(grep -m1 -E '@km boot-failed|Kernel panic' "$out/console.log" 2>/dev/null ||
		tail -n1 "$out/qemu.log" 2>/dev/null || true)
	echo "failed $wall qemu exit $rc: ${why:-no output (see $out/console.log)}" >"$out/status"
fi
