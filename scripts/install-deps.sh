#!/usr/bin/env bash
# Installs the Debian 12 packages that PageFlex's build, tests, demo and
# benchmarks need. Idempotent: asks dpkg first and calls apt-get only for what
# is missing, so a second run costs a few milliseconds. Quiet unless it fails.
set -euo pipefail

PKGS=(
	# build
	build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
	libjemalloc-dev libjemalloc2 libunwind-dev libyaml-dev liblz4-dev
	# tests
	libcriterion-dev libclang-rt-14-dev
	# install and packaging: man pages from --help, the unit's checker
	# (systemd-analyze), the manifest test's YAML reader
	help2man systemd python3-yaml bash-completion man-db
	# real programs run under the shim, and benchmark workloads
	python3 sqlite3 git redis-server redis-tools memcached
	# swap set-up and measuring
	util-linux procps gnuplot-nox
	# kernel matrix (scripts/kernel-matrix.sh): QEMU with its virtiofsd, the
	# guests' busybox initramfs, unpacking and depmod of the kernel packages
	qemu-system-x86 busybox-static kmod cpio xz-utils
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (or apt-get install them)" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install-deps: installing ${missing[*]}" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-deps: apt-get failed (log above)" >&2
	exit 1
fi
# redis-server/memcached packages start system services; our tests start
# their own on loopback with their own ports, so the packaged ones are stopped.
for svc in redis-server memcached; do
	if printf '%s\n' "${missing[@]}" | grep -qx "$svc"; then
		(command -v systemctl >/dev/null && systemctl disable --now "$svc" >/dev/null 2>&1) || true
	fi
done
