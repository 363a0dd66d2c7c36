#!/usr/bin/env bash
# `make demo`: sets up PageFlex's zram swap, runs the main job end to end and
# prints its result. Today's main job: the BPF fault counter on a process that
# touches a known number of pages (proves BPF, skeletons and swap work here).
# It grows with the project (agent + workload under LD_PRELOAD).
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (BPF programs, swap set-up): run it as root" >&2
	exit 1
fi
echo "== swap"
bash scripts/swap-setup.sh
bash scripts/swap-setup.sh --status
echo "== BPF page_fault_user counter on a process touching 4096 fresh pages"
"$BUILD"/test-bin/test_bpf_fault_count --verbose 2>&1 | grep -E 'touched|PASS|FAIL'
