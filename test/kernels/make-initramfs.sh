#!/usr/bin/env bash
# Kernel matrix, host side: builds the guest's initramfs for one unpacked
# kernel: a static busybox, test/kernels/init, and the modules needed to reach
# the shared host root (virtio_pci, virtiofs, overlay, with their
# dependencies, in load order). Modules are decompressed here because busybox
# insmod cannot read .ko.xz/.ko.zst; modules built into the kernel are skipped.
# Usage: make-initramfs.sh ROOT KVER OUT.cpio.gz
set -euo pipefail

root=${1:?usage: make-initramfs.sh ROOT KVER OUT}
kver=${2:?usage: make-initramfs.sh ROOT KVER OUT}
out=${3:?usage: make-initramfs.sh ROOT KVER OUT}
here=$(cd "$(dirname "$0")" && pwd)
MODULES=(virtio_pci virtiofs overlay)

die() { echo "make-initramfs: $*" >&2; exit 1; }

bb=$(command -v busybox || true)
[ -n "$bb" ] && ! ldd "$bb" >/dev/null 2>&1 ||
	die "no static busybox on this host: apt-get install busybox-static (scripts/install-deps.sh)"

dir=$(mktemp -d /tmp/pageflex-initramfs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,dev,proc,sys,modules,mnt/lower,mnt/rw,mnt/root}
cp "$bb" "$dir/bin/busybox"
for a in sh mount umount insmod mkdir cat sleep switch_root poweroff; do
	ln -s busybox "$dir/bin/$a"
done
mknod -m 600 "$dir/dev/console" c 5 1
install -m 755 "$here/init" "$dir/init"

kos=()
for m in "${MODULES[@]}"; do
	deps=$(modprobe -d "$root" -S "$kver" --show-depends "$m" 2>&1) ||
		die "module $m not found for $kver in $root (a kernel without virtiofs or overlayfs?)"
	mapfile -t -O ${#kos[@]} kos < <(awk '$1 == "insmod" {print $2}' <<<"$deps")
done
declare -A seen=()
n=0
for ko in "${kos[@]}"; do
	[ -z "${seen[$ko]:-}" ] || continue
	seen[$ko]=1
	n=$((n + 1))
	dst=$dir/modules/$(printf %02d $n)-$(basename "${ko%%.ko*}").ko
	case $ko in
	*.ko) cp "$ko" "$dst" ;;
	*.ko.xz) xz -dc "$ko" >"$dst" || die "cannot decompress $ko: apt-get install xz-utils" ;;
	*.ko.zst) zstd -qdc "$ko" >"$dst" || die "cannot decompress $ko: apt-get install zstd" ;;
	*.ko.gz) gzip -dc "$ko" >"$dst" ;;
	*) die "unknown module format: $ko" ;;
	esac
done
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
