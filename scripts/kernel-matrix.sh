#!/usr/bin/env bash
# `make kernel-matrix`: boots Debian's own stock cloud kernels (the newest 6.12
# and 6.1 of Debian 12) under QEMU and runs a subset of PageFlex's tests in
# each, one boot per kernel, because PageFlex must work on kernels other than
# the one this machine runs. Kernels are downloaded and unpacked into a cache,
# never installed. The helpers and guest-side scripts are in test/kernels/.
# Exit status: 0 every required step passed, 1 something failed, 77 the
# matrix cannot run here (one line says why: not root, no QEMU, no kernel).
set -euo pipefail

# The matrix, the one place to change what must pass where. Per kernel: the
# series (a name), the Debian package (extended regex; the newest match in
# apt's lists is used) and the steps that must pass on it: "all" or a list.
# Steps not listed still run and are reported, but cannot fail the run.
# PAGEFLEX_KM_REQUIRE_<series, dots as underscores> overrides one kernel's
# list, e.g. PAGEFLEX_KM_REQUIRE_6_1="swap scanner".
MATRIX=(
	"6.12	linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned	all"
	"6.1	linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned	all"
)
# Every step, in the order the guest runs them (test/kernels/guest-steps.sh).
ALL_STEPS="swap check margins scanner faultclass leap coldage caps demo"

usage() {
	cat <<USAGE
Usage: kernel-matrix.sh [OPTIONS] [BUILD_DIR]

Boots each kernel of the matrix under QEMU (TCG, one vCPU; the host root is
shared read-only through virtiofs with a tmpfs overlay on top) and runs, in
one boot per kernel, these steps of BUILD_DIR (default: build):
  swap        PageFlex's zram swap (scripts/swap-setup.sh)
  check       pageflexd --check
  margins     test_bpf_margins: every BPF program under 200,000 verified insns
  scanner     test_agent_scanner, scanner/every_third_page_of_256mib_exact
  faultclass  test_agent_faultclass
  leap        test_agent_leap_fault_path: Leap on the fault path (pf_leap or
              pf_leap_compat) decides as the C code on real swap faults
  coldage     test_agent, agent/cold_age_idle_out_hot_kept (cold region
              PAGEFLEX_TEST_COLD_MIB=${KM_COLD_MIB:-64} MiB: emulation pages out slowly)
  demo        scripts/demo.sh
then prints a table per kernel and step. Needs root, qemu-system-x86,
busybox-static, kmod and cpio (scripts/install-deps.sh installs them).

Kernels (newest Debian 12 package of each; which steps must pass: MATRIX at
the top of this script):
$(printf '%s\n' "${MATRIX[@]}" | awk -F'\t' '{printf "  %-5s %s  (required: %s)\n", $1, $2, $3}')

  -k, --kernels LIST    series to run, comma-separated (default: all)
  -s, --steps LIST      steps to run, comma-separated (default: all)
  -m, --memory MIB      guest memory (default $MEM)
  -t, --timeout SEC     a guest still running after SEC is killed (default $TIMEOUT)
      --step-timeout S  one step running longer is killed (default $STEP_TIMEOUT)
  -j, --jobs N          guests booted at once (default $JOBS; each takes one core)
      --cpu MODEL       QEMU -cpu (default $CPU: TCG, 5-level paging; max,la57=off: 4-level)
  -o, --out DIR         keep every log in DIR (default: a temporary directory,
                        removed when everything passed)
  -h, --help            this text

Environment: PAGEFLEX_KERNEL_CACHE (downloaded kernels, default
/var/cache/pageflex/kernels), PAGEFLEX_KM_REQUIRE_<series>, KM_COLD_MIB.
Exit status: 0 passed, 1 a required step (or a boot) failed, 77 skipped.
USAGE
}

MEM=3072
TIMEOUT=300
STEP_TIMEOUT=180
JOBS=1
CPU=max
OUT=
KERNELS=
STEPS=$ALL_STEPS
BUILD=build

die() { echo "kernel-matrix: $*" >&2; exit 1; }
skip() { echo "kernel-matrix: SKIP: $*"; exit 77; }

while [ $# -gt 0 ]; do
	case $1 in
	-k | --kernels) KERNELS=${2//,/ }; shift ;;
	-s | --steps) STEPS=${2//,/ }; shift ;;
	-m | --memory) MEM=$2; shift ;;
	-t | --timeout) TIMEOUT=$2; shift ;;
	--step-timeout) STEP_TIMEOUT=$2; shift ;;
	-j | --jobs) JOBS=$2; shift ;;
	--cpu) CPU=$2; shift ;;
	-o | --out) OUT=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "kernel-matrix: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) BUILD=$1 ;;
	esac
	shift
done
for s in $STEPS; do
	[[ " $ALL_STEPS " == *" $s "* ]] || die "unknown step '$s' (steps: $ALL_STEPS)"
done
for n in "$MEM" "$TIMEOUT" "$STEP_TIMEOUT" "$JOBS"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive number (see --help)"
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
KDIR=$SRC/test/kernels
[ -d "$BUILD" ] || die "build directory $BUILD does not exist: build first (make build)"
BUILD=$(cd "$BUILD" && pwd)
for f in bin/pageflexd bin/pageflexctl bin/pageflex_demo_workload test-bin/test_agent \
	test-bin/test_agent_scanner test-bin/test_agent_faultclass test-bin/test_agent_leap_fault_path \
	test-bin/test_bpf_margins; do
	[ -x "$BUILD/$f" ] || die "$BUILD/$f is missing: build first (make build)"
