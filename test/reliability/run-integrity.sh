#!/usr/bin/env bash
# Runs pf-integrity inside a cgroup v1 memory limit of its own, so the kernel
# pages its data out to zram and back in while the writers run, then checks
# that every byte survived AND that heavy paging really happened (the run
# fails if too little was swapped: a test that did not page proves nothing).
#
# Usage: run-integrity.sh [--limit-mib M] [--min-swap-pct P] [-- pf-integrity options]
#   --limit-mib M      cgroup memory limit (default 256)
#   --min-swap-pct P   fail unless the peak of swapped data reached P% of
#                      (size - limit) (default 50; 0 disables the check)
#   --wrap CMD         run the workload as `CMD pf-integrity ...` (e.g. env
#                      LD_PRELOAD=...); may be repeated, words are kept as given
# Exit: 0 ok, 1 data lost or too little paging, 77 skipped (not root, no
# cgroup v1 memory controller, not enough free swap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${PAGEFLEX_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${PAGEFLEX_BUILD_DIR:-$src/build}/bin/pf-integrity
limit_mib=256 min_swap_pct=50 wrap=()

while [ $# -gt 0 ]; do
	case $1 in
	--limit-mib) limit_mib=$2; shift ;;
	--min-swap-pct) min_swap_pct=$2; shift ;;
	--wrap) wrap+=("$2"); shift ;;
	--) shift; break ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
	shift
done
args=("$@")

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (cgroup memory limit, swap)"
cgroot=/sys/fs/cgroup/memory
[ -w "$cgroot/cgroup.procs" ] || skip "no writable cgroup v1 memory controller at $cgroot"
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }

if [ "$(awk 'NR > 1' /proc/swaps | wc -l)" -eq 0 ]; then
	"$src/scripts/swap-setup.sh" >&2 || skip "scripts/swap-setup.sh could not set up swap"
fi

# Size of the run, from the options (pf-integrity's default is 1024 MiB).
size_mib=1024
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	-s | --size) size_mib=${args[i + 1]} ;;
	--size=*) size_mib=${args[i]#--size=} ;;
	esac
done
need_mib=$((size_mib - limit_mib + 64))
free_mib=$(($(awk '/^SwapFree:/ {print $2}' /proc/meminfo) / 1024))
[ "$free_mib" -ge "$need_mib" ] || skip "needs $need_mib MiB of free swap, $free_mib MiB free"

cg=$cgroot/pageflex-integrity-$$-$RANDOM
cleanup() {
	if [ -d "$cg" ]; then
		# Anything still in the group is ours: end it by pid, then remove it.
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	fi
}
trap cleanup EXIT
mkdir "$cg"
echo $((limit_mib << 20)) >"$cg/memory.limit_in_bytes"
echo 100 >"$cg/memory.swappiness" 2>/dev/null || true

out=$(mktemp /tmp/pf-integrity.XXXXXX)
echo "run-integrity: cgroup $cg limit ${limit_mib} MiB: ${wrap[*]} $bin ${args[*]}"
set +e
bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "${wrap[@]}" "$bin" \
	"${args[@]}" | tee "$out"
rc=${PIPESTATUS[0]}
set -e
peak_mib=$(($(cat "$cg/memory.max_usage_in_bytes") >> 20))
majflt=$(awk '$1 == "total_pgmajfault" {print $2}' "$cg/memory.stat")
echo "run-integrity: cgroup peak usage ${peak_mib} MiB of ${limit_mib} MiB, major faults ${majflt:-?}"

result=$(grep '^RESULT wl=integrity' "$out" || true)
rm -f "$out"
if [ -z "$result" ]; then
	echo "FAIL: pf-integrity printed no RESULT line (exit $rc)"
	exit 1
fi
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
if [ "$rc" -ne 0 ] || [ "$(field ok)" != 1 ] || [ "$(field mismatches)" != 0 ]; then
	echo "FAIL: data lost or corrupted under paging (exit $rc, mismatches $(field mismatches))"
	exit 1
fi
swap_peak=$(field swap_peak_mib)
want=$(((size_mib - limit_mib) * min_swap_pct / 100))
if [ "$swap_peak" -lt "$want" ]; then
	echo "FAIL: only ${swap_peak} MiB were ever swapped out, want >= ${want} MiB: no heavy paging"
	exit 1
fi
echo "run-integrity: OK: $(field bytes_verified) bytes verified at the end," \
	"$(field bytes_checked_during_run) checked during the run, 0 mismatches," \
	"swap peak ${swap_peak} MiB, ${majflt:-?} major faults"
