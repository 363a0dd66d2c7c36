#!/usr/bin/env bash
# Kernel matrix, host side: finds the newest Debian package matching a name
# pattern (apt-cache), downloads it into a cache (apt-get download) and
# unpacks it there (dpkg-deb -x, then depmod on the unpacked tree). The kernel
# is never installed on the host: QEMU boots the unpacked vmlinuz and the
# guest bind-mounts the unpacked modules.
# Usage: fetch-kernel.sh PACKAGE_REGEX
# Prints "KVER ROOT" (the module directory name and the unpacked tree).
# Exit 77 with one line when no such package can be had (offline, no match).
set -euo pipefail

CACHE=${PAGEFLEX_KERNEL_CACHE:-/var/cache/pageflex/kernels}
re=${1:?usage: fetch-kernel.sh PACKAGE_REGEX}

skip() { echo "fetch-kernel: $*" >&2; exit 77; }
die() { echo "fetch-kernel: $*" >&2; exit 1; }

newest_known() {
	apt-cache pkgnames linux-image- 2>/dev/null | grep -E "^$re\$" | sort -V | tail -n1
}
newest_cached() {
	local f
	for f in "$CACHE"/*.deb; do
		[ -e "$f" ] && basename "$f" | cut -d_ -f1
	done | grep -E "^$re\$" | sort -V | tail -n1 || true
}

download() { (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$1" >/dev/null 2>&1); }

mkdir -p "$CACHE" ||
	die "cannot create $CACHE: set PAGEFLEX_KERNEL_CACHE to a writable directory"
pkg=$(newest_known || true)
if [ -z "$pkg" ]; then
	# Empty package lists (fresh container): refresh them once.
	apt-get update -qq >/dev/null 2>&1 || true
	pkg=$(newest_known || true)
fi
[ -n "$pkg" ] || pkg=$(newest_cached)
[ -n "$pkg" ] ||
	skip "no package matches '$re' in apt's lists or in $CACHE (offline? apt-get update)"

deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$deb" ]; then
	if ! download "$pkg"; then
		# Stale lists name a version the mirror no longer has: refresh once.
		apt-get update -qq >/dev/null 2>&1 || true
		fresh=$(newest_known || true)
		if [ -n "$fresh" ] && download "$fresh"; then
			pkg=$fresh
		else
			# Offline: the newest version already in the cache will do.
			[ -n "$(newest_cached)" ] ||
				skip "apt-get download $pkg failed (offline or mirror unreachable)"
			pkg=$(newest_cached)
			echo "fetch-kernel: cannot download, using the cached $pkg" >&2
		fi
	fi
	deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $CACHE"
fi

root=$CACHE/$pkg
stamp=$root/.unpacked
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(basename "$deb")" ]; then
	rm -rf "$root" "$root.tmp"
	dpkg-deb -x "$deb" "$root.tmp" || die "dpkg-deb -x $deb failed: delete it and run again"
	mv "$root.tmp" "$root"
	basename "$deb" >"$stamp"
fi
# Older versions of the same series are not needed any more.
for f in "$CACHE"/*; do
	n=$(basename "$f" | cut -d_ -f1)
	if [ "$n" != "$pkg" ] && [[ $n =~ ^$re$ ]]; then rm -rf "$f"; fi
done
kver=$(ls "$root/lib/modules" 2>/dev/null | head -n1)
[ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] ||
	die "$deb has no lib/modules/VERSION or boot/vmlinuz-VERSION: not a kernel image package"
if [ ! -f "$root/lib/modules/$kver/modules.dep" ]; then
	depmod -b "$root" "$kver" || die "depmod -b $root $kver failed (is kmod installed?)"
fi
echo "$kver $root"