done

# The guests see the host's root filesystem only (not other mounts).
for d in "$SRC" "$BUILD"; do
	[ "$(findmnt -n -o TARGET -T "$d")" = / ] ||
		die "$d is not on the root filesystem ($(findmnt -n -o TARGET -T "$d")): the guests cannot see it; build on /"
done

# What the matrix needs on the host; without it the matrix skips.
[ "$(id -u)" -eq 0 ] || skip "needs root (virtiofsd shares the host root, the guests load BPF)"
for t in qemu-system-x86_64:qemu-system-x86 /usr/lib/qemu/virtiofsd:qemu-system-common \
	busybox:busybox-static modprobe:kmod depmod:kmod cpio:cpio xz:xz-utils \
	apt-get:apt dpkg-deb:dpkg; do
	command -v "${t%%:*}" >/dev/null ||
		skip "${t%%:*} not found: apt-get install ${t#*:} (or run scripts/install-deps.sh)"
done

# The selected rows of MATRIX.
rows=()
for r in "${MATRIX[@]}"; do
	series=${r%%$'\t'*}
	if [ -z "$KERNELS" ] || [[ " $KERNELS " == *" $series "* ]]; then
		rows+=("$r")
	fi
done
for k in $KERNELS; do
	printf '%s\n' "${MATRIX[@]}" | cut -f1 | grep -qx "$k" ||
		die "no kernel '$k' in the matrix (have: $(printf "%s\n" "${MATRIX[@]}" | cut -f1 | paste -sd" "))"
done

if [ -n "$OUT" ]; then
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	keep=1
else
	OUT=$(mktemp -d /tmp/pageflex-kernels.XXXXXX)
	keep=0
fi

jobs_pids=()
jobs_series=()
# shellcheck disable=SC2317 # called by the EXIT trap
stop_jobs() {
	local p
	for p in "${jobs_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop_jobs EXIT
trap 'exit 130' INT TERM

# Fetch every kernel first (downloads are quick; a missing one skips).
declare -A KVER=() KROOT=() UNAVAILABLE=()
for r in "${rows[@]}"; do
	IFS=$'\t' read -r series pkg _ <<<"$r"
	rc=0
	got=$(bash "$KDIR/fetch-kernel.sh" "$pkg" 2>"$OUT/fetch-$series.log") || rc=$?
	if [ $rc -eq 77 ]; then
		UNAVAILABLE[$series]=$(tail -n1 "$OUT/fetch-$series.log")
		echo "kernel-matrix: $series: ${UNAVAILABLE[$series]}"
		continue
	fi
	[ $rc -eq 0 ] || die "fetching $series failed: $(tail -n1 "$OUT/fetch-$series.log")"
	read -r "KVER[$series]" "KROOT[$series]" <<<"$got"
done
[ ${#KVER[@]} -gt 0 ] || skip "no kernel of the matrix can be had: ${UNAVAILABLE[*]}"

t_all=$(date +%s)
echo "kernel-matrix: ${#KVER[@]} kernel(s), steps: $STEPS; logs in $OUT"
for r in "${rows[@]}"; do
	series=${r%%$'\t'*}
	[ -n "${KVER[$series]:-}" ] || continue
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n || true
	done
	echo "kernel-matrix: booting ${KVER[$series]}"
	mkdir -p "$OUT/$series"
	echo "${KVER[$series]}" >"$OUT/$series/kver"
	KM_SRC=$SRC KM_BUILD=$BUILD KM_STEPS=$STEPS KM_STEP_TIMEOUT=$STEP_TIMEOUT \
		KM_TIMEOUT=$TIMEOUT KM_MEM=$MEM KM_CPU=$CPU KM_COLD_MIB=${KM_COLD_MIB:-64} \
		bash "$KDIR/boot.sh" "${KVER[$series]}" "${KROOT[$series]}" "$OUT/$series" \
		>"$OUT/boot-$series.log" 2>&1 &
	jobs_pids+=($!)
	jobs_series+=("$series")
done
for i in "${!jobs_pids[@]}"; do
	wait "${jobs_pids[$i]}" || true
	s=${jobs_series[$i]}
	echo "kernel-matrix: ${KVER[$s]}: $(cut -d' ' -f1,2 "$OUT/$s/status" 2>/dev/null ||
		echo "boot.sh failed: $(tail -n1 "$OUT/boot-$s.log")")s"
done
jobs_pids=()
wall_all=$(($(date +%s) - t_all))

bash "$KDIR/report.sh" "$OUT" "$STEPS" "${rows[@]}" && rc=0 || rc=$?
echo "kernel-matrix: total ${wall_all}s for ${#KVER[@]} kernel(s)"
[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && echo "kernel-matrix: logs in $OUT"
if [ "$rc" -eq 0 ] && [ ${#UNAVAILABLE[@]} -gt 0 ]; then
	rc=77
	echo "kernel-matrix: SKIP: not every kernel could be had: ${UNAVAILABLE[*]}"
fi
[ $keep -eq 1 ] || [ "$rc" -ne 0 ] || rm -rf "$OUT"
exit "$rc"
